"""Input checks shared by the attention mechanisms, written once.

Every mechanism that takes queries, keys and values starts with
:func:`attention_inputs`: it converts each argument (naming it in any error),
checks it is finite, agrees on a compute dtype, checks the shapes against each
other and the mask against them all. The smaller helpers below serve the
functions with other arguments. Errors are :class:`~attention_atlas.errors.ShapeError`
for shapes and :class:`~attention_atlas.errors.AtlasError` for values (both
``ValueError``), and show what was expected and what arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.errors import AtlasError, ShapeError

Array = NDArray[Any]


def as_array(x: ArrayLike, name: str) -> Array:
    """Return ``x`` as a real numeric ndarray (no copy when it already is one)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be a numeric array, could not convert it ({exc})"
        raise AtlasError(msg) from exc
    if arr.dtype.kind not in "iuf":
        msg = f"{name} must hold real numbers, got dtype {arr.dtype} (shape {arr.shape})"
        raise AtlasError(msg)
    return arr


def compute_dtype(*arrays: Array) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """Return ``(work, result)`` dtypes for a computation over ``arrays``.

    Integers promote to float64; float16 is computed in float32 and the result is
    returned as float16; float32 and float64 are kept.
    """
    first = arrays[0].dtype
    if first.kind == "f" and first.itemsize >= 4 and all(a.dtype == first for a in arrays):
        return first, first  # the common case, without result_type's cost
    result = np.result_type(*[a.dtype for a in arrays])
    if result.kind != "f":
        result = np.dtype(np.float64)
    work = np.dtype(np.float32) if result.itemsize < 4 else result
    return work, result


def check_finite(x: Array, name: str, *, allow_neg_inf: bool = False) -> None:
    """Raise AtlasError naming ``name`` if ``x`` holds NaN or infinity."""
    if x.dtype.kind != "f" or x.size == 0:
        return
    # A finite sum proves every entry finite (NaN and inf propagate, inf - inf is
    # NaN): one reduction, no temporary array. A non-finite sum may be overflow of
    # huge finite values, so only then look element by element.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(x)
    if np.isfinite(total):
        return
    bad = np.isnan(x) | np.isposinf(x)
    if not allow_neg_inf:
        bad |= np.isneginf(x)
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = x[where]
    msg = (
        f"{name} must be finite but holds {value} at index {where} "
        f"({int(bad.sum())} bad value(s), {name} {x.shape})"
    )
    raise AtlasError(msg)


def float_input(x: ArrayLike, name: str, work: np.dtype[Any] | None = None) -> Array:
    """Convert, check finiteness and cast to ``work`` (no copy when it already matches)."""
    arr = as_array(x, name)
    check_finite(arr, name)
    if work is not None:
        arr = arr.astype(work, copy=False)
    return arr


def check_ndim(x: Array, name: str, min_ndim: int, what: str) -> None:
    """Require ``x.ndim >= min_ndim``; ``what`` spells the expected shape."""
    if x.ndim < min_ndim:
        msg = f"{name} must have shape {what}, got {x.shape} ({x.ndim}-D)"
        raise ShapeError(msg)


def check_exact(x: Array, name: str, shape: tuple[int, ...], what: str) -> None:
    """Require ``x.shape == shape``; ``what`` spells the expected shape with letters."""
    if x.shape != shape:
        msg = f"{name} must have shape {what} = {shape}, got {x.shape}"
        raise ShapeError(msg)


def check_last(a: Array, a_name: str, b: Array, b_name: str, what: str, axis: int = -1) -> None:
    """Require equal sizes along ``axis`` (features, positions, ...)."""
    na, nb = a.shape[axis], b.shape[axis]
    if na != nb:
        msg = (
            f"{a_name} {_verb(a_name)} {na} {what} but {b_name} {_verb(b_name)} {nb} "
            f"({a_name} {a.shape}, {b_name} {b.shape})"
        )
        raise ShapeError(msg)


def _verb(name: str) -> str:
    return "have" if name.endswith("s") else "has"


def broadcast_batch(shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """``np.broadcast_shapes`` (ValueError when none fits), free when all shapes are equal."""
    first = tuple(shapes[0])
    if all(tuple(s) == first for s in shapes[1:]):
        return first
    return tuple(np.broadcast_shapes(*shapes))


def batch_shape(*named: tuple[str, Array, int]) -> tuple[int, ...]:
    """Broadcast the leading batch dims of several arrays.

    Each item is ``(name, array, core_ndim)``; the batch dims are everything before
    the last ``core_ndim`` axes.
    """
    shapes = [a.shape[: a.ndim - core] for _, a, core in named]
    try:
        return broadcast_batch(shapes)
    except ValueError:
        listing = ", ".join(f"{n} {a.shape}" for n, a, _ in named)
        msg = f"leading batch dims do not broadcast: {listing}"
        raise ShapeError(msg) from None


def as_mask(mask: ArrayLike, target: tuple[int, ...], what: str, name: str = "mask") -> Array:
    """Return a boolean mask that broadcasts to ``target`` (True means may attend)."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        msg = (
            f"{name} must be boolean (True = may attend), got dtype {m.dtype}; "
            f"use {name}.astype(bool) or a comparison"
        )
        raise AtlasError(msg)
    try:
        shape = np.broadcast_shapes(m.shape, target)
    except ValueError:
        shape = None
    if shape != tuple(target):
        msg = f"{name} must broadcast to {what} = {tuple(target)}, got {m.shape}"
        raise ShapeError(msg)
    return m


def resolve_scale(scale: float | None, d_k: int, name: str = "scale") -> float:
    """Return ``scale`` or the default ``1 / sqrt(d_k)``, rejecting non-finite values."""
    if scale is None:
        return 1.0 / float(np.sqrt(d_k)) if d_k > 0 else 1.0
    value = float(scale)
    if not np.isfinite(value):
        msg = f"{name} must be a finite number, got {scale!r}"
        raise AtlasError(msg)
    return value


def positive_int(value: int, name: str) -> int:
    """Return ``value`` as an int, requiring it to be >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        msg = f"{name} must be a positive integer, got {value!r}"
        raise AtlasError(msg)
    if value < 1:
        msg = f"{name} must be a positive integer, got {value}"
        raise AtlasError(msg)
    return int(value)


@dataclass(frozen=True)
class Inputs:
    """Checked inputs of an attention mechanism, all in the compute dtype.

    Attributes
    ----------
    q : ndarray, shape (..., N, d_k)
        A 1-D query was given one N axis (see ``one_query``).
    k : ndarray, shape (..., M, d_k)
    v : ndarray, shape (..., M, d_v), or None
    mask : ndarray of bool, broadcastable to (..., N, M), or None
    batch : tuple of int
        The broadcast leading dims of q, k and v.
    result : dtype
        The dtype to return (float16 inputs are computed in float32, returned as float16).
    one_query : bool
        Whether ``q`` arrived 1-D, so the caller drops the N axis again.
    extra : dict of str to ndarray
        The further arrays the caller named, converted and cast the same way.
    """

    q: Array
    k: Array
    v: Array | None
    mask: Array | None
    batch: tuple[int, ...]
    result: np.dtype[Any]
    one_query: bool
    extra: dict[str, Array]


def attention_inputs(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    *,
    allow_one_query: bool = False,
    extra: Mapping[str, ArrayLike] | None = None,
) -> Inputs:
    """Convert and check ``q``, ``k``, ``v`` and ``mask`` (and ``extra`` arrays) once.

    ``q`` must be (..., N, d_k) (or (d_k,) with ``allow_one_query``), ``k``
    (..., M, d_k) and ``v`` (..., M, d_v); their leading dims must broadcast and
    ``mask`` must be boolean and broadcast to (..., N, M) (to (..., M) for a 1-D
    ``q``). Every array must be finite. ``extra`` arrays (a mechanism's own
    parameters) join the dtype decision and are returned cast; their shapes are
    the caller's to check.
    """
    qa = float_input(q, "q")
    ka = float_input(k, "k")
    va = None if v is None else ka if v is k else float_input(v, "v")
    more = {name: float_input(a, name) for name, a in (extra or {}).items()}
    present = [a for a in (qa, ka, va) if a is not None]
    work, result = compute_dtype(*present, *more.values())
    if allow_one_query:
        check_ndim(qa, "q", 1, "(..., N, d_k) or (d_k,)")
    else:
        check_ndim(qa, "q", 2, "(..., N, d_k)")
    check_ndim(ka, "k", 2, "(..., M, d_k)")
    check_last(qa, "q", ka, "k", "features (d_k)")
    if va is not None:
        check_ndim(va, "v", 2, "(..., M, d_v)")
        check_last(ka, "k", va, "v", "positions (M)", axis=-2)
    one_query = qa.ndim == 1
    if one_query:
        qa = qa[None, :]  # (1, d_k)
    named = [("q", qa, 2), ("k", ka, 2)] + ([] if va is None else [("v", va, 2)])
    batch = batch_shape(*named)
    m = None
    if mask is not None:
        target = (*batch, qa.shape[-2], ka.shape[-2])
        if one_query:
            m = as_mask(mask, target[:-2] + target[-1:], "(..., M) for a 1-D q")[..., None, :]
        else:
            m = as_mask(mask, target, "(..., N, M)")

    def cast(a: Array) -> Array:
        return a.astype(work, copy=False)

    return Inputs(
        q=cast(qa),
        k=cast(ka),
        v=None if va is None else cast(va),
        mask=m,
        batch=batch,
        result=result,
        one_query=one_query,
        extra={name: cast(a) for name, a in more.items()},
    )
