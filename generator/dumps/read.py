"""A user's own attention dump: load a ``.npz`` file and check every field before use.

The file format (see the "Use it in your docs and CI" guide):

- ``attention``: real numbers shaped (L, H, N, M), (H, N, M) or (N, M): L layers,
  H heads, N query positions, M key positions. Missing leading axes count as one
  layer and one head.
- ``tokens``: N strings, the query tokens.
- ``key_tokens`` (optional): M strings; defaults to ``tokens`` (then M must equal N).

For sequences too long to store their maps (16384 positions make a 1 GiB map per
head), a file may hold the queries and keys instead of ``attention``:

- ``q``: (L, H, N, d), (H, N, d) or (N, d) and ``k``: the same leading axes and d,
  with M positions; the weights are ``softmax(scale q k^T)``, never stored.
- ``scale`` (optional): one number, ``1 / sqrt(d)`` by default.

Decoder models (GPT-2, Llama, Mistral, Qwen):

- ``causal`` (optional, either kind): one boolean. When true, query i may attend to
  keys j <= i + M - N only: the queries are the *last* N of the M key positions
  (a decode step over a cached prefix when N < M), the end-aligned convention of
  PyTorch's ``causal_lower_right`` (equal to ``is_causal=True`` when N = M). N may
  not exceed M. In an ``attention`` dump the weights above that diagonal must be 0.
- Grouped-query and multi-query heads (q/k dumps): ``k`` may hold H_kv heads where
  H, ``q``'s head count, is a multiple of H_kv; query head h reads key head
  ``h // (H // H_kv)``, as ``scaled_dot_product_attention(enable_gqa=True)``.
- ``v`` may be stored beside them and is ignored (weights do not need it).

A ``.safetensors`` file holds the same fields as tensors; tokens, which are not
numbers, go in its ``__metadata__`` as JSON lists of strings
(:mod:`attention_atlas.dumps.safetensors_file`). Its ``q`` and ``k`` stay in the
file and are read one head at a time.

:func:`load_any` reads either kind; :func:`load_dump` only the first.

No data is decoded before every check that needs none has passed
(:func:`inspect_dump`): the archive's member list and each array's ``.npy`` header
(shape, dtype, order) are read first, checked against the format above, and the
memory the job will need is priced against a budget (:mod:`attention_atlas.dumps.budget`).
Only then is each field's data read, into an array of the declared size and never
past it, so a file that decompresses to far more than it looks stays harmless. A
pickled field (which could run code) is refused from its header and never loaded,
as ``numpy.load(..., allow_pickle=False)`` would. Every problem raises
:class:`~attention_atlas.errors.AtlasError` with one line naming the file and the
field, what was expected and what was found.

Rows that do not sum to 1 are *not* an error: all-zero rows (queries with nothing
to attend, such as padding) are accepted as they are, and rows whose sum is off by
more than :data:`ROW_SUM_TOLERANCE` produce a warning naming the rows and the
largest gap. Those rows are shown as given, never renormalised.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

from attention_atlas.dumps.budget import (
    JOB_BYTES,
    map_job_bytes,
    over_budget,
    resolve_budget,
    token_bytes,
)
from attention_atlas.dumps.safetensors_file import (
    SafetensorsHeader,
    TensorEntry,
    read_header,
    read_tensor,
    to_float32,
)
from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import bytes_text, significant

__all__ = [
    "CAUSAL_TOLERANCE",
    "MAX_MEMBERS",
    "ROW_SUM_TOLERANCE",
    "ArrayHeader",
    "AttentionDump",
    "DumpHeaders",
    "ProjectionDump",
    "StoredTensor",
    "inspect_dump",
    "load_any",
    "load_dump",
    "read_npz_fields",
    "validate_dump",
    "validate_projections",
]

#: A row whose weights sum to 1 within this absolute tolerance counts as a distribution.
ROW_SUM_TOLERANCE = 1e-3

#: Largest weight a causal ``attention`` dump may give a future key (exact softmax gives 0).
CAUSAL_TOLERANCE = 1e-6

#: Rows listed by name in a warning before it says "and K more".
_LISTED_ROWS = 5


class _Sizes:
    """L, H, N and M of a dump, read off its (L, H, N, M) :attr:`sizes`."""

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        raise NotImplementedError

    @property
    def layers(self) -> int:
        """L."""
        return self.sizes[0]

    @property
    def heads(self) -> int:
        """H."""
        return self.sizes[1]

    @property
    def n(self) -> int:
        """N, query positions."""
        return self.sizes[2]

    @property
    def m(self) -> int:
        """M, key positions."""
        return self.sizes[3]


@dataclass(frozen=True)
class AttentionDump(_Sizes):
    """A checked attention dump, always four-dimensional.

    Attributes
    ----------
    source : str
        Where the arrays came from (a file path, or a name given by the caller).
    attention : ndarray of float64, shape (L, H, N, M)
        The weights; a file with (H, N, M) or (N, M) gets leading axes of size 1.
    tokens : tuple of str, length N
        Query tokens.
    key_tokens : tuple of str, length M
        Key tokens (the query tokens again when the file has no ``key_tokens``).
    stored_shape : tuple of int
        ``attention``'s shape as stored in the file.
    warnings : tuple of str
        One-line notes about rows that do not sum to 1.
    zero_rows : int
        Number of all-zero rows (queries that attend to nothing).
    causal : bool
        True when the file says each query sees only keys up to its own position
        (checked: every weight above that diagonal is 0, see :attr:`query_offset`).
    """

    source: str
    attention: NDArray[np.float64]
    tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    stored_shape: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())
    zero_rows: int = 0
    causal: bool = False

    @property
    def query_offset(self) -> int:
        """Key position of query 0 under the causal mask: M - N when causal, else 0.

        Query i sees keys ``j <= i + query_offset``; the queries are the last N of the
        M key positions (a decode step over a cached prefix when N < M).
        """
        return self.m - self.n if self.causal else 0

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(L, H, N, M): the attention's shape."""
        layers, heads, n, m = (int(s) for s in self.attention.shape)
        return layers, heads, n, m

    @property
    def self_attention(self) -> bool:
        """True when queries and keys are the same tokens (an N x N map)."""
        return self.n == self.m and self.tokens == self.key_tokens

    def head(self, layer: int, head: int) -> NDArray[np.float64]:
        """One head's map, shape (N, M); ``AtlasError`` naming the valid range if out of it."""
        check_head(self, layer, head)
        return self.attention[layer, head]


@dataclass(frozen=True)
class ProjectionDump(_Sizes):
    """A checked dump of queries and keys, always four-dimensional; maps are never stored.

    Attributes
    ----------
    source : str
    q : ndarray of float32 or StoredTensor, shape (L, H, N, d)
    k : ndarray of float32 or StoredTensor, shape (L, H_kv, M, d)
        H_kv divides H (grouped-query heads; H_kv = H for plain multi-head attention).
        A :class:`StoredTensor` stays in its ``.safetensors`` file; read a head with
        :meth:`q_head` and :meth:`k_head`, which work for both.
    scale : float
        Multiplies ``q k^T`` before the softmax.
    tokens : tuple of str, length N
    key_tokens : tuple of str, length M
    stored_shape : tuple of int
        ``q``'s shape as stored in the file.
    warnings : tuple of str
        Always empty: weights computed from q and k are distributions by construction.
    causal : bool
        True when query i sees only keys ``j <= i + query_offset``.
    """

    source: str
    q: NDArray[np.float32] | StoredTensor
    k: NDArray[np.float32] | StoredTensor
    scale: float
    tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    stored_shape: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())
    causal: bool = False

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(L, H, N, M): the maps' shape, from q (L, H, N, d) and k (L, H_kv, M, d)."""
        layers, heads, n = (int(s) for s in self.q.shape[:3])
        return layers, heads, n, int(self.k.shape[2])

    @property
    def width(self) -> int:
        """d, the width of each query and key."""
        return int(self.q.shape[3])

    @property
    def kv_heads(self) -> int:
        """H_kv, the key heads: H for multi-head, 1 for multi-query, else grouped-query."""
        return int(self.k.shape[1])

    @property
    def group(self) -> int:
        """Query heads per key head, H // H_kv."""
        return self.heads // self.kv_heads

    def kv_head(self, head: int) -> int:
        """The key head query head ``head`` reads: ``head // (H // H_kv)``."""
        return head // self.group

    @property
    def query_offset(self) -> int:
        """Key position of query 0 under the causal mask: M - N when causal, else 0.

        Query i sees keys ``j <= i + query_offset`` (PyTorch's lower-right causal
        alignment): the queries are the last N of the M key positions.
        """
        return self.m - self.n if self.causal else 0

    @property
    def resident_bytes(self) -> int:
        """Bytes of q and k held in memory (0 for tensors left in their file)."""
        return sum(a.nbytes for a in (self.q, self.k) if isinstance(a, np.ndarray))

    def q_head(self, layer: int, head: int) -> NDArray[np.float32]:
        """Query head ``head`` of ``layer``, float32, shape (N, d)."""
        check_head(self, layer, head)
        return _head_of(self.q, layer, head)

    def k_head(self, layer: int, head: int) -> NDArray[np.float32]:
        """The keys query head ``head`` of ``layer`` reads, float32, shape (M, d)."""
        check_head(self, layer, head)
        return _head_of(self.k, layer, self.kv_head(head))

    @property
    def self_attention(self) -> bool:
        return self.key_tokens == self.tokens

    @property
    def map_bytes(self) -> int:
        """Bytes every head's float32 map would take together, were they stored."""
        return 4 * self.layers * self.heads * self.n * self.m


@dataclass(frozen=True)
class StoredTensor:
    """``q`` or ``k`` left in a ``.safetensors`` file, read one head at a time.

    Each :meth:`head` maps only that head's bytes (a ``numpy.memmap`` released at
    once) and widens them to float32, so the file is never held in memory.

    Attributes
    ----------
    path : Path
    entry : TensorEntry
        The tensor's dtype, stored shape and offset.
    shape : tuple of int
        (L, H, P, d): the stored shape with missing leading axes of size 1.
    """

    path: Path
    entry: TensorEntry
    shape: tuple[int, int, int, int]

    @property
    def nbytes(self) -> int:
        """Bytes in the file (none of them held in memory)."""
        return self.entry.nbytes

    def part(self, layer: int, head: int | None = None) -> NDArray[np.float32]:
        """Float32 values of one layer (H, P, d), or of one head (P, d) when ``head`` is given."""
        lead = len(self.entry.shape) - 2  # stored leading axes: 0, 1 or 2 (layer, head)
        full = (layer,) if head is None else (layer, head)
        index = full[len(full) - max(0, lead - (2 - len(full))) :] if lead else ()
        values = to_float32(read_tensor(self.path, self.entry, index), self.entry.dtype)
        return values.reshape(self.shape[1:] if head is None else self.shape[2:])

    def head(self, layer: int, head: int) -> NDArray[np.float32]:
        """Float32 values of one head, shape (P, d)."""
        return self.part(layer, head)


def _head_of(a: NDArray[np.float32] | StoredTensor, layer: int, head: int) -> NDArray[np.float32]:
    if isinstance(a, StoredTensor):
        return a.head(layer, head)
    return a[layer, head]


def check_head(dump: AttentionDump | ProjectionDump, layer: int, head: int) -> None:
    """Raise ``AtlasError`` unless ``0 <= layer < L`` and ``0 <= head < H``."""
    stored = "q" if isinstance(dump, ProjectionDump) else "attention"
    if not 0 <= layer < dump.layers:
        msg = (
            f"{dump.source}: layer {layer} does not exist: expected 0 to {dump.layers - 1} "
            f"({stored} shaped {dump.stored_shape})"
        )
        raise AtlasError(msg)
    if not 0 <= head < dump.heads:
        msg = (
            f"{dump.source}: head {head} does not exist: expected 0 to {dump.heads - 1} "
            f"({stored} shaped {dump.stored_shape})"
        )
        raise AtlasError(msg)


def _fail(source: str, what: str) -> AtlasError:
    return AtlasError(f"{source}: {what}")


def _shape_fail(source: str, what: str) -> ShapeError:
    return ShapeError(f"{source}: {what}")


#: Most members a dump's archive may list; ``numpy.savez`` writes one per field. Python's
#: zipfile reads the whole member list into memory, so a longer one is refused first.
MAX_MEMBERS = 64

#: Largest central directory (the member list) read: a few fields take a few hundred bytes.
_MAX_DIRECTORY = 2**20

#: Bytes decompressed at a time while an array's data is read into place.
_CHUNK = 2**20

_END = struct.Struct("<4s4H2LH")  # the zip's end-of-central-directory record
_END_SIGNATURE = b"PK\x05\x06"


@dataclass(frozen=True)
class ArrayHeader:
    """What a ``.npy`` member's header declares, read before any of its data.

    Attributes
    ----------
    name : str
        The field (the member's name without ``.npy``).
    shape : tuple of int
    dtype : numpy.dtype
    fortran_order : bool
        True when the data is stored column-major.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool

    @property
    def count(self) -> int:
        """Number of elements (a Python int: never overflows)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of decoded data."""
        return self.count * self.dtype.itemsize

    def describe(self) -> str:
        """``field 'attention' (1, 1, 16384, 16384) float16``."""
        return f"field '{self.name}' {self.shape} {self.dtype}"


def _check_file(path: Path) -> None:
    """A readable, non-empty zip archive with a short member list, or a one-line refusal."""
    source = str(path)
    if not path.exists():
        raise _fail(source, "file not found (expected a .npz archive)")
    if path.is_dir():
        raise _fail(source, "is a folder, expected a .npz file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(6)
            tail_size = min(size, _END.size + 2**16)  # the record, then a comment of < 64 KiB
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
    except OSError as exc:
        raise _fail(source, f"cannot be read ({exc.strerror})") from exc
    if size == 0:
        raise _fail(source, "is empty (0 bytes), expected a .npz archive from numpy.savez")
    if head == b"\x93NUMPY":
        msg = (
            "is a .npy file holding one array, expected a .npz archive with fields "
            "'attention' and 'tokens' (numpy.savez(path, attention=..., tokens=...))"
        )
        raise _fail(source, msg)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END.size > len(tail) or not zipfile.is_zipfile(path):
        msg = "is not a .npz archive (not a zip file, or truncated); write it with numpy.savez"
        raise _fail(source, msg)
    members, directory = _END.unpack_from(tail, at)[4:6]
    if members > MAX_MEMBERS or directory > _MAX_DIRECTORY:
        msg = (
            f"lists {members} members in {bytes_text(directory)}, expected a .npz archive of a "
            f"few arrays (at most {MAX_MEMBERS}); write it with numpy.savez"
        )
        raise _fail(source, msg)


def _damaged(source: str, exc: BaseException, name: str | None = None) -> AtlasError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = f"field '{name}': damaged in the archive" if name else "is a damaged .npz archive"
    return _fail(source, f"{where} (truncated or corrupt: {detail})")


#: What reading a member can raise on a damaged or crafted archive.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    NotImplementedError,
    RuntimeError,
    struct.error,
)


def _read_header(handle: IO[bytes], source: str, name: str) -> ArrayHeader:
    """Shape, dtype and order from the ``.npy`` header at the start of ``handle``."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            # 3.0 differs from 2.0 only in the header's encoding (UTF-8, for structured
            # dtypes with non-Latin-1 field names, refused below either way).
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            msg = f"unknown .npy format version {version[0]}.{version[1]}"
            raise ValueError(msg)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _damaged(source, exc, name) from exc
    except (ValueError, TypeError, SyntaxError, OverflowError, RecursionError) as exc:
        msg = (
            f"field '{name}': not a .npy array (raw or pickled bytes, never loaded); "
            f"write the file with numpy.savez"
        )
        raise _fail(source, msg) from exc
    dims = tuple(shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in dims):
        msg = f"field '{name}': its .npy header declares an impossible shape {shape!r}"
        raise _fail(source, msg)
    return ArrayHeader(name, dims, np.dtype(dtype), bool(fortran))


def _pickled(source: str, name: str) -> AtlasError:
    msg = (
        f"field '{name}': holds Python objects (a pickled array), which are never loaded; "
        f"save strings as np.array(..., dtype=str) and numbers as a float array"
    )
    return _fail(source, msg)


def _read_data(handle: IO[bytes], header: ArrayHeader, source: str) -> np.ndarray:
    """The array's data, read into place a chunk at a time and never past its declared size."""
    try:
        flat = np.empty(header.count, dtype=header.dtype)
    except MemoryError:
        msg = (
            f"{header.describe()}: cannot allocate {bytes_text(header.nbytes)}; this machine "
            f"has less free memory than the budget allows (lower --max-memory)"
        )
        raise _fail(source, msg) from None
    into = flat.view(np.uint8) if header.nbytes else np.empty(0, np.uint8)
    done = 0
    while done < header.nbytes:
        chunk = handle.read(min(_CHUNK, header.nbytes - done))
        if not chunk:
            msg = (
                f"{header.describe()}: data ends after {done} of {header.nbytes} bytes (truncated)"
            )
            raise _fail(source, msg)
        into[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    if handle.read(1):
        msg = (
            f"{header.describe()}: holds more data than its header declares "
            f"({header.nbytes} bytes); a damaged or crafted file, not read further"
        )
        raise _fail(source, msg)
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


@dataclass(frozen=True)
class DumpHeaders:
    """A dump's fields as their headers declare them, checked, and what its job needs.

    Attributes
    ----------
    source : str
    kind : {"attention", "projections"}
        A dump of weights, or of queries and keys.
    fields : dict of str to ArrayHeader
        The fields the job reads (others in the archive are never decoded).
    need : int
        Bytes of memory the report (or export) of this dump needs at its peak.
    budget : int
        The budget ``need`` was checked against.
    """

    source: str
    kind: Literal["attention", "projections"]
    fields: dict[str, ArrayHeader]
    need: int
    budget: int
    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def lazy(self) -> bool:
        """True for a ``.safetensors`` dump of q and k: read one head at a time, never whole."""
        return bool(self.tensors) and self.kind == "projections"


def inspect_dump(
    path: str | Path, *, max_memory: int | str | None = None, weights_only: bool = False
) -> DumpHeaders:
    """Check a dump from its archive's member list and its arrays' headers alone.

    Nothing is decoded: names, dtypes, ranks and shapes are checked against the
    file format (module docstring) and the memory the job will need is priced
    (:mod:`attention_atlas.dumps.budget`). Cost: a few small reads, whatever the
    arrays' size.

    Parameters
    ----------
    path : str or Path
    max_memory : int or str, optional
        Budget in bytes or as ``"4G"``; default
        :data:`~attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`.
    weights_only : bool
        Refuse a dump of ``q`` and ``k`` (:func:`load_dump` needs the weights).

    Raises
    ------
    AtlasError
        One line naming the file and the field, for anything :func:`load_any` would
        refuse on shape or dtype, and when the job needs more memory than the budget.
    """
    file = Path(path)
    source = str(file)
    budget = resolve_budget(max_memory)
    tensors: dict[str, TensorEntry] = {}
    values: dict[str, Any] = {}
    if file.suffix.lower() == ".safetensors":
        headers, tensors, values = _safetensors_fields(read_header(file), weights_only)
    else:
        headers = _npz_headers(file, lambda names: _wanted_fields(names, source, weights_only))
    causal = headers.get("causal")
    if causal is not None and (causal.dtype.kind != "b" or causal.count != 1):
        msg = (
            f"field 'causal': expected one boolean (True or False), got {causal.dtype} "
            f"shaped {causal.shape}"
        )
        raise _fail(source, msg)
    kind: Literal["attention", "projections"]
    if "attention" in headers:
        kind, parts = "attention", _map_parts(source, headers)
    else:
        kind, parts = "projections", _projection_parts(source, headers, lazy=bool(tensors))
    need = _priced(source, headers, parts, budget)
    return DumpHeaders(
        source=source,
        kind=kind,
        fields=headers,
        need=need,
        budget=budget,
        tensors=tensors,
        values=values,
    )


def _safetensors_fields(
    st: SafetensorsHeader, weights_only: bool
) -> tuple[dict[str, ArrayHeader], dict[str, TensorEntry], dict[str, Any]]:
    """A ``.safetensors`` dump's fields as headers, its tensors, and values from its metadata.

    Tokens are JSON lists of strings in ``__metadata__``; ``causal`` and ``scale`` may
    be a one-element tensor or text there (``"true"``, ``"0.125"``), not both.
    """
    source = st.source
    if _dump_kind(list(st.tensors), source, weights_only, "tensor") == "attention":
        wanted: tuple[str, ...] = ("attention", "causal")
    else:
        wanted = ("q", "k", "scale", "causal")
    tensors = {name: st.tensors[name] for name in wanted if name in st.tensors}
    headers = {
        name: ArrayHeader(name, entry.shape, entry.stored, False) for name, entry in tensors.items()
    }
    values: dict[str, Any] = {}
    for name in ("tokens", "key_tokens"):
        text = st.metadata.get(name)
        if text is None:
            if name == "tokens":
                msg = (
                    "missing field 'tokens': a .safetensors dump keeps its tokens in "
                    "__metadata__['tokens'] as a JSON list of strings"
                )
                raise _fail(source, msg)
            continue
        values[name] = _metadata_tokens(source, name, text)
        headers[name] = ArrayHeader(name, values[name].shape, values[name].dtype, False)
    for name in ("causal", "scale"):
        if name in st.metadata:
            if name in tensors:
                msg = f"field '{name}': given both as a tensor and in __metadata__; keep one"
                raise _fail(source, msg)
            values[name] = st.metadata[name]
    if "scale" in values:
        try:
            values["scale"] = np.float64(values["scale"])
        except ValueError:
            msg = f"field 'scale': expected a number in __metadata__, got {values['scale'][:40]!r}"
            raise _fail(source, msg) from None
    if "causal" in values:
        values["causal"] = _causal_flag(source, values["causal"])
    return headers, tensors, values


def _metadata_tokens(source: str, name: str, text: str) -> np.ndarray:
    """``__metadata__[name]``: a JSON list of strings, as a NumPy string array."""
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        items = None
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        msg = f"field '{name}': expected a JSON list of strings in __metadata__['{name}']"
        raise _fail(source, msg)
    return np.array(items, dtype=str) if items else np.empty(0, dtype="<U1")


def _npz_headers(file: Path, pick: Callable[[list[str]], Iterable[str]]) -> dict[str, ArrayHeader]:
    """The headers of the fields ``pick`` chooses from an archive's field names; no data read.

    The file is checked first (:func:`_check_file`), every member must be a ``.npy``
    array stored once, a damaged archive is named as such, and a field of Python
    objects is refused from its header.
    """
    source = str(file)
    _check_file(file)
    try:
        with zipfile.ZipFile(file) as archive:
            members = _npz_members(archive, source)
            headers = {}
            for name in pick(list(members)):
                with archive.open(members[name]) as handle:
                    headers[name] = _read_header(handle, source, name)
    except AtlasError:
        raise
    except _READ_ERRORS as exc:
        raise _damaged(source, exc) from exc
    for header in headers.values():
        if header.dtype.hasobject:
            raise _pickled(source, header.name)
    return headers


def _npz_members(archive: zipfile.ZipFile, source: str) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by field name, after checking every member's name."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if info.is_dir() or not info.filename.endswith(".npy"):
            msg = (
                f"member {info.filename!r} is not a .npy array; a .npz archive holds only "
                f"arrays (write it with numpy.savez)"
            )
            raise _fail(source, msg)
        name = info.filename.removesuffix(".npy")
        if name in members:
            raise _fail(source, f"field '{name}' is stored twice in the archive")
        members[name] = info
    return members


def _wanted_fields(names: list[str], source: str, weights_only: bool) -> list[str]:
    """The fields of a one-map dump the job reads, of those the archive holds."""
    if _dump_kind(names, source, weights_only, "field") == "attention":
        wanted: tuple[str, ...] = ("attention", "tokens", "key_tokens", "causal")
    else:
        wanted = ("q", "k", "tokens", "key_tokens", "scale", "causal")
    if "tokens" not in names:
        listed = ", ".join(repr(n) for n in names)
        raise _fail(source, f"missing field 'tokens' (found {listed})")
    return [name for name in wanted if name in names]


def _dump_kind(
    names: list[str], source: str, weights_only: bool, what: str
) -> Literal["attention", "projections"]:
    """A dump of weights (``attention``) or of projections (``q`` and ``k``), by the
    names of its ``what`` ("field" or "tensor")."""
    if "attention" in names:
        return "attention"
    if "q" in names and "k" in names:
        if weights_only:
            msg = "holds 'q' and 'k' but no 'attention': this needs the weights themselves"
            raise _fail(source, msg)
        return "projections"
    listed = ", ".join(repr(n) for n in names) or f"no {what}s"
    raise _fail(source, f"missing {what} 'attention' (or 'q' and 'k') (found {listed})")


def _priced(
    source: str, headers: dict[str, ArrayHeader], parts: dict[str, int], budget: int
) -> int:
    """The job's memory: :data:`JOB_BYTES` plus each field's ``parts``, within ``budget``.

    Over the budget, the error names the field that needs the most.
    """
    need = JOB_BYTES + sum(parts.values())
    if need > budget:
        largest = max(parts, key=lambda name: parts[name])
        raise over_budget(f"{source}: {headers[largest].describe()} needs", need, budget)
    return need


def _token_parts(
    source: str, headers: dict[str, ArrayHeader], n: int, m: int, shaped: str
) -> dict[str, int]:
    """Check the token fields' headers against N and M; their memory as Python strings."""
    parts = {}
    for name, count, axis in (
        ("tokens", n, "query positions (N)"),
        ("key_tokens", m, "key positions (M)"),
    ):
        header = headers.get(name)
        if header is None:
            continue
        _token_shape(source, name, header.shape, header.dtype, count, axis, shaped)
        parts[name] = token_bytes(header.count, header.dtype.itemsize, header.dtype.kind)
    return parts


def _map_parts(source: str, headers: dict[str, ArrayHeader]) -> dict[str, int]:
    """Memory of a report of a weights dump, by field (after checking every header)."""
    att = headers["attention"]
    layers, heads, n, m = _map_shape(source, att.dtype, att.shape)
    shaped = f"attention shaped {att.shape}"
    if "key_tokens" not in headers:
        _missing_key_tokens(source, n, m, shaped)
    parts = _token_parts(source, headers, n, m, shaped)
    return {"attention": map_job_bytes(att.count, layers * heads), **parts}


def _projection_parts(
    source: str, headers: dict[str, ArrayHeader], *, lazy: bool = False
) -> dict[str, int]:
    """Memory of a streamed report of a dump of queries and keys, by field."""
    from attention_atlas.dumps.stream import working_bytes

    q, k = headers["q"], headers["k"]
    layers, heads, n, d = _projection_shape(source, "q", q.dtype, q.shape)
    m = _projection_shape(source, "k", k.dtype, k.shape)[2]
    _projections_match(source, q.shape, k.shape)
    scale = headers.get("scale")
    if scale is not None and (scale.count != 1 or scale.dtype.kind not in "fiu"):
        msg = f"field 'scale': expected one finite number, got {scale.dtype} {scale.shape}"
        raise _fail(source, msg)
    shaped = f"q shaped {q.shape}"
    if "key_tokens" not in headers:
        _missing_key_tokens(source, n, m, f"k shaped {k.shape}")
    parts = _token_parts(source, headers, n, m, shaped)
    # While loading: each stored array and its float32 copy. Then the float32 copies
    # and the streamed pass's working memory (attention_atlas.dumps.stream), which
    # takes the stored arrays' place and is counted with the larger of q and k.
    if lazy:
        # Left in the file: each layer's float32 copy while it is checked, then only
        # the streamed pass's working memory (one head's q and k per worker).
        parts["q"] = 4 * q.count // layers
        parts["k"] = working_bytes(layers, heads, n, m, d) + 4 * k.count // layers
        return parts
    parts["q"] = 4 * q.count + q.nbytes
    parts["k"] = 4 * k.count + k.nbytes
    extra = working_bytes(layers, heads, n, m, d) - q.nbytes - k.nbytes
    parts["k" if k.nbytes >= q.nbytes else "q"] += max(0, extra)
    return parts


def _read_fields(
    path: Path, *, max_memory: int | str | None, weights_only: bool = False
) -> tuple[str, dict[str, Any]]:
    """The kind of dump and the fields its job reads, decoded only after every check.

    ``q`` and ``k`` of a ``.safetensors`` dump come back as :class:`StoredTensor`, left
    in the file.
    """
    plan = inspect_dump(path, max_memory=max_memory, weights_only=weights_only)
    source = plan.source
    if plan.tensors:
        fields: dict[str, Any] = dict(plan.values)
        for name, entry in plan.tensors.items():
            if plan.lazy and name in ("q", "k"):
                shape4 = (1,) * (4 - len(entry.shape)) + entry.shape
                fields[name] = StoredTensor(path, entry, shape4)
            else:
                raw = read_tensor(path, entry)
                fields[name] = raw if entry.dtype == "BOOL" else _widened(raw, entry.dtype)
        return plan.kind, fields
    return plan.kind, read_npz_fields(path, source, plan.fields)


def read_npz_fields(
    path: Path, source: str, headers: dict[str, ArrayHeader]
) -> dict[str, np.ndarray]:
    """The data of every field of an ``.npz`` whose headers were checked and priced.

    Each member's header is read again and must be the one checked (the file may have
    changed since); its data fills an array of the declared size and never more.
    """
    fields = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name, header in headers.items():
                with archive.open(f"{name}.npy") as handle:
                    if _read_header(handle, source, name) != header:
                        raise _fail(source, f"field '{name}': changed while it was read")
                    fields[name] = _read_data(handle, header, source)
    except AtlasError:
        raise
    except _READ_ERRORS as exc:
        raise _damaged(source, exc) from exc
    return fields


def _widened(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Stored numbers as NumPy can compute with them: ``BF16`` words become float32."""
    return to_float32(raw, dtype) if dtype == "BF16" else raw


# --------------------------------------------------------------------------- shape rules
# Each rule is checked twice with the same message: on the headers before any data
# is read, and on arrays handed over in memory (validate_dump, validate_projections).


def _map_shape(
    source: str, dtype: np.dtype[Any], stored: tuple[int, ...], name: str = "attention"
) -> tuple[int, ...]:
    """A map field (``attention``, or an encoder-decoder's three): real numbers,
    (L, H, N, M), (H, N, M) or (N, M), no empty axis; returned as (L, H, N, M)."""
    if dtype.kind not in "fiu":
        msg = f"field '{name}': expected real numbers (float), got dtype {dtype}"
        raise _fail(source, msg)
    if len(stored) not in (2, 3, 4):
        msg = f"field '{name}': expected shape (L, H, N, M), (H, N, M) or (N, M), got {stored}"
        raise _shape_fail(source, msg)
    if 0 in stored:
        msg = f"field '{name}': every axis needs at least one position, got shape {stored}"
        raise _shape_fail(source, msg)
    return (1,) * (4 - len(stored)) + stored


def _projection_shape(
    source: str, name: str, dtype: np.dtype[Any], stored: tuple[int, ...]
) -> tuple[int, ...]:
    """``q`` or ``k``: real numbers, (L, H, N, d), (H, N, d) or (N, d), no empty axis."""
    if dtype.kind not in "fiu":
        raise _fail(source, f"field '{name}': expected real numbers (float), got dtype {dtype}")
    if len(stored) not in (2, 3, 4) or 0 in stored:
        msg = f"field '{name}': expected shape (L, H, N, d), (H, N, d) or (N, d), got {stored}"
        raise _shape_fail(source, msg)
    return (1,) * (4 - len(stored)) + stored


def _projections_match(source: str, q: tuple[int, ...], k: tuple[int, ...]) -> None:
    """``k`` has ``q``'s layers and width d, and H_kv heads dividing q's H."""
    q4 = (1,) * (4 - len(q)) + q
    k4 = (1,) * (4 - len(k)) + k
    if len(q) != len(k) or q4[0] != k4[0] or q4[3] != k4[3]:
        msg = (
            f"field 'k': shape {k} does not match q {q}: expected the same axes, layers "
            f"and width d; only the heads (H_kv dividing H) and positions may differ"
        )
        raise _shape_fail(source, msg)
    if q4[1] % k4[1]:
        msg = (
            f"field 'k': {k4[1]} key heads do not divide q's {q4[1]} heads (k {k}, q {q}): "
            f"grouped-query attention needs H a multiple of H_kv"
        )
        raise _shape_fail(source, msg)


def _causal_flag(source: str, value: Any) -> bool:
    """``causal``: one boolean (a bool array of one element, or "true"/"false" as text)."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        msg = f'field \'causal\': expected "true" or "false", got {value[:40]!r}'
        raise _fail(source, msg)
    arr = np.asarray(value)
    if arr.dtype.kind != "b" or arr.size != 1:
        msg = (
            f"field 'causal': expected one boolean (True or False), got {arr.dtype} "
            f"shaped {arr.shape}"
        )
        raise _fail(source, msg)
    return bool(arr.reshape(()))


def _causal_fits(source: str, causal: bool, n: int, m: int, shaped: str) -> None:
    """A causal dump's queries are the last N of its M keys, so N <= M."""
    if causal and n > m:
        msg = (
            f"field 'causal': true, but {shaped} has {n} queries (N) and {m} keys (M); "
            f"causal queries are the last N of the M key positions, so N <= M"
        )
        raise _shape_fail(source, msg)


def _future_weights(
    source: str, weights: NDArray[np.float64], offset: int, tolerance: float
) -> None:
    """Refuse a causal map that gives a future key (j > i + offset) more than ``tolerance``."""
    layers, heads, n, m = weights.shape
    future = np.triu(np.ones((n, m), dtype=bool), k=offset + 1)  # (N, M)
    if not future.any():
        return
    for layer in range(layers):
        for head in range(heads):  # one head at a time: extra memory of one map
            masked = np.where(future, weights[layer, head], 0.0)
            if masked.max() > tolerance:
                row, col = np.unravel_index(int(np.argmax(masked)), masked.shape)
                count = int((masked > tolerance).sum())
                msg = (
                    f"field 'attention': causal is true, but layer {layer}, head {head}, "
                    f"row {row} gives {significant(masked[row, col], 4)} to column {col}, "
                    f"a future key (row {row} may see columns 0 to {row + offset}); "
                    f"{count} such weight(s) in this head above {significant(tolerance, 6)}"
                )
                raise _fail(source, msg)


def _token_shape(
    source: str,
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    count: int,
    axis: str,
    shaped: str,
) -> None:
    """A token field: 1-D strings, ``count`` of them (``shaped`` names what fixes the count)."""
    if len(shape) != 1:
        msg = f"field '{name}': expected a 1-D array of {count} strings, got shape {shape}"
        raise _shape_fail(source, msg)
    if dtype.kind not in "SU":
        msg = f"field '{name}': expected strings (dtype str), got dtype {dtype}"
        raise _fail(source, msg)
    if shape[0] != count:
        msg = f"field '{name}': {shape[0]} tokens, but {shaped} has {count} {axis}"
        raise _shape_fail(source, msg)


def _missing_key_tokens(source: str, n: int, m: int, shaped: str) -> None:
    """Without ``key_tokens`` the keys are the query tokens, so M must equal N."""
    if m != n:
        msg = (
            f"field 'key_tokens': missing, but {shaped} has {m} key positions (M) and "
            f"{n} tokens (N); add key_tokens with {m} strings"
        )
        raise _shape_fail(source, msg)


def _query_and_key_tokens(
    source: str, tokens: Any, key_tokens: Any, nm: tuple[int, int], shaped: str, k_shaped: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The N query tokens and M key tokens (the query tokens when ``key_tokens`` is None).

    ``shaped`` and ``k_shaped`` name the arrays whose N and M the tokens must match.
    """
    n, m = nm
    toks = _token_tuple(source, "tokens", np.asarray(tokens), n, "query positions (N)", shaped)
    if key_tokens is None:
        _missing_key_tokens(source, n, m, k_shaped)
        return toks, toks
    keys = _token_tuple(
        source, "key_tokens", np.asarray(key_tokens), m, "key positions (M)", shaped
    )
    return toks, keys


def _token_tuple(
    source: str, name: str, arr: np.ndarray, count: int, axis: str, shaped: str
) -> tuple[str, ...]:
    """Check a token field: 1-D strings, ``count`` of them; return them as text."""
    _token_shape(source, name, arr.shape, arr.dtype, count, axis, shaped)
    if arr.dtype.kind == "S":
        try:
            return tuple(bytes(b).decode("utf-8") for b in arr.tolist())
        except UnicodeDecodeError as exc:
            msg = f"field '{name}': bytes that are not UTF-8 text at position {exc.start}"
            raise _fail(source, msg) from exc
    return tuple(str(s) for s in arr.tolist())


def _where(shape: tuple[int, ...], flat: int) -> str:
    """``layer 0, head 1, row 2, column 3`` for a flat index into an (L, H, N, M) array."""
    layer, head, row, col = np.unravel_index(flat, shape)
    return f"layer {layer}, head {head}, row {row}, column {col}"


def _row_name(shape: tuple[int, ...], flat: int) -> str:
    layer, head, row = np.unravel_index(flat, shape)
    return f"L{layer} H{head} row {row}"


def _all_finite(values: NDArray[np.floating]) -> bool:
    """True when no value is NaN or infinite, without a mask the size of ``values``.

    NaN and infinity carry through a sum; a float64 sum of float32 or float16 values
    cannot overflow, and one of float64 values that does is checked value by value.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(values, dtype=np.float64)
    return bool(np.isfinite(total)) or bool(np.isfinite(values).all())


def validate_dump(
    attention: Any,
    tokens: Any,
    key_tokens: Any = None,
    *,
    source: str = "attention dump",
    causal: Any = False,
) -> AttentionDump:
    """Check arrays already in memory, exactly as :func:`load_dump` checks a file.

    Parameters
    ----------
    attention : ndarray, shape (L, H, N, M), (H, N, M) or (N, M)
        Non-negative, finite weights; rows sum to 1 (or are all 0).
    tokens : ndarray of str, shape (N,)
    key_tokens : ndarray of str, shape (M,), optional
        Needed when M != N.
    source : str
    causal : bool or bool array of one element, default False
        Query i sees keys ``j <= i + M - N`` only: every weight above that diagonal
        must be at most :data:`CAUSAL_TOLERANCE` (``AtlasError`` naming the first
        layer, head, row and column that is not). Needs N <= M.
        Name used at the start of every error message.

    Returns
    -------
    dump : AttentionDump
    """
    att = np.asarray(attention)
    stored = tuple(int(s) for s in att.shape)
    shape4 = _map_shape(source, att.dtype, stored)
    weights = att.astype(np.float64).reshape(shape4)
    n, m = shape4[2], shape4[3]
    shaped = f"attention shaped {stored}"

    toks, keys = _query_and_key_tokens(source, tokens, key_tokens, (n, m), shaped, shaped)

    if not _all_finite(weights):
        bad = ~np.isfinite(weights)
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"field 'attention': {int(bad.sum())} value(s) are NaN or infinite, "
            f"first at {_where(shape4, first)}; expected finite weights"
        )
        raise _fail(source, msg)
    if weights.min() < 0:
        negative = weights < 0
        first = int(np.argmin(weights))
        msg = (
            f"field 'attention': {int(negative.sum())} negative value(s), smallest "
            f"{significant(weights.reshape(-1)[first], 4)} at {_where(shape4, first)}; "
            "expected weights after the softmax (>= 0), not raw scores"
        )
        raise _fail(source, msg)

    is_causal = _causal_flag(source, causal)
    _causal_fits(source, is_causal, n, m, shaped)
    if is_causal:
        _future_weights(source, weights, m - n, CAUSAL_TOLERANCE)
    warnings, zero_rows = _row_sum_notes(weights, source)
    return AttentionDump(
        source=source,
        attention=weights,
        tokens=toks,
        key_tokens=keys,
        stored_shape=stored,
        warnings=tuple(warnings),
        zero_rows=zero_rows,
        causal=is_causal,
    )


def _row_sum_notes(weights: NDArray[np.float64], source: str) -> tuple[list[str], int]:
    """Warnings for rows whose sum is off 1 by more than the tolerance, and the all-zero count."""
    sums = weights.sum(axis=-1)  # (L, H, N)
    zero = sums == 0
    gap = np.where(zero, 0.0, np.abs(sums - 1.0))
    off = gap > ROW_SUM_TOLERANCE
    notes = []
    count = int(off.sum())
    if count:
        flat = np.flatnonzero(off)
        order = flat[np.argsort(-gap.reshape(-1)[flat], kind="stable")]
        listed = ", ".join(
            f"{_row_name(sums.shape, int(i))} sums to {significant(sums.reshape(-1)[i], 4)}"
            for i in order[:_LISTED_ROWS]
        )
        more = f" and {count - _LISTED_ROWS} more" if count > _LISTED_ROWS else ""
        notes.append(
            f"{source}: field 'attention': {count} of {sums.size} rows do not sum to 1 "
            f"(off by more than {significant(ROW_SUM_TOLERANCE, 6)}; largest gap "
            f"{significant(gap.max(), 4)}): {listed}{more}; they are shown as given, "
            "not renormalised"
        )
    return notes, int(zero.sum())


def _not_finite(source: str, name: str, values: NDArray[np.float32], at: tuple[int, ...]) -> None:
    if not _all_finite(values):
        bad = ~np.isfinite(values)
        where = at + tuple(int(i) for i in np.argwhere(bad)[0])
        msg = (
            f"field '{name}': {int(bad.sum())} value(s) are NaN or infinite (or overflow "
            f"float32), first at index {where}"
        )
        raise _fail(source, msg)


def _projection(source: str, name: str, arr: Any) -> NDArray[np.float32] | StoredTensor:
    """Check ``q`` or ``k``: real, finite, (N, d) to (L, H, N, d); float32, four axes.

    A :class:`StoredTensor` is checked one layer at a time and left in its file.
    """
    if isinstance(arr, StoredTensor):
        for layer in range(arr.shape[0]):
            lead = (layer,) if len(arr.entry.shape) == 4 else ()
            _not_finite(source, name, arr.part(layer), lead)
        return arr
    a = np.asarray(arr)
    stored = tuple(int(s) for s in a.shape)
    shape4 = _projection_shape(source, name, a.dtype, stored)
    out = a.astype(np.float32).reshape(shape4)
    _not_finite(source, name, out, ())
    return out


def _stored_shape(arr: Any) -> tuple[int, ...]:
    if isinstance(arr, StoredTensor):
        return arr.entry.shape
    return tuple(int(s) for s in np.shape(arr))


def validate_projections(
    q: Any,
    k: Any,
    tokens: Any,
    key_tokens: Any = None,
    scale: Any = None,
    *,
    source: str = "attention dump",
    causal: Any = False,
) -> ProjectionDump:
    """Check queries and keys in memory, exactly as :func:`load_any` checks a file.

    Parameters
    ----------
    q : ndarray, shape (L, H, N, d), (H, N, d) or (N, d)
    k : ndarray, shape (L, H_kv, M, d), (H_kv, M, d) or (M, d)
        ``q``'s layers and d; H_kv divides H (query head h reads key head
        ``h // (H // H_kv)``, grouped-query attention).
    tokens : ndarray of str, shape (N,)
    key_tokens : ndarray of str, shape (M,), optional
        Needed when M != N.
    scale : float, optional
        Default ``1 / sqrt(d)``.
    source : str
    causal : bool or bool array of one element, default False
        Query i sees keys ``j <= i + M - N`` only; needs N <= M.

    Returns
    -------
    dump : ProjectionDump
    """
    stored = _stored_shape(q)
    k_stored = _stored_shape(k)
    qa = _projection(source, "q", q)
    ka = _projection(source, "k", k)
    _projections_match(source, stored, k_stored)
    n, m, d = int(qa.shape[2]), int(ka.shape[2]), int(qa.shape[3])
    shaped = f"q shaped {stored}"
    toks, keys = _query_and_key_tokens(
        source, tokens, key_tokens, (n, m), shaped, f"k shaped {k_stored}"
    )
    if scale is None:
        factor = 1.0 / float(np.sqrt(d))
    else:
        value = np.asarray(scale)
        if value.size != 1 or value.dtype.kind not in "fiu" or not np.isfinite(value).all():
            msg = f"field 'scale': expected one finite number, got {value!r}"
            raise _fail(source, msg)
        factor = float(value.reshape(()))
    is_causal = _causal_flag(source, causal)
    _causal_fits(source, is_causal, n, m, f"q shaped {stored} and k {k_stored}")
    return ProjectionDump(
        source=source,
        q=qa,
        k=ka,
        scale=factor,
        tokens=toks,
        key_tokens=keys,
        stored_shape=stored,
        causal=is_causal,
    )


def load_any(
    path: str | Path, *, max_memory: int | str | None = None
) -> AttentionDump | ProjectionDump:
    """Load a dump of attention weights, or of queries and keys (``q``, ``k``).

    ``.safetensors`` files (by their suffix) keep ``q`` and ``k`` in the file
    (:class:`StoredTensor`); ``.npz`` files are read into memory as float32.

    Parameters
    ----------
    path : str or Path
    max_memory : int or str, optional
        Memory the report of this dump may use, in bytes or as ``"4G"`` (default
        :data:`~attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`): checked from the
        arrays' headers before any data is read (:func:`inspect_dump`).

    Raises
    ------
    AtlasError
        As :func:`load_dump`, and for ``q``/``k`` of mismatched shapes or a bad ``scale``.
    """
    file = Path(path)
    kind, fields = _read_fields(file, max_memory=max_memory)
    if kind == "attention":
        return _attention_dump(fields, str(file))
    return validate_projections(
        fields["q"],
        fields["k"],
        fields["tokens"],
        fields.get("key_tokens"),
        fields.get("scale"),
        source=str(file),
        causal=fields.get("causal", False),
    )


def load_dump(path: str | Path, *, max_memory: int | str | None = None) -> AttentionDump:
    """Load and check a user's ``.npz`` or ``.safetensors`` attention dump.

    Parameters
    ----------
    path : str or Path
        A file written by ``numpy.savez`` / ``numpy.savez_compressed`` (or
        :func:`~attention_atlas.dumps.save.save_dump`) with the fields ``attention``,
        ``tokens`` and optionally ``key_tokens`` and ``causal``; a ``.safetensors``
        file (by its suffix) with its tokens in ``__metadata__``.
    max_memory : int or str, optional
        Memory a report or export of this dump may use, in bytes or as ``"4G"``
        (default :data:`~attention_atlas.dumps.budget.DEFAULT_MAX_MEMORY`). The job's
        need is priced from the arrays' headers before any data is read.

    Returns
    -------
    dump : AttentionDump

    Raises
    ------
    AtlasError
        One line naming the file and the field: not a file, empty, not a zip or
        truncated, a member that is not a ``.npy`` array, pickled objects, a missing
        field, wrong number of axes, token counts that do not match N or M, data
        longer or shorter than its header declares, more memory than the budget,
        NaN or infinity, negative weights.
    """
    file = Path(path)
    _, fields = _read_fields(file, max_memory=max_memory, weights_only=True)
    return _attention_dump(fields, str(file))


def _attention_dump(fields: dict[str, Any], source: str) -> AttentionDump:
    """The fields of a dump of weights, read from ``source``, checked by :func:`validate_dump`."""
    return validate_dump(
        fields["attention"],
        fields["tokens"],
        fields.get("key_tokens"),
        source=source,
        causal=fields.get("causal", False),
    )
