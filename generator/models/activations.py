"""Special functions the model needs, vectorised in NumPy (SciPy is not a dependency)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["erf", "gelu"]

# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969), 631-637: the double-precision coefficients of its
# three intervals (|x| <= 0.46875, <= 4, > 4), as published in SPECFUN.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
_RSQRTPI = 0.56418958354775628695  # 1 / sqrt(pi)
_SQRT_HALF = 0.70710678118654752440  # 1 / sqrt(2)
_BLOCK = 32768  # elements per block: temporaries of at most 256 KiB stay in cache
_SMALL = 0.46875  # end of the first interval


def _rational(
    z: NDArray[np.floating],
    num: tuple[float, ...],
    den: tuple[float, ...],
    times: NDArray[np.floating] | None = None,
) -> NDArray[np.floating]:
    """``P(z) / Q(z)`` (``times P(z) / Q(z)``) by Horner's rule, on fresh arrays.

    ``num`` holds P's coefficients from the highest power down; Q is monic and
    ``den`` holds its other coefficients, highest first (Cody's layout). ``z``
    is left alone.
    """
    p = num[0] * z
    p += num[1]
    for c in num[2:]:
        p *= z
        p += c
    q = z + den[0]
    for c in den[1:]:
        q *= z
        q += c
    if times is not None:
        p *= times
    p /= q
    return p


def _erf_small(x: NDArray[np.floating]) -> NDArray[np.floating]:
    """erf(x) for |x| <= 0.46875."""
    return _rational(x * x, (_A[4], *_A[:4]), _B, times=x)


def _erfc_mid(y: NDArray[np.floating]) -> NDArray[np.floating]:
    """erfc(y) for 0.46875 <= y <= 4 (a fresh array; ``y`` is left alone)."""
    r = _rational(y, (_C[8], *_C[:8]), _D)
    gauss = y * y
    np.negative(gauss, out=gauss)
    np.exp(gauss, out=gauss)
    r *= gauss
    return r


def _erfc_tail(y: NDArray[np.floating]) -> NDArray[np.floating]:
    """erfc(y) for y > 4."""
    z = 1.0 / (y * y)
    scaled = (_RSQRTPI - _rational(z, (_P[5], *_P[:5]), _Q, times=z)) / y
    return np.exp(-y * y) * scaled


def _erf_block(xs: NDArray[np.floating], *, plus_one: bool = False) -> NDArray[np.floating]:
    """erf (or ``1 + erf``) of a 1-D block, in the block's float dtype (a fresh array).

    ``1 + erf(x)`` is formed as ``2 - erfc(|x|)`` or ``erfc(|x|)`` by sign, so it
    keeps its relative accuracy for negative x, where ``1 + erf`` would cancel.
    """
    dtype = xs.dtype.type
    y = np.abs(xs)
    c = _erfc_mid(np.clip(y, dtype(_SMALL), dtype(4.0)))  # erfc(|x|), middle interval
    tail = y > 4.0
    if tail.any():
        c[tail] = _erfc_tail(y[tail])
    small = _erf_small(np.clip(xs, dtype(-_SMALL), dtype(_SMALL)))  # erf(x), first interval
    if plus_one:
        out = np.subtract(dtype(2.0), c)
        np.copyto(out, c, where=xs < 0)
        small += dtype(1.0)
    else:
        out = np.subtract(dtype(1.0), c)
        np.copysign(out, xs, out=out)
    np.copyto(out, small, where=y <= _SMALL)
    return out


def _as_float(x: ArrayLike) -> NDArray[np.floating]:
    """float32 and float64 arrays stay as they are; anything else becomes float64."""
    array = np.asarray(x)
    if array.dtype in (np.float32, np.float64):
        return array
    return array.astype(np.float64)


def erf(x: ArrayLike) -> NDArray[np.floating]:
    """The error function, elementwise.

    Parameters
    ----------
    x : array_like, any shape
        float32 input is computed in float32; anything else in float64.

    Returns
    -------
    ndarray, same shape as ``x``, float32 or float64

    Notes
    -----
    Cody's rational Chebyshev approximations on three intervals of ``|x|``
    (``erf`` directly below 0.46875, ``1 - erfc`` above). Absolute error
    against ``math.erf``: below 1e-15 in float64, below 3e-7 in float32 (two
    units in the last place near 1; checked in the tests). Cost: O(size),
    about 50 in-place vectorised operations per element, run over blocks of
    ``_BLOCK`` elements so the temporaries stay in cache; no Python loop over
    elements.
    """
    array = _as_float(x)
    flat = array.ravel()
    out = np.empty_like(flat)
    for start in range(0, flat.size, _BLOCK):
        out[start : start + _BLOCK] = _erf_block(flat[start : start + _BLOCK])
    return out.reshape(array.shape)


def gelu(
    x: ArrayLike, out: NDArray[np.floating] | None = None, *, check_finite: bool = True
) -> NDArray[np.floating]:
    """The exact (erf) GELU, ``x * (1 + erf(x / sqrt 2)) / 2``, elementwise.

    Parameters
    ----------
    x : array_like, any shape
        float32 input is computed in float32; anything else in float64.
    out : ndarray, optional
        Where to write the result: an array of the result's shape and dtype,
        C-contiguous; it may be ``x`` itself (in place).
    check_finite : bool, default True
        Whether float32 input may hold infinities, which get their limits (x and
        0). ``False`` skips that check (a dot product, one more pass) for input
        known finite, as a model with finite weights makes; an infinity then
        gives NaN. NaN stays NaN either way; float64 input ignores it.

    Returns
    -------
    ndarray, same shape and float dtype as :func:`erf` gives (``out`` if given)

    Notes
    -----
    float64 uses :func:`erf`'s ``erfc`` branches, so ``1 + erf`` keeps its
    relative accuracy for negative x (error below 1e-12 relative). float32 uses
    ``GELU(x) = max(x, 0) - |x| Phi(-|x|)`` with ``Phi(-a)`` from Abramowitz and
    Stegun 7.1.26, one ``exp2`` times a polynomial (:func:`_gelu_f32`): 18 in-place
    passes instead of 50, no branches. Its absolute error is below 3.5e-7
    everywhere (PyTorch's own float32 GELU, the same A&S erf, is off by up to
    1.2e-6). For negative x the error is that of A&S's erfc, so the relative
    error grows where the result is tiny: below 1e-5 for x >= -2, 5e-4 at
    x = -4, 4e-3 at -6 (the result there is -6e-9); both checked in the tests.
    Cost: O(size), over blocks of a few ten thousand elements so temporaries stay
    in cache.
    """
    array = _as_float(x)
    if out is None:
        out = np.empty(array.shape, dtype=array.dtype)
    elif out.shape != array.shape or out.dtype != array.dtype or not out.flags.c_contiguous:
        msg = f"out must be a C-contiguous {array.dtype} array of shape {array.shape}"
        raise ValueError(msg)
    flat = array.ravel()  # a view when x is C-contiguous, so out may be x
    flat_out = out.reshape(-1)
    if array.dtype == np.float32:
        _gelu_f32(flat, flat_out, check_finite=check_finite)
        return out
    for start in range(0, flat.size, _BLOCK):
        block = flat[start : start + _BLOCK]
        g = _erf_block(block * _SQRT_HALF, plus_one=True)
        g *= block
        g *= 0.5
        flat_out[start : start + _BLOCK] = g
    return out


# Abramowitz and Stegun, "Handbook of Mathematical Functions" (1964), 7.1.26:
# erfc(t) = u (a1 + a2 u + a3 u^2 + a4 u^3 + a5 u^4) exp(-t^2) + e(t) with
# u = 1 / (1 + p t), t >= 0 and |e(t)| <= 1.5e-7 (PyTorch's vectorised float32 erf
# is this formula too). Coefficients a1..a5.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_AS_C = float(np.sqrt(2.0)) / _AS_P  # u = C / (a + C) when t = a / sqrt 2
_LOG2E = 1.4426950408889634
_GELU_BLOCK = 32768  # elements: four 128 KiB scratch rows stay in L2; 16K or 64K run slower


def _gelu_coefficients() -> tuple[float, ...]:
    """R with ``a Phi(-a) = v R(v) exp(-a^2 / 2)``, ``v = 1 - u = a / (a + C)``; constant first.

    ``a u = C v``, so ``a erfc(t) / 2 = v (C / 2) P(1 - v) exp(-t^2)``: the factor
    ``a`` and the 1/2 of ``Phi = erfc / 2`` fold into ``R(v) = (C / 2) P(1 - v)``.
    """
    r = np.zeros(len(_AS_A))
    for j, a in enumerate(_AS_A):
        r[: j + 1] += a * np.polynomial.polynomial.polypow([1.0, -1.0], j)
    return tuple(float(c) for c in r * (_AS_C / 2.0))


_GELU_R = _gelu_coefficients()


def _gelu_f32(x: NDArray[np.float32], out: NDArray[np.float32], *, check_finite: bool) -> None:
    """float32 GELU of the 1-D ``x`` into ``out`` (same size; may be ``x``).

    ``GELU(x) = x Phi(x) = max(x, 0) - a Phi(-a)`` with ``a = |x|`` and
    ``a Phi(-a) = v R(v) exp(-a^2 / 2)`` from A&S 7.1.26 (see
    :func:`_gelu_coefficients`): the subtracted term is small next to x for
    x > 0, and for x < 0 it is the whole result, computed without cancellation.
    With the Gaussian as ``exp2(-a^2 log2(e) / 2)`` that is 18 in-place ufunc
    passes per block (NumPy has no fused multiply-add; each pass is one Horner
    step or one factor). An infinite x gives ``inf / inf = NaN`` in ``v``; a dot
    product of the subtracted term (at most 0.17, so it cannot overflow) spots
    that more cheaply than clamping ``a`` would, and only then are those entries
    set to their limit, 0 (``check_finite=False`` skips that pass). A NaN stays NaN.
    """
    f32 = np.float32
    c = f32(_AS_C)
    coef = [f32(r) for r in _GELU_R]
    gauss = f32(-0.5 * _LOG2E)
    scratch = np.empty((4, min(_GELU_BLOCK, x.size)), dtype=np.float32)
    scratch[3] = 1.0
    with np.errstate(over="ignore", invalid="ignore"):  # a^2 -> inf, inf / inf: see above
        for start in range(0, x.size, _GELU_BLOCK):
            xb = x[start : start + _GELU_BLOCK]
            a, v, p, ones = (row[: xb.size] for row in scratch)
            np.abs(xb, out=a)
            np.add(a, c, out=v)
            np.divide(a, v, out=v)  # v = a / (a + C), in [0, 1)
            np.multiply(v, coef[-1], out=p)  # Horner: v R(v)
            for k in coef[-2::-1]:
                p += k
                p *= v
            np.square(a, out=v)  # v is free again
            v *= gauss
            np.exp2(v, out=v)  # exp(-a^2 / 2)
            p *= v  # a Phi(-a), in [0, 0.17] for finite x
            if check_finite and not np.isfinite(np.dot(p, ones)):  # an infinite or NaN x
                p[np.isinf(xb)] = 0.0
            ob = out[start : start + _GELU_BLOCK]
            np.maximum(xb, f32(0.0), out=ob)  # NaN stays NaN
            ob -= p
