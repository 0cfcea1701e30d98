"""A small trained attention encoder-decoder (Bahdanau) that writes dates as ISO dates, in NumPy.

The model reads a date written out in words (``tuesday · 25 · march · 2021``) and
writes its ISO form one character at a time (``2 0 2 1 - 0 3 - 2 5``); it was trained
by ``training/train_alignment.py`` and its weights ship beside this module
(``alignment_dates.npz``, float32, read with ``allow_pickle=False``).

Shape letters: B inputs in a batch, M input words, T = 10 output characters,
E/F the input/output embedding widths, h the encoder's width per direction (the
annotations are 2h wide), S the decoder's state width, A the scoring net's width.

- Encoder: word embeddings (B, M, E) -> a bidirectional GRU -> annotations (B, M, 2h).
- Decoder, step t: the scoring net of the sequence-attention page,
  ``score = v . tanh(s_{t-1} W_q + annotation W_k)``, run by
  :func:`attention_atlas.attention.additive_attention` over the annotations (padding
  masked), gives the weights (B, M) and the context (B, 2h); a GRU cell reads
  ``[embedding(y_{t-1}); context]`` into the state s_t (B, S); the character is
  ``argmax([s_t; context] W_o + b_o)`` (greedy decoding).

The alignment map of one input is its weights for the T steps: (T, M), one row per
character written, one column per word read.
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attention_atlas.attention import additive_attention
from attention_atlas.errors import AtlasError

__all__ = [
    "OUTPUT_LENGTH",
    "WEIGHTS_PATH",
    "AlignmentModel",
    "AlignmentUnavailable",
    "Translation",
    "load_alignment_model",
]

F64 = NDArray[np.float64]

#: The shipped weights.
WEIGHTS_PATH = Path(__file__).with_name("alignment_dates.npz")

#: Characters in an ISO date: every translation has exactly this many.
OUTPUT_LENGTH = 10


def _gru_shapes(prefix: str, inputs: str, hidden: str) -> dict[str, tuple[str, ...]]:
    """The four arrays of one GRU layer (see :func:`gru_cell`), named ``<prefix>_...``."""
    gates = f"3{hidden}"  # reset, update and new gates side by side
    return {
        f"{prefix}_w_ih": (inputs, gates),
        f"{prefix}_w_hh": (hidden, gates),
        f"{prefix}_b_ih": (gates,),
        f"{prefix}_b_hh": (gates,),
    }


#: Every array the weights file holds, with its shape in the letters above (V_s, V_t the
#: vocabulary sizes; the output embedding has one extra row, the start symbol).
SHAPES: dict[str, tuple[str, ...]] = {
    "source_vocab": ("V_s",),
    "target_vocab": ("V_t",),
    "src_embedding": ("V_s", "E"),
    **_gru_shapes("enc_fwd", "E", "h"),
    **_gru_shapes("enc_bwd", "E", "h"),
    "init_w": ("2h", "S"),
    "init_b": ("S",),
    "tgt_embedding": ("V_t+1", "F"),
    "att_w_q": ("S", "A"),
    "att_w_k": ("2h", "A"),
    "att_v": ("A",),
    **_gru_shapes("dec", "F+2h", "S"),
    "out_w": ("S+2h", "V_t"),
    "out_b": ("V_t",),
}


class AlignmentUnavailable(AtlasError):
    """The alignment model's weights file is missing or damaged."""


def _sigmoid(x: F64) -> F64:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # exact, and never overflows


def gru_cell(x: F64, state: F64, w_ih: F64, w_hh: F64, b_ih: F64, b_hh: F64) -> F64:
    """One GRU step with PyTorch's gate order (reset, update, new).

    Parameters
    ----------
    x : ndarray, shape (B, I)
    state : ndarray, shape (B, S)
    w_ih : ndarray, shape (I, 3S)
    w_hh : ndarray, shape (S, 3S)
    b_ih, b_hh : ndarray, shape (3S,)

    Returns
    -------
    ndarray, shape (B, S)
        ``(1 - z) n + z state`` with ``r, z = sigmoid(...)`` and
        ``n = tanh(x W_in + b_in + r (state W_hn + b_hn))``.
    """
    gi = x @ w_ih + b_ih  # (B, 3S)
    gh = state @ w_hh + b_hh  # (B, 3S)
    size = state.shape[-1]
    r = _sigmoid(gi[:, :size] + gh[:, :size])
    z = _sigmoid(gi[:, size : 2 * size] + gh[:, size : 2 * size])
    n = np.tanh(gi[:, 2 * size :] + r * gh[:, 2 * size :])
    return (1.0 - z) * n + z * state


@dataclass(frozen=True)
class Translation:
    """What :meth:`AlignmentModel.translate` returns for B inputs.

    Attributes
    ----------
    inputs : tuple of tuple of str
        The B inputs' words (M_b each).
    outputs : tuple of tuple of str
        The B translations' characters (T each).
    weights : ndarray, shape (B, T, M)
        Attention weights of step t over the words; zero on padding (columns
        past an input's length), every row sums to 1.
    """

    inputs: tuple[tuple[str, ...], ...]
    outputs: tuple[tuple[str, ...], ...]
    weights: F64

    def alignment(self, index: int) -> F64:
        """The (T, M_b) alignment map of input ``index``, padding removed."""
        return self.weights[index, :, : len(self.inputs[index])]

    def text(self, index: int) -> str:
        """Translation ``index`` as one string (``2021-03-25``)."""
        return "".join(self.outputs[index])


class AlignmentModel:
    """The trained date translator; build it with :func:`load_alignment_model`."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.source_vocab: tuple[str, ...] = tuple(str(w) for w in arrays["source_vocab"])
        self.target_vocab: tuple[str, ...] = tuple(str(c) for c in arrays["target_vocab"])
        self._ids = {w: i for i, w in enumerate(self.source_vocab)}
        self.p: dict[str, F64] = {
            k: np.asarray(v, dtype=np.float64) for k, v in arrays.items() if "vocab" not in k
        }

    def ids(self, inputs: Sequence[Sequence[str]]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Word ids (B, M) and a mask (B, M), True on real words; M is the longest input.

        Raises AtlasError naming the first word the model does not know.
        """
        if not inputs or any(len(words) == 0 for words in inputs):
            msg = "every input needs at least one word"
            raise AtlasError(msg)
        width = max(len(words) for words in inputs)
        ids = np.zeros((len(inputs), width), dtype=np.int64)
        mask = np.zeros((len(inputs), width), dtype=bool)
        for b, words in enumerate(inputs):
            for m, word in enumerate(words):
                if word not in self._ids:
                    msg = f"the date model does not know the word {word!r} (in {' '.join(words)!r})"
                    raise AtlasError(msg)
                ids[b, m] = self._ids[word]
            mask[b, : len(words)] = True
        return ids, mask

    def _direction(self, x: F64, mask: NDArray[np.bool_], name: str, *, reverse: bool) -> F64:
        """One direction of the encoder GRU, (B, M, E) -> (B, M, h); padding keeps the state."""
        p = self.p
        w_ih, w_hh = p[f"enc_{name}_w_ih"], p[f"enc_{name}_w_hh"]
        b_ih, b_hh = p[f"enc_{name}_b_ih"], p[f"enc_{name}_b_hh"]
        batch, width, _ = x.shape
        state = np.zeros((batch, w_hh.shape[0]))
        out = np.zeros((batch, width, w_hh.shape[0]))
        steps = range(width - 1, -1, -1) if reverse else range(width)
        for m in steps:  # a recurrence: one step per word
            new = gru_cell(x[:, m], state, w_ih, w_hh, b_ih, b_hh)
            state = np.where(mask[:, m, None], new, state)
            out[:, m] = state
        return out

    def encode(self, ids: NDArray[np.int64], mask: NDArray[np.bool_]) -> F64:
        """Annotations (B, M, 2h): forward and backward GRU states side by side."""
        x = self.p["src_embedding"][ids]  # (B, M, E)
        fwd = self._direction(x, mask, "fwd", reverse=False)
        bwd = self._direction(x, mask, "bwd", reverse=True)
        return np.concatenate([fwd, bwd], axis=-1)

    def decode(
        self, annotations: F64, mask: NDArray[np.bool_]
    ) -> tuple[NDArray[np.int64], F64, F64]:
        """Greedy decoding of T characters.

        Parameters
        ----------
        annotations : ndarray, shape (B, M, 2h)
        mask : ndarray of bool, shape (B, M)

        Returns
        -------
        chars : ndarray of int, shape (B, T)
            Indices into the target vocabulary.
        weights : ndarray, shape (B, T, M)
        logits : ndarray, shape (B, T, V_t)
        """
        p = self.p
        batch = annotations.shape[0]
        share = mask / mask.sum(axis=1, keepdims=True)  # (B, M): mean over real words
        state = np.tanh(np.einsum("bm,bmk->bk", share, annotations) @ p["init_w"] + p["init_b"])
        prev = np.full(batch, len(self.target_vocab))  # the start symbol
        chars, weights, logits = [], [], []
        for _t in range(OUTPUT_LENGTH):  # a recurrence: one step per character
            context, w = additive_attention(
                state[:, None, :],  # (B, 1, S): the query is the previous state
                annotations,
                p["att_w_q"],
                p["att_w_k"],
                p["att_v"],
                mask=mask[:, None, :],
            )  # (B, 1, 2h), (B, 1, M)
            context = context[:, 0]
            x = np.concatenate([p["tgt_embedding"][prev], context], axis=-1)
            state = gru_cell(x, state, p["dec_w_ih"], p["dec_w_hh"], p["dec_b_ih"], p["dec_b_hh"])
            step = np.concatenate([state, context], axis=-1) @ p["out_w"] + p["out_b"]
            prev = np.argmax(step, axis=-1)
            chars.append(prev)
            weights.append(w[:, 0])
            logits.append(step)
        return np.stack(chars, axis=1), np.stack(weights, axis=1), np.stack(logits, axis=1)

    def translate(self, inputs: Sequence[Sequence[str]]) -> Translation:
        """Translate B inputs (each a sequence of words) at once; see :class:`Translation`."""
        ids, mask = self.ids(inputs)
        chars, weights, _ = self.decode(self.encode(ids, mask), mask)
        outputs = tuple(tuple(self.target_vocab[c] for c in row) for row in chars)
        return Translation(tuple(tuple(w) for w in inputs), outputs, weights)


def _bad(path: Path, why: str) -> AlignmentUnavailable:
    msg = f"{path}: cannot read the date model's weights ({why}); reinstall the package"
    return AlignmentUnavailable(msg)


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """Every array of the weights file, checked against :data:`SHAPES`.

    Raises
    ------
    AlignmentUnavailable
        The file is missing, not an ``.npz``, lacks an array, or an array has the
        wrong rank, inconsistent sizes or non-finite values. One line, naming the file.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise _bad(path, "file not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(path, " ".join(str(exc).split()) or type(exc).__name__) from None
    sizes: dict[str, int] = {}
    for name, letters in SHAPES.items():
        if name not in arrays:
            raise _bad(path, f"no array {name!r}")
        array = arrays[name]
        if array.ndim != len(letters):
            raise _bad(path, f"{name} has shape {array.shape}, expected ({', '.join(letters)})")
        for letter, size in zip(letters, array.shape, strict=True):
            if sizes.setdefault(letter, size) != size:
                raise _bad(path, f"{name} has shape {array.shape}: {letter} is {sizes[letter]}")
        if "vocab" in name:
            if array.dtype.kind != "U":
                raise _bad(path, f"{name} holds {array.dtype}, expected strings")
        elif array.dtype.kind != "f" or not np.isfinite(array).all():
            raise _bad(path, f"{name} is not all finite floats")
    _check_widths(path, sizes)
    return arrays


def _check_widths(path: Path, sizes: Mapping[str, int]) -> None:
    """The widths that are sums or multiples of others: 2h, 3h, 3S, F+2h, S+2h, V_t+1."""
    h, s = sizes["h"], sizes["S"]
    expected = {
        "2h": 2 * h,
        "3h": 3 * h,
        "3S": 3 * s,
        "F+2h": sizes["F"] + 2 * h,
        "S+2h": s + 2 * h,
        "V_t+1": sizes["V_t"] + 1,
    }
    for letter, want in expected.items():
        if sizes[letter] != want:
            raise _bad(path, f"width {letter} is {sizes[letter]}, expected {want}")


@functools.lru_cache(maxsize=2)
def _load(path: Path) -> AlignmentModel:
    return AlignmentModel(read_weights(path))


def load_alignment_model(path: Path | None = None) -> AlignmentModel:
    """The trained date translator (the shipped weights unless ``path`` is given).

    Raises
    ------
    AlignmentUnavailable
        See :func:`read_weights`.
    """
    return _load(Path(path or WEIGHTS_PATH).resolve())


def weights_nbytes(path: Path | None = None) -> int:
    """Size of the weights file on disk, in bytes."""
    return Path(path or WEIGHTS_PATH).stat().st_size


def describe(model: AlignmentModel) -> dict[str, Any]:
    """Widths of the model (E, h, S, A, F) and its parameter count, for the page."""
    p = model.p
    return {
        "E": p["src_embedding"].shape[1],
        "h": p["enc_fwd_w_hh"].shape[0],
        "S": p["dec_w_hh"].shape[0],
        "A": p["att_v"].shape[0],
        "F": p["tgt_embedding"].shape[1],
        "parameters": int(sum(v.size for v in p.values())),
    }
