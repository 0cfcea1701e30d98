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

:func:`load_any` reads either kind; :func:`load_dump` only the first.

The file is always read with ``allow_pickle=False``: a pickled field can run code,
so one is refused, never loaded. Every problem raises :class:`~attention_atlas.errors.AtlasError`
with one line naming the file and the field, what was expected and what was found.

Rows that do not sum to 1 are *not* an error: all-zero rows (queries with nothing
to attend, such as padding) are accepted as they are, and rows whose sum is off by
more than :data:`ROW_SUM_TOLERANCE` produce a warning naming the rows and the
largest gap. Those rows are shown as given, never renormalised.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from attention_atlas.errors import AtlasError, ShapeError

__all__ = [
    "ROW_SUM_TOLERANCE",
    "AttentionDump",
    "ProjectionDump",
    "load_any",
    "load_dump",
    "validate_dump",
    "validate_projections",
]

#: A row whose weights sum to 1 within this absolute tolerance counts as a distribution.
ROW_SUM_TOLERANCE = 1e-3

#: Rows listed by name in a warning before it says "and K more".
_LISTED_ROWS = 5

_FIELDS = ("attention", "tokens", "key_tokens", "q", "k", "scale")


@dataclass(frozen=True)
class AttentionDump:
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
    """

    source: str
    attention: NDArray[np.float64]
    tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    stored_shape: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())
    zero_rows: int = 0

    @property
    def layers(self) -> int:
        """L."""
        return int(self.attention.shape[0])

    @property
    def heads(self) -> int:
        """H."""
        return int(self.attention.shape[1])

    @property
    def n(self) -> int:
        """N, query positions."""
        return int(self.attention.shape[2])

    @property
    def m(self) -> int:
        """M, key positions."""
        return int(self.attention.shape[3])

    @property
    def self_attention(self) -> bool:
        """True when queries and keys are the same tokens (an N x N map)."""
        return self.n == self.m and self.tokens == self.key_tokens

    def head(self, layer: int, head: int) -> NDArray[np.float64]:
        """One head's map, shape (N, M); ``AtlasError`` naming the valid range if out of it."""
        check_head(self, layer, head)
        return self.attention[layer, head]


@dataclass(frozen=True)
class ProjectionDump:
    """A checked dump of queries and keys, always four-dimensional; maps are never stored.

    Attributes
    ----------
    source : str
    q : ndarray of float32, shape (L, H, N, d)
    k : ndarray of float32, shape (L, H, M, d)
    scale : float
        Multiplies ``q k^T`` before the softmax.
    tokens : tuple of str, length N
    key_tokens : tuple of str, length M
    stored_shape : tuple of int
        ``q``'s shape as stored in the file.
    warnings : tuple of str
        Always empty: weights computed from q and k are distributions by construction.
    """

    source: str
    q: NDArray[np.float32]
    k: NDArray[np.float32]
    scale: float
    tokens: tuple[str, ...]
    key_tokens: tuple[str, ...]
    stored_shape: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def layers(self) -> int:
        """L."""
        return int(self.q.shape[0])

    @property
    def heads(self) -> int:
        """H."""
        return int(self.q.shape[1])

    @property
    def n(self) -> int:
        """N, query positions."""
        return int(self.q.shape[2])

    @property
    def m(self) -> int:
        """M, key positions."""
        return int(self.k.shape[2])

    @property
    def self_attention(self) -> bool:
        return self.key_tokens == self.tokens

    @property
    def map_bytes(self) -> int:
        """Bytes every head's float32 map would take together, were they stored."""
        return 4 * self.layers * self.heads * self.n * self.m


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


def _read_fields(path: Path) -> dict[str, np.ndarray]:
    """The archive's fields we know, read with ``allow_pickle=False``."""
    source = str(path)
    if not path.exists():
        raise _fail(source, "file not found (expected a .npz archive)")
    if path.is_dir():
        raise _fail(source, "is a folder, expected a .npz file")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(6)
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
    if not zipfile.is_zipfile(path):
        msg = "is not a .npz archive (not a zip file, or truncated); write it with numpy.savez"
        raise _fail(source, msg)
    fields: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            for name in _FIELDS:
                if name not in names:
                    continue
                try:
                    value = archive[name]
                except ValueError as exc:
                    if "pickle" in str(exc).lower() or "object" in str(exc).lower():
                        msg = (
                            f"field '{name}': holds Python objects (a pickled array), which are "
                            f"never loaded; save strings as np.array(..., dtype=str) "
                            f"and numbers as a float array"
                        )
                        raise _fail(source, msg) from exc
                    raise _fail(source, f"field '{name}': cannot be read ({exc})") from exc
                if not isinstance(value, np.ndarray):
                    msg = (
                        f"field '{name}': not a NumPy array (raw or pickled bytes, never "
                        f"loaded); write the file with numpy.savez"
                    )
                    raise _fail(source, msg)
                fields[name] = value
    except AtlasError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"is a damaged .npz archive (truncated or corrupt: {detail})"
        raise _fail(source, msg) from exc
    found = ", ".join(repr(n.removesuffix(".npy")) for n in names) or "no fields"
    if "attention" not in fields and not ("q" in fields and "k" in fields):
        raise _fail(source, f"missing field 'attention' (or 'q' and 'k') (found {found})")
    if "tokens" not in fields:
        raise _fail(source, f"missing field 'tokens' (found {found})")
    return fields


def _token_tuple(
    source: str, name: str, arr: np.ndarray, count: int, axis: str, stored: tuple[int, ...]
) -> tuple[str, ...]:
    """Check a token field: 1-D strings, ``count`` of them."""
    if arr.ndim != 1:
        msg = f"field '{name}': expected a 1-D array of {count} strings, got shape {arr.shape}"
        raise _shape_fail(source, msg)
    if arr.dtype.kind == "S":
        try:
            values = [bytes(b).decode("utf-8") for b in arr.tolist()]
        except UnicodeDecodeError as exc:
            msg = f"field '{name}': bytes that are not UTF-8 text at position {exc.start}"
            raise _fail(source, msg) from exc
    elif arr.dtype.kind == "U":
        values = [str(s) for s in arr.tolist()]
    else:
        msg = f"field '{name}': expected strings (dtype str), got dtype {arr.dtype}"
        raise _fail(source, msg)
    if len(values) != count:
        msg = (
            f"field '{name}': {len(values)} tokens, but attention shaped {stored} "
            f"has {count} {axis}"
        )
        raise _shape_fail(source, msg)
    return tuple(values)


def _where(shape: tuple[int, ...], flat: int) -> str:
    """``layer 0, head 1, row 2, column 3`` for a flat index into an (L, H, N, M) array."""
    layer, head, row, col = np.unravel_index(flat, shape)
    return f"layer {layer}, head {head}, row {row}, column {col}"


def _row_name(shape: tuple[int, ...], flat: int) -> str:
    layer, head, row = np.unravel_index(flat, shape)
    return f"L{layer} H{head} row {row}"


def validate_dump(
    attention: Any,
    tokens: Any,
    key_tokens: Any = None,
    *,
    source: str = "attention dump",
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
        Name used at the start of every error message.

    Returns
    -------
    dump : AttentionDump
    """
    att = np.asarray(attention)
    stored = tuple(int(s) for s in att.shape)
    if att.dtype.kind not in "fiu":
        msg = f"field 'attention': expected real numbers (float), got dtype {att.dtype}"
        raise _fail(source, msg)
    if att.ndim not in (2, 3, 4):
        msg = f"field 'attention': expected shape (L, H, N, M), (H, N, M) or (N, M), got {stored}"
        raise _shape_fail(source, msg)
    if 0 in stored:
        msg = f"field 'attention': every axis needs at least one position, got shape {stored}"
        raise _shape_fail(source, msg)
    weights = att.astype(np.float64).reshape((1,) * (4 - att.ndim) + stored)
    shape4 = tuple(int(s) for s in weights.shape)
    n, m = shape4[2], shape4[3]

    toks = _token_tuple(source, "tokens", np.asarray(tokens), n, "query positions (N)", stored)
    if key_tokens is None:
        if m != n:
            msg = (
                f"field 'key_tokens': missing, but attention shaped {stored} has {m} key "
                f"positions (M) and {n} tokens (N); add key_tokens with {m} strings"
            )
            raise _shape_fail(source, msg)
        keys = toks
    else:
        keys = _token_tuple(
            source, "key_tokens", np.asarray(key_tokens), m, "key positions (M)", stored
        )

    bad = ~np.isfinite(weights)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"field 'attention': {int(bad.sum())} value(s) are NaN or infinite, "
            f"first at {_where(shape4, first)}; expected finite weights"
        )
        raise _fail(source, msg)
    negative = weights < 0
    if negative.any():
        first = int(np.argmin(weights))
        msg = (
            f"field 'attention': {int(negative.sum())} negative value(s), smallest "
            f"{weights.reshape(-1)[first]:.4g} at {_where(shape4, first)}; expected "
            f"weights after the softmax (>= 0), not raw scores"
        )
        raise _fail(source, msg)

    warnings, zero_rows = _row_sum_notes(weights, source)
    return AttentionDump(
        source=source,
        attention=weights,
        tokens=toks,
        key_tokens=keys,
        stored_shape=stored,
        warnings=tuple(warnings),
        zero_rows=zero_rows,
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
            f"{_row_name(sums.shape, int(i))} sums to {sums.reshape(-1)[i]:.4g}"
            for i in order[:_LISTED_ROWS]
        )
        more = f" and {count - _LISTED_ROWS} more" if count > _LISTED_ROWS else ""
        notes.append(
            f"{source}: field 'attention': {count} of {sums.size} rows do not sum to 1 "
            f"(off by more than {ROW_SUM_TOLERANCE:g}; largest gap "
            f"{float(gap.max()):.4g}): {listed}{more}; they are shown as given, not renormalised"
        )
    return notes, int(zero.sum())


def _projection(source: str, name: str, arr: Any) -> NDArray[np.float32]:
    """Check ``q`` or ``k``: real, finite, (N, d) to (L, H, N, d); float32, four axes."""
    a = np.asarray(arr)
    stored = tuple(int(s) for s in a.shape)
    if a.dtype.kind not in "fiu":
        raise _fail(source, f"field '{name}': expected real numbers (float), got dtype {a.dtype}")
    if a.ndim not in (2, 3, 4) or 0 in stored:
        msg = f"field '{name}': expected shape (L, H, N, d), (H, N, d) or (N, d), got {stored}"
        raise _shape_fail(source, msg)
    out = a.astype(np.float32).reshape((1,) * (4 - a.ndim) + stored)
    bad = ~np.isfinite(out)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        msg = (
            f"field '{name}': {int(bad.sum())} value(s) are NaN or infinite (or overflow "
            f"float32), first at index {where}"
        )
        raise _fail(source, msg)
    return out


def validate_projections(
    q: Any,
    k: Any,
    tokens: Any,
    key_tokens: Any = None,
    scale: Any = None,
    *,
    source: str = "attention dump",
) -> ProjectionDump:
    """Check queries and keys in memory, exactly as :func:`load_any` checks a file.

    Parameters
    ----------
    q : ndarray, shape (L, H, N, d), (H, N, d) or (N, d)
    k : ndarray, shape (L, H, M, d), (H, M, d) or (M, d): ``q``'s leading axes and d
    tokens : ndarray of str, shape (N,)
    key_tokens : ndarray of str, shape (M,), optional
        Needed when M != N.
    scale : float, optional
        Default ``1 / sqrt(d)``.
    source : str

    Returns
    -------
    dump : ProjectionDump
    """
    qa = _projection(source, "q", q)
    ka = _projection(source, "k", k)
    stored = tuple(int(s) for s in np.shape(q))
    if qa.shape[:2] != ka.shape[:2] or qa.shape[3] != ka.shape[3]:
        msg = (
            f"field 'k': shape {tuple(np.shape(k))} does not match q {stored}: expected the "
            f"same layers, heads and width d, only the positions may differ"
        )
        raise _shape_fail(source, msg)
    n, m, d = int(qa.shape[2]), int(ka.shape[2]), int(qa.shape[3])
    toks = _token_tuple(source, "tokens", np.asarray(tokens), n, "query positions (N)", stored)
    if key_tokens is None:
        if m != n:
            msg = (
                f"field 'key_tokens': missing, but k has {m} key positions (M) and there are "
                f"{n} tokens (N); add key_tokens with {m} strings"
            )
            raise _shape_fail(source, msg)
        keys = toks
    else:
        keys = _token_tuple(
            source, "key_tokens", np.asarray(key_tokens), m, "key positions (M)", stored
        )
    if scale is None:
        factor = 1.0 / float(np.sqrt(d))
    else:
        value = np.asarray(scale)
        if value.size != 1 or value.dtype.kind not in "fiu" or not np.isfinite(value).all():
            msg = f"field 'scale': expected one finite number, got {value!r}"
            raise _fail(source, msg)
        factor = float(value.reshape(()))
    return ProjectionDump(
        source=source,
        q=qa,
        k=ka,
        scale=factor,
        tokens=toks,
        key_tokens=keys,
        stored_shape=stored,
    )


def load_any(path: str | Path) -> AttentionDump | ProjectionDump:
    """Load a dump of attention weights, or of queries and keys (``q``, ``k``).

    Raises
    ------
    AtlasError
        As :func:`load_dump`, and for ``q``/``k`` of mismatched shapes or a bad ``scale``.
    """
    file = Path(path)
    fields = _read_fields(file)
    if "attention" in fields:
        return validate_dump(
            fields["attention"], fields["tokens"], fields.get("key_tokens"), source=str(file)
        )
    return validate_projections(
        fields["q"],
        fields["k"],
        fields["tokens"],
        fields.get("key_tokens"),
        fields.get("scale"),
        source=str(file),
    )


def load_dump(path: str | Path) -> AttentionDump:
    """Load and check a user's ``.npz`` attention dump.

    Parameters
    ----------
    path : str or Path
        A file written by ``numpy.savez`` / ``numpy.savez_compressed`` with the fields
        ``attention``, ``tokens`` and optionally ``key_tokens``.

    Returns
    -------
    dump : AttentionDump

    Raises
    ------
    AtlasError
        One line naming the file and the field: not a file, empty, not a zip or
        truncated, pickled objects, a missing field, wrong number of axes, token
        counts that do not match N or M, NaN or infinity, negative weights.
    """
    file = Path(path)
    fields = _read_fields(file)
    if "attention" not in fields:
        msg = "holds 'q' and 'k' but no 'attention': this needs the weights themselves"
        raise _fail(str(file), msg)
    return validate_dump(
        fields["attention"],
        fields["tokens"],
        fields.get("key_tokens"),
        source=str(file),
    )
