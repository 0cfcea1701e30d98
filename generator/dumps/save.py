"""Write an attention dump that ``attention-atlas report`` reads: :func:`save_dump`.

It takes what a model gives, without importing any framework: anything with
``__array__`` (NumPy arrays, JAX arrays, PyTorch tensors, moved to the CPU and
detached first; ``bfloat16`` widened to float32), and the per-layer tuples
HuggingFace transformers returns (``outputs.attentions``: L arrays of shape
(1, H, N, M), a batch of one, stacked into (L, H, N, M)). The suffix of ``path``
picks the format: ``.npz`` or ``.safetensors`` (tokens in its ``__metadata__``,
see :mod:`attention_atlas.dumps.safetensors_file`). The file is written through
:mod:`attention_atlas.fileio`, atomically; a ``.safetensors`` file layer by layer,
so a sequence that makes its layers on demand is never held whole.

Example (GPT-2 with transformers)::

    out = model(**enc, output_attentions=True)
    save_dump("gpt2.safetensors", attention=out.attentions,
              tokens=tok.convert_ids_to_tokens(enc["input_ids"][0]), causal=True)
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attention_atlas import fileio
from attention_atlas.dumps.read import (
    _causal_fits,
    _causal_flag,
    _map_shape,
    _missing_key_tokens,
    _projection_shape,
    _projections_match,
    _token_shape,
)
from attention_atlas.dumps.safetensors_file import dtype_name, header_bytes
from attention_atlas.errors import AtlasError

__all__ = ["save_dump"]

_FLOATS = (np.dtype("f2"), np.dtype("f4"), np.dtype("f8"))


def _numpy(value: Any, name: str) -> NDArray[Any]:
    """One array as NumPy: tensors detached and moved to the CPU; bfloat16 as float32."""
    if hasattr(value, "detach"):  # a PyTorch tensor (gradients, devices)
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if "bfloat16" in str(getattr(value, "dtype", "")) and hasattr(value, "float"):
            value = value.float()  # NumPy has no bfloat16
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        msg = f"field '{name}': cannot be read as an array ({type(value).__name__}: {exc})"
        raise AtlasError(msg) from None
    if arr.dtype not in _FLOATS:
        if arr.dtype.kind not in "fiuV" or arr.dtype.hasobject:
            msg = f"field '{name}': expected real numbers, got dtype {arr.dtype}"
            raise AtlasError(msg)
        arr = arr.astype(np.float32)  # integers, and bfloat16 from JAX (ml_dtypes)
    return arr


class _Layers(Sequence[NDArray[Any]]):
    """A field given layer by layer: each layer converted only when it is written.

    ``items`` is a per-layer sequence (transformers' tuples: (1, H, P, w) each, a batch
    of one) or one array whose first axis is the layers.
    """

    def __init__(self, value: Any, name: str) -> None:
        self.name = name
        if isinstance(value, tuple | list) or (
            isinstance(value, Sequence) and not hasattr(value, "__array__")
        ):
            if len(value) == 0:
                raise AtlasError(f"field '{name}': an empty sequence of layers")
            self.items: Sequence[Any] = value
            self.per_layer = True
            first = self[0]
            self.shape: tuple[int, ...] = (len(value), *first.shape)
            self.dtype = first.dtype
        else:
            whole = _numpy(value, name)
            self.items = [whole]
            self.shape = whole.shape
            self.dtype = whole.dtype
            self.per_layer = False

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        arr = _numpy(self.items[index], self.name)
        if not self.per_layer:
            return arr
        if arr.ndim == 4:  # transformers: (batch, H, P, w)
            if arr.shape[0] != 1:
                msg = (
                    f"field '{self.name}': layer {index} has a batch of {arr.shape[0]}, "
                    "expected one example (take outputs.attentions[l][i:i + 1])"
                )
                raise AtlasError(msg)
            arr = arr[0]
        elif arr.ndim == 2:  # one head: (P, w)
            arr = arr[None]
        if hasattr(self, "shape") and arr.shape != self.shape[1:]:
            msg = (
                f"field '{self.name}': layer {index} has shape {arr.shape}, but layer 0 "
                f"has {self.shape[1:]}"
            )
            raise AtlasError(msg)
        return arr

    def stacked(self) -> NDArray[Any]:
        return np.stack(list(self)) if self.per_layer else self.items[0]

    def pieces(self, dtype: np.dtype[Any]) -> Iterator[bytes]:
        """Little-endian bytes, a layer at a time."""
        little = dtype.newbyteorder("<")
        for arr in self if self.per_layer else self.items:
            yield np.ascontiguousarray(arr, dtype=little).tobytes()


def _tokens(value: Any, name: str) -> list[str]:
    items = [] if isinstance(value, str | bytes) else list(value)
    if isinstance(value, str | bytes) or not all(isinstance(t, str) for t in items):
        msg = f"field '{name}': expected a list of strings (one token per position)"
        raise AtlasError(msg)
    return [str(t) for t in items]


def save_dump(
    path: str | Path,
    *,
    tokens: Sequence[str],
    attention: Any = None,
    q: Any = None,
    k: Any = None,
    v: Any = None,
    key_tokens: Sequence[str] | None = None,
    causal: bool = False,
    scale: float | None = None,
    dtype: Any = None,
) -> Path:
    """Write a dump of attention weights, or of queries and keys, to ``.npz`` or ``.safetensors``.

    Parameters
    ----------
    path : str or Path
        Ends in ``.npz`` or ``.safetensors``.
    tokens : sequence of str, length N
    attention : array-like or sequence of L array-likes, optional
        (L, H, N, M), (H, N, M) or (N, M); or transformers' ``outputs.attentions``
        (L arrays of (1, H, N, M)).
    q : array-like or sequence of L array-likes, optional
        (L, H, N, d) or per layer (1, H, N, d) / (H, N, d); needs ``k``.
    k : likewise, (L, H_kv, M, d), H_kv dividing H (grouped-query heads).
    v : likewise, optional; stored for completeness, never read by the report.
    key_tokens : sequence of str, length M, optional
        Needed when M != N.
    causal : bool
        Query i sees keys ``j <= i + M - N`` only (decoders).
    scale : float, optional
        Multiplies ``q k^T``; the reader's default is ``1 / sqrt(d)``.
    dtype : numpy dtype, optional
        Stored dtype of the arrays (``"float16"`` halves the file); default: as
        given (float16, float32 or float64; anything else as float32).

    Returns
    -------
    path : Path

    Raises
    ------
    AtlasError
        With the reader's one-line messages: the wrong suffix, neither or both of
        ``attention`` and ``q``/``k``, shapes that do not fit, tokens that are not
        strings or do not match N and M, ``causal`` that is not a boolean.
    """
    file = Path(path)
    source = str(file)
    suffix = file.suffix.lower()
    if suffix not in (".npz", ".safetensors"):
        msg = f"{source}: expected a path ending in .npz or .safetensors, got {suffix!r}"
        raise AtlasError(msg)
    has_qk = q is not None or k is not None
    if (attention is None) == (not has_qk) or (has_qk and (q is None or k is None)):
        msg = f"{source}: give either attention, or q and k (got {_given(attention, q, k)})"
        raise AtlasError(msg)
    is_causal = _causal_flag(source, causal if not isinstance(causal, bool) else np.bool_(causal))
    fields: dict[str, _Layers] = {}
    if attention is not None:
        fields["attention"] = _Layers(attention, "attention")
        shape = _map_shape(source, fields["attention"].dtype, fields["attention"].shape)
        n, m, shaped = shape[2], shape[3], f"attention shaped {fields['attention'].shape}"
    else:
        fields["q"], fields["k"] = _Layers(q, "q"), _Layers(k, "k")
        if v is not None:
            fields["v"] = _Layers(v, "v")
        for name in fields:
            _projection_shape(source, name, fields[name].dtype, fields[name].shape)
        _projections_match(source, fields["q"].shape, fields["k"].shape)
        n, m = fields["q"].shape[-2], fields["k"].shape[-2]
        shaped = f"q shaped {fields['q'].shape}"
    toks = _tokens(tokens, "tokens")
    _token_shape(source, "tokens", (len(toks),), np.dtype("U1"), n, "query positions (N)", shaped)
    keys = None
    if key_tokens is None:
        _missing_key_tokens(source, n, m, shaped)
    else:
        keys = _tokens(key_tokens, "key_tokens")
        _token_shape(
            source, "key_tokens", (len(keys),), np.dtype("U1"), m, "key positions (M)", shaped
        )
    _causal_fits(source, is_causal, n, m, shaped)
    if scale is not None and not np.isfinite(float(scale)):
        raise AtlasError(f"{source}: field 'scale': expected one finite number, got {scale!r}")
    stored = {name: np.dtype(dtype) if dtype is not None else f.dtype for name, f in fields.items()}
    for dt in stored.values():
        if dt not in _FLOATS:
            raise AtlasError(f"{source}: dtype: expected float16, float32 or float64, got {dt}")
    payload = _Payload(fields, stored, toks, keys, is_causal, scale)
    (_write_npz if suffix == ".npz" else _write_safetensors)(file, payload)
    return file


def _given(attention: Any, q: Any, k: Any) -> str:
    named = [n for n, x in (("attention", attention), ("q", q), ("k", k)) if x is not None]
    return ", ".join(named) or "none of them"


@dataclass(frozen=True)
class _Payload:
    """What a dump file holds: the arrays (each with the dtype it is stored in) and the rest."""

    fields: dict[str, _Layers]
    stored: dict[str, np.dtype[Any]]
    toks: list[str]
    keys: list[str] | None
    causal: bool
    scale: float | None


def _write_npz(file: Path, payload: _Payload) -> None:
    """``numpy.savez`` into memory (the arrays whole), then one atomic write."""
    fields, stored, toks, keys = payload.fields, payload.stored, payload.toks, payload.keys
    causal, scale = payload.causal, payload.scale
    arrays: dict[str, Any] = {n: f.stacked().astype(stored[n]) for n, f in fields.items()}
    arrays["tokens"] = np.array(toks, dtype=str)
    if keys is not None:
        arrays["key_tokens"] = np.array(keys, dtype=str)
    arrays["causal"] = np.bool_(causal)
    if scale is not None:
        arrays["scale"] = np.float64(scale)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    fileio.write_atomic(file, buffer.getvalue())


def _write_safetensors(file: Path, payload: _Payload) -> None:
    """Header, then each field a layer at a time (tokens, causal and scale as metadata)."""
    fields, stored, toks, keys = payload.fields, payload.stored, payload.toks, payload.keys
    causal, scale = payload.causal, payload.scale
    metadata = {"tokens": json.dumps(toks, ensure_ascii=False), "causal": str(causal).lower()}
    if keys is not None:
        metadata["key_tokens"] = json.dumps(keys, ensure_ascii=False)
    if scale is not None:
        metadata["scale"] = repr(float(scale))
    layout = {n: (dtype_name(stored[n]), f.shape) for n, f in fields.items()}

    def chunks() -> Iterator[bytes]:
        yield header_bytes(layout, metadata)
        for name, f in fields.items():
            yield from f.pieces(stored[name])

    fileio.write_chunks(file, chunks())
