"""The ``.safetensors`` layout, read and written without loading a tensor's data.

A safetensors file is an 8-byte little-endian length ``n``, then ``n`` bytes of a
JSON object, then the raw bytes of every tensor. Each tensor's entry names its
``dtype`` (``"F16"``, ``"BF16"``, ...), its ``shape`` and its ``data_offsets``
``[begin, end)`` counted from the end of the JSON. The optional ``__metadata__``
entry maps strings to strings.

:func:`read_header` checks the length before reading the JSON (at most
:data:`MAX_HEADER` bytes, and never past the file), then every entry's dtype,
shape and offsets (in range, matching the bytes its shape needs, no two tensors
overlapping) before any data is read; :func:`read_tensor` then reads one tensor
(or one slice of its first axes) through a ``numpy.memmap`` released at once, so
the file is never held in memory. Every problem is an
:class:`~attention_atlas.errors.AtlasError` naming the file and the field.

Tokens in a dump (safetensors holds only numbers): ``__metadata__["tokens"]`` and
``__metadata__["key_tokens"]`` are JSON lists of strings; ``causal`` is
``"true"``/``"false"`` there or a one-element ``BOOL`` tensor; ``scale`` a number
there or a one-element tensor (see the "Use it in your docs and CI" guide).
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attention_atlas.errors import AtlasError

__all__ = [
    "DTYPES",
    "MAX_HEADER",
    "SafetensorsHeader",
    "TensorEntry",
    "header_bytes",
    "read_header",
    "read_tensor",
    "to_float32",
]

#: Largest JSON header read: the safetensors library's own limit (100 MB). A dump's
#: tokens of 32768 positions take well under 1 MB.
MAX_HEADER = 100_000_000

#: The dtypes read, by their safetensors name: the NumPy dtype of their stored bytes.
#: ``BF16`` is stored as 16-bit words (the top half of a float32) and widened on read.
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}

#: Float dtypes written by name (the writer's inverse of :data:`DTYPES`).
_NAMES = {
    np.dtype("?"): "BOOL",
    np.dtype("<f2"): "F16",
    np.dtype("<f4"): "F32",
    np.dtype("<f8"): "F64",
    np.dtype("<i8"): "I64",
    np.dtype("<i4"): "I32",
}

_LENGTH = struct.Struct("<Q")


def _fail(source: str, what: str) -> AtlasError:
    return AtlasError(f"{source}: {what}")


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it.

    Attributes
    ----------
    name : str
    dtype : str
        The safetensors name (``"F16"``, ``"BF16"``, ...).
    shape : tuple of int
    begin : int
        Absolute byte offset of its data in the file.
    nbytes : int
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    nbytes: int

    @property
    def stored(self) -> np.dtype[Any]:
        """The NumPy dtype of the stored bytes (16-bit words for ``BF16``)."""
        return DTYPES[self.dtype]

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    def describe(self) -> str:
        """``tensor 'q' (32, 32, 2048, 128) F16``."""
        return f"tensor '{self.name}' {self.shape} {self.dtype}"


@dataclass(frozen=True)
class SafetensorsHeader:
    """A checked header: the tensors by name and the metadata strings."""

    source: str
    tensors: dict[str, TensorEntry]
    metadata: dict[str, str]


def read_header(path: str | Path) -> SafetensorsHeader:
    """Check a ``.safetensors`` file's header; no tensor data is read.

    Raises
    ------
    AtlasError
        One line naming the file and the field: a missing, empty or short file, a
        length over :data:`MAX_HEADER` or past the end of the file, JSON that is not
        an object, an unknown dtype, a shape that is not a list of counts, offsets
        out of range, not matching the shape's bytes, or overlapping another tensor.
    """
    file = Path(path)
    source = str(file)
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "file not found"
        raise _fail(source, f"{what}, expected a .safetensors file")
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            first = handle.read(_LENGTH.size)
            if len(first) < _LENGTH.size:
                msg = (
                    f"header length: the file has {size} bytes, expected at least 8 "
                    "(a .safetensors file starts with its header's length)"
                )
                raise _fail(source, msg)
            (length,) = _LENGTH.unpack(first)
            if length > MAX_HEADER or length > size - _LENGTH.size:
                msg = (
                    f"header length: declares {length} bytes of JSON, but the file has "
                    f"{size - _LENGTH.size} after it (at most {MAX_HEADER} read); "
                    "not a .safetensors file, or truncated"
                )
                raise _fail(source, msg)
            raw = handle.read(length)
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror})") from exc
    if len(raw) != length:
        raise _fail(source, f"header: ends after {len(raw)} of {length} bytes (truncated)")
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        msg = f"header: not JSON ({type(exc).__name__}); not a .safetensors file, or damaged"
        raise _fail(source, msg) from None
    if not isinstance(parsed, dict):
        raise _fail(source, f"header: expected a JSON object, got {type(parsed).__name__}")
    data_start = _LENGTH.size + length
    metadata = _metadata(source, parsed.pop("__metadata__", {}))
    tensors = {
        name: _entry(source, name, spec, data_start, size - data_start)
        for name, spec in parsed.items()
    }
    _no_overlap(source, tensors.values())
    return SafetensorsHeader(source=source, tensors=tensors, metadata=metadata)


def _metadata(source: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        msg = "field '__metadata__': expected a JSON object of strings to strings"
        raise _fail(source, msg)
    return dict(value)


def _entry(source: str, name: str, spec: Any, data_start: int, data_size: int) -> TensorEntry:
    where = f"tensor '{name}'"
    if not isinstance(spec, dict):
        raise _fail(source, f"{where}: expected an object with dtype, shape and data_offsets")
    dtype = spec.get("dtype")
    if dtype not in DTYPES:
        known = ", ".join(DTYPES)
        raise _fail(source, f"{where}: dtype {dtype!r} is not one of {known}")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(_count(s) for s in shape):
        raise _fail(source, f"{where}: shape {shape!r} is not a list of counts")
    offsets = spec.get("data_offsets")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_count(o) for o in offsets)
        or offsets[0] > offsets[1]
    ):
        msg = f"{where}: data_offsets {offsets!r} are not [begin, end] with begin <= end"
        raise _fail(source, msg)
    begin, end = offsets
    if end > data_size:
        msg = (
            f"{where}: data_offsets [{begin}, {end}] run past the end of the data "
            f"({data_size} bytes); truncated or damaged"
        )
        raise _fail(source, msg)
    need = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != need:
        msg = (
            f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes, but shape "
            f"{tuple(shape)} {dtype} needs {need}"
        )
        raise _fail(source, msg)
    return TensorEntry(name, dtype, tuple(shape), data_start + begin, need)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _no_overlap(source: str, entries: Iterable[TensorEntry]) -> None:
    ordered = sorted((e for e in entries if e.nbytes), key=lambda e: e.begin)
    for before, after in itertools.pairwise(ordered):
        if after.begin < before.begin + before.nbytes:
            msg = (
                f"tensor '{after.name}': its data overlaps tensor '{before.name}'; "
                "a damaged or crafted file"
            )
            raise _fail(source, msg)


def to_float32(words: NDArray[Any], dtype: str) -> NDArray[np.float32]:
    """Stored values as float32: ``BF16`` words are the top 16 bits of a float32."""
    if dtype == "BF16":
        return (words.astype(np.uint32) << 16).view(np.float32)
    return np.asarray(words, dtype=np.float32)


def read_tensor(path: str | Path, entry: TensorEntry, index: tuple[int, ...] = ()) -> NDArray[Any]:
    """A copy of ``entry``'s data, or of ``entry[index]`` for leading indices; stored dtype.

    Only the bytes of that slice are mapped (a ``numpy.memmap`` closed on return), so
    reading one head of a 1 GB tensor touches one head's pages.
    """
    inner = entry.shape[len(index) :]
    stride = math.prod(inner) * entry.stored.itemsize
    flat = 0
    for i, size in zip(index, entry.shape, strict=False):
        if not 0 <= i < size:
            msg = f"{entry.describe()}: index {index} out of range"
            raise IndexError(msg)
        flat = flat * size + i
    offset = entry.begin + flat * stride
    if stride == 0:
        return np.empty(inner, dtype=entry.stored)
    mapped = np.memmap(path, dtype=entry.stored, mode="r", offset=offset, shape=inner)
    return np.array(mapped)  # a copy: the map (and its pages) goes with ``mapped``


def header_bytes(
    tensors: dict[str, tuple[str, tuple[int, ...]]], metadata: dict[str, str]
) -> bytes:
    """The length and JSON header of a file holding ``tensors`` (name -> (dtype, shape)) in order.

    Offsets follow the order given, with no gaps; the JSON is padded with spaces to a
    multiple of 8 bytes, as the safetensors library writes it.
    """
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    at = 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * DTYPES[dtype].itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [at, at + size]}
        at += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return _LENGTH.pack(len(text)) + text


def dtype_name(dtype: np.dtype[Any]) -> str:
    """The safetensors name of a NumPy dtype written by the writer."""
    return _NAMES[np.dtype(dtype).newbyteorder("<") if dtype.byteorder == ">" else dtype]


def chunks(values: NDArray[Any], rows: int = 1) -> Iterator[bytes]:
    """Little-endian bytes of ``values``, ``rows`` leading-axis items at a time."""
    out = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
    if out.ndim == 0:
        yield out.tobytes()
        return
    for start in range(0, out.shape[0], rows):
        yield out[start : start + rows].tobytes()
