"""A BERT encoder forward pass in NumPy, with the pretrained all-MiniLM-L6-v2 weights.

Shape letters: L layers, H heads, N tokens, D model width (384 for MiniLM),
F feed-forward width (1536).

Every attention layer runs the core's kernel (``softmax(q k^T / sqrt(d)) v``, the
one behind :func:`attention_atlas.attention.scaled_dot_product_attention`): the
model is the site's own attention code running with real weights. Only the
projections around it are laid out for speed (see :meth:`Model.forward`).

Example (the first call fetches the weights into the user's cache)::

    enc = encode("The dog ran.")
    enc.tokens               # ('[CLS]', 'the', 'dog', 'ran', '.', '[SEP]')
    enc.attentions.shape     # (6, 12, 6, 6)   (L, H, N, N)
    enc.hidden_states.shape  # (7, 6, 384)     (L+1, N, D)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from safetensors import SafetensorError
from safetensors.numpy import load_file

from attention_atlas.attention._checks import check_finite
from attention_atlas.attention.softmax import softmax_inplace
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.models.activations import gelu
from attention_atlas.models.assets import MINILM, ModelUnavailable, ensure_model_files
from attention_atlas.models.normalization import layer_norm
from attention_atlas.models.tokenize import WordPieceTokenizer

__all__ = [
    "BertConfig",
    "Encoding",
    "LayerWeights",
    "Model",
    "encode",
    "load_minilm",
]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class BertConfig:
    """The architecture numbers read from a Hugging Face ``config.json``."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> BertConfig:
        """Build from a parsed ``config.json`` (a BERT with absolute positions and erf GELU)."""
        act = raw.get("hidden_act", "gelu")
        if act != "gelu":
            msg = f"config.json: hidden_act must be 'gelu' (erf GELU), got {act!r}"
            raise AtlasError(msg)
        pos = raw.get("position_embedding_type", "absolute")
        if pos != "absolute":
            msg = f"config.json: position_embedding_type must be 'absolute', got {pos!r}"
            raise AtlasError(msg)
        try:
            return cls(
                vocab_size=int(raw["vocab_size"]),  # type: ignore[call-overload]
                hidden_size=int(raw["hidden_size"]),  # type: ignore[call-overload]
                num_layers=int(raw["num_hidden_layers"]),  # type: ignore[call-overload]
                num_heads=int(raw["num_attention_heads"]),  # type: ignore[call-overload]
                intermediate_size=int(raw["intermediate_size"]),  # type: ignore[call-overload]
                max_position_embeddings=int(raw["max_position_embeddings"]),  # type: ignore[call-overload]
                type_vocab_size=int(raw["type_vocab_size"]),  # type: ignore[call-overload]
                layer_norm_eps=float(raw["layer_norm_eps"]),  # type: ignore[arg-type]
            )
        except KeyError as exc:
            msg = f"config.json: missing field {exc.args[0]!r}"
            raise AtlasError(msg) from exc

    @classmethod
    def from_file(cls, path: str | Path) -> BertConfig:
        """Read ``config.json``."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer, in the layout the forward pass multiplies fastest.

    Every matrix is the transposed view (Fortran order) of a C-contiguous array
    in the checkpoint's (out, in) layout, so it still multiplies on the right
    (``x @ w``) while the forward pass computes ``w.T @ x.T``, features first,
    which OpenBLAS does 20-25% faster at these sizes than ``x @ w``. All
    projections but ``w_o`` carry their bias as one more input row: they
    multiply ``[x, 1]``, so the bias is added inside the product instead of by
    a pass over its output. All arrays are read-only and were checked finite at
    load.

    Attributes
    ----------
    w_q, w_k, w_v : ndarray, shape (D+1, D)
        Query, key and value projections (H heads of width D / H, side by side),
        bias in the last row.
    w_o : ndarray, shape (D, D)
        Attention output projection.
    b_o : ndarray, shape (D,)
        Its bias.
    w_in : ndarray, shape (D+1, F)
    w_out : ndarray, shape (F+1, D)
        Feed-forward projections, bias in the last row.
    ln_attn_g, ln_attn_b, ln_ffn_g, ln_ffn_b : ndarray, shape (D,)
        LayerNorm scale and shift after the attention and feed-forward blocks.
    """

    w_q: F32
    w_k: F32
    w_v: F32
    w_o: F32
    b_o: F32
    ln_attn_g: F32
    ln_attn_b: F32
    w_in: F32
    w_out: F32
    ln_ffn_g: F32
    ln_ffn_b: F32


@dataclass(frozen=True)
class Encoding:
    """What one forward pass produced.

    Attributes
    ----------
    input_ids : ndarray of int64, shape (N,)
    tokens : tuple of str, length N
        WordPiece tokens, [CLS] first and [SEP] last when made by :meth:`Model.encode`.
    hidden_states : ndarray of float32, shape (L+1, N, D)
        The embedding output, then each layer's output (as transformers'
        ``output_hidden_states``); a transposed view of the features-first
        array the forward pass computes in, so not C-contiguous.
    attentions : ndarray of float32, shape (L, H, N, N)
        Each layer's and head's attention weights, rows = queries, columns =
        keys; every row sums to 1.
    """

    input_ids: NDArray[np.int64]
    tokens: tuple[str, ...]
    hidden_states: F32
    attentions: F32

    @property
    def last_hidden_state(self) -> F32:
        """The final layer's output, shape (N, D)."""
        return self.hidden_states[-1]


def _f32(weights: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]) -> F32:
    try:
        array = weights[name]
    except KeyError as exc:
        msg = f"model weights: missing tensor {name!r}"
        raise AtlasError(msg) from exc
    if array.shape != shape:
        msg = f"model weights: {name} should have shape {shape}, got {array.shape}"
        raise ShapeError(msg)
    array = np.asarray(array, dtype=np.float32)
    check_finite(array, f"model weights: {name}")  # once here, so no forward pass checks again
    return _frozen(array)


def _frozen(array: F32) -> F32:
    """A read-only view, so no forward pass can change the weights (the input stays writable)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _linear(
    weights: Mapping[str, np.ndarray], prefix: str, d_in: int, d_out: int, *, bias_row: bool
) -> tuple[F32, F32]:
    """A torch ``Linear`` stored (out, in) -> ``(w, b)`` with ``x @ w + b`` its output.

    ``w`` is the transposed view of a C-contiguous array (see :class:`LayerWeights`):
    (in, out) as stored, or (in+1, out) with the bias as the last row when
    ``bias_row`` (a copy, made once here).
    """
    w = _f32(weights, f"{prefix}.weight", (d_out, d_in))
    b = _f32(weights, f"{prefix}.bias", (d_out,))
    if bias_row:
        w = _frozen(np.concatenate([w, b[:, None]], axis=1))  # (out, in+1)
    return w.T, b


def _heads(y_t: F32, heads: int) -> F32:
    """(H*d, N) features first -> (H, N, d): head h takes rows ``h*d:(h+1)*d``; a view."""
    width, n = y_t.shape
    return y_t.reshape(heads, width // heads, n).swapaxes(-1, -2)


class Model:
    """A pretrained BERT encoder evaluated in NumPy (float32, no dropout, one unpadded sequence).

    Build it with :func:`load_minilm` (or :meth:`from_dir` / :meth:`from_weights`);
    run it with :meth:`forward` (ids) or :meth:`encode` (text).
    """

    def __init__(
        self,
        config: BertConfig,
        word_embeddings: F32,
        position_embeddings: F32,
        token_type_embeddings: F32,
        ln_emb_g: F32,
        ln_emb_b: F32,
        layers: tuple[LayerWeights, ...],
        tokenizer: WordPieceTokenizer | None = None,
    ) -> None:
        self.config = config
        self.word_embeddings = word_embeddings
        self.position_embeddings = position_embeddings
        self.token_type_embeddings = token_type_embeddings
        self.ln_emb_g = ln_emb_g
        self.ln_emb_b = ln_emb_b
        self.layers = layers
        self.tokenizer = tokenizer

    @classmethod
    def from_weights(
        cls,
        config: BertConfig,
        weights: Mapping[str, np.ndarray],
        tokenizer: WordPieceTokenizer | None = None,
    ) -> Model:
        """Build from a Hugging Face ``BertModel`` state dict (names without a ``bert.`` prefix).

        Linear weights arrive as (out, in) and are laid out here, once (see
        :class:`LayerWeights`); every tensor is checked finite here, once.

        Raises
        ------
        AtlasError
            A tensor is missing or holds NaN or infinity.
        ShapeError
            A tensor has the wrong shape.
        """
        c = config
        d, f = c.hidden_size, c.intermediate_size
        if d % c.num_heads:
            msg = f"config: hidden_size {d} is not a multiple of num_attention_heads {c.num_heads}"
            raise ShapeError(msg)
        layers = []
        for i in range(c.num_layers):
            p = f"encoder.layer.{i}"
            w_q, _ = _linear(weights, f"{p}.attention.self.query", d, d, bias_row=True)
            w_k, _ = _linear(weights, f"{p}.attention.self.key", d, d, bias_row=True)
            w_v, _ = _linear(weights, f"{p}.attention.self.value", d, d, bias_row=True)
            w_o, b_o = _linear(weights, f"{p}.attention.output.dense", d, d, bias_row=False)
            w_in, _ = _linear(weights, f"{p}.intermediate.dense", d, f, bias_row=True)
            w_out, _ = _linear(weights, f"{p}.output.dense", f, d, bias_row=True)
            layers.append(
                LayerWeights(
                    w_q=w_q, w_k=w_k, w_v=w_v, w_o=w_o, b_o=b_o,
                    ln_attn_g=_f32(weights, f"{p}.attention.output.LayerNorm.weight", (d,)),
                    ln_attn_b=_f32(weights, f"{p}.attention.output.LayerNorm.bias", (d,)),
                    w_in=w_in, w_out=w_out,
                    ln_ffn_g=_f32(weights, f"{p}.output.LayerNorm.weight", (d,)),
                    ln_ffn_b=_f32(weights, f"{p}.output.LayerNorm.bias", (d,)),
                )
            )  # fmt: skip
        return cls(
            config=c,
            word_embeddings=_f32(weights, "embeddings.word_embeddings.weight", (c.vocab_size, d)),
            position_embeddings=_f32(
                weights, "embeddings.position_embeddings.weight", (c.max_position_embeddings, d)
            ),
            token_type_embeddings=_f32(
                weights, "embeddings.token_type_embeddings.weight", (c.type_vocab_size, d)
            ),
            ln_emb_g=_f32(weights, "embeddings.LayerNorm.weight", (d,)),
            ln_emb_b=_f32(weights, "embeddings.LayerNorm.bias", (d,)),
            layers=tuple(layers),
            tokenizer=tokenizer,
        )

    @classmethod
    def from_dir(cls, folder: str | Path) -> Model:
        """Load ``config.json``, ``model.safetensors`` and ``tokenizer.json`` from ``folder``."""
        folder = Path(folder)
        config = BertConfig.from_file(folder / "config.json")
        weights = load_file(folder / "model.safetensors")
        tokenizer = WordPieceTokenizer.from_file(folder / "tokenizer.json")
        return cls.from_weights(config, weights, tokenizer)

    def tokens_of(self, input_ids: NDArray[np.integer]) -> tuple[str, ...]:
        """Token strings for ``input_ids`` (the ids as text when there is no tokenizer)."""
        if self.tokenizer is None:
            return tuple(str(int(i)) for i in input_ids)
        return self.tokenizer.tokens_of(input_ids)

    def forward(self, input_ids: ArrayLike, token_type_ids: ArrayLike | None = None) -> Encoding:
        """Run the encoder on one sequence of token ids.

        Parameters
        ----------
        input_ids : array_like of int, shape (N,)
            Vocabulary ids, normally starting with [CLS] and ending with [SEP].
        token_type_ids : array_like of int, shape (N,), optional
            Segment ids; all 0 (one segment) by default.

        Returns
        -------
        Encoding
            ``hidden_states`` (L+1, N, D) and ``attentions`` (L, H, N, N), float32.

        Raises
        ------
        ShapeError
            ``input_ids`` is not 1-D, is empty, or is longer than the
            ``max_position_embeddings`` positions the model knows.
        AtlasError
            An id lies outside the vocabulary.

        Notes
        -----
        Per layer: ``a = LN(x + MHA(x))``, ``x' = LN(a + GELU(a W_in + b_in) W_out + b_out)``,
        the post-LN BERT block. Cost per layer O(N D^2 + N D F + H N^2 D/H).
        The arrays are float32 (the softmax and each LayerNorm are computed in
        float64 and rounded once, which keeps the maps as close to
        the exact ones as transformers' on any BLAS) and run features first, the
        layout where the speed is: the residual stream is kept transposed, (D, N), with a row of
        ones below it that multiplies the bias rows of :class:`LayerWeights`,
        and each projection is ``w.T @ x_t`` (both operands C-contiguous, which
        OpenBLAS multiplies 20-25% faster at these sizes than ``x @ w``). The
        heads' queries, keys and values are views of those products, and each
        layer's maps are written straight into ``attentions`` (the weights were
        checked at load; a NaN reaching the scores still raises). Each LayerNorm (along axis 0)
        writes its output straight into a features-first (L+1, D+1, N) array,
        which the next layer reads as it is; ``hidden_states`` is its transposed
        view, so no layer copies its output. Two more buffers, (D+1, N) and
        (F+1, N), serve every layer. The function is pure: same ids, same arrays.
        """
        c = self.config
        ids = np.asarray(input_ids)
        if ids.ndim != 1 or ids.size == 0 or ids.size > c.max_position_embeddings:
            msg = (
                f"input_ids must have shape (N,) with 1 <= N <= {c.max_position_embeddings}, "
                f"got shape {ids.shape}"
            )
            raise ShapeError(msg)
        if not np.issubdtype(ids.dtype, np.integer):
            msg = f"input_ids must be integers, got dtype {ids.dtype}"
            raise AtlasError(msg)
        ids = ids.astype(np.int64)
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            msg = f"input_ids must lie in [0, {c.vocab_size}), got [{ids.min()}, {ids.max()}]"
            raise AtlasError(msg)
        n = ids.size
        if token_type_ids is None:
            types = np.zeros(n, dtype=np.int64)
        else:
            types = np.asarray(token_type_ids, dtype=np.int64)
            if types.shape != ids.shape or types.min() < 0 or types.max() >= c.type_vocab_size:
                msg = (
                    f"token_type_ids must have shape {ids.shape} with values in "
                    f"[0, {c.type_vocab_size}), got shape {types.shape}"
                )
                raise ShapeError(msg)

        eps = c.layer_norm_eps
        d, f = c.hidden_size, c.intermediate_size
        # Every layer's output, features first, with a last row of ones for the
        # bias rows: layer i reads hidden_t[i] as it is and writes hidden_t[i + 1].
        hidden_t = np.empty((c.num_layers + 1, d + 1, n), dtype=np.float32)
        hidden_t[:, d] = 1.0
        attentions = np.empty((c.num_layers, c.num_heads, n, n), dtype=np.float32)
        a_t = np.empty((d + 1, n), dtype=np.float32)  # after attention, [a; 1]
        h_t = np.empty((f + 1, n), dtype=np.float32)  # feed-forward hidden, [h; 1]
        a_t[-1] = 1.0
        h_t[-1] = 1.0

        x = self.word_embeddings[ids]  # (N, D), a fresh copy
        x += self.position_embeddings[:n]
        x += self.token_type_embeddings[types]
        layer_norm(x.T, self.ln_emb_g, self.ln_emb_b, eps, axis=0, out=hidden_t[0, :d])
        heads = c.num_heads
        scale = 1.0 / float(np.sqrt(d // heads))
        for i, lw in enumerate(self.layers):
            x_t = hidden_t[i]  # (D+1, N): [x; 1], what the bias rows multiply
            q = _heads(np.matmul(lw.w_q.T, x_t), heads)  # (H, N, d_k), bias included
            k = _heads(np.matmul(lw.w_k.T, x_t), heads)  # (H, N, d_k)
            v = np.ascontiguousarray(_heads(np.matmul(lw.w_v.T, x_t), heads))  # 2x faster below
            # The softmax in float64, rounded once: in float32 its rounding, compounded
            # over six layers, left the maps up to 4e-6 off on one BLAS thread.
            # The scale too: 1/sqrt(d_k) is not a power of two, so q * scale would round.
            scores = np.matmul(q, k.swapaxes(-1, -2)).astype(np.float64)  # (H, N, N)
            scores *= scale
            attentions[i] = softmax_inplace(scores, from_finite=True)
            ctx = np.matmul(attentions[i], v)  # (H, N, d_v)
            ctx_t = ctx.swapaxes(-1, -2).reshape(d, n)  # (D, N): heads stacked, a copy
            s_t = np.matmul(lw.w_o.T, ctx_t)  # (D, N)
            s_t += lw.b_o[:, None]
            s_t += x_t[:d]  # residual
            layer_norm(s_t, lw.ln_attn_g, lw.ln_attn_b, eps, axis=0, out=a_t[:d])
            np.matmul(lw.w_in.T, a_t, out=h_t[:f])  # (F, N), bias included
            gelu(h_t[:f], out=h_t[:f], check_finite=False)  # finite: the weights were checked
            f_t = np.matmul(lw.w_out.T, h_t)  # (D, N), bias included
            f_t += a_t[:d]  # residual
            layer_norm(f_t, lw.ln_ffn_g, lw.ln_ffn_b, eps, axis=0, out=hidden_t[i + 1, :d])
        return Encoding(
            input_ids=ids,
            tokens=self.tokens_of(ids),
            hidden_states=hidden_t[:, :d].transpose(0, 2, 1),  # (L+1, N, D), a view
            attentions=attentions,
        )

    def tokenize(self, text: str) -> NDArray[np.int64]:
        """Token ids of ``text``, [CLS] and [SEP] included, shape (N,)."""
        if self.tokenizer is None:
            msg = "this model was built without a tokenizer; pass ids to forward() instead"
            raise AtlasError(msg)
        return self.tokenizer(text).input_ids

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` (no padding, no truncation) and run :meth:`forward`.

        Raises
        ------
        AtlasError
            The text has more tokens than the model has positions (512 for MiniLM).
        """
        ids = self.tokenize(text)
        limit = self.config.max_position_embeddings
        if ids.size > limit:
            msg = f"text is {ids.size} tokens long but the model reads at most {limit}; shorten it"
            raise AtlasError(msg)
        return self.forward(ids)


@functools.lru_cache(maxsize=4)
def _load_cached(folder: Path) -> Model:
    return Model.from_dir(folder)


def load_minilm() -> Model:
    """The pretrained all-MiniLM-L6-v2 (6 layers x 12 heads, D = 384).

    Fetches the weights into the user's cache on first use (see
    :mod:`attention_atlas.models.assets`); later calls read the cache, and calls in the
    same process return the same object.

    Raises
    ------
    ModelUnavailable
        The weights are not cached and could not be downloaded.
    """
    folder = ensure_model_files(MINILM)
    try:
        return _load_cached(folder.resolve())
    except AtlasError:
        raise
    except (OSError, ValueError, SafetensorError) as exc:
        msg = f"cannot read the cached model in {folder} ({exc}); delete it to fetch it again"
        raise ModelUnavailable(msg) from exc


def encode(text: str) -> Encoding:
    """Run all-MiniLM-L6-v2 on ``text``; see :meth:`Model.encode`."""
    return load_minilm().encode(text)
