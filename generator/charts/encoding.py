"""Compact encoding of a matrix inside a Vega-Lite spec.

Altair's default long-form table costs ~52 bytes of JSON per heatmap cell. Here the matrix
travels once, flattened, as a top-level param holding integers; the rows of the chart are
generated in the browser by a ``sequence`` and each row finds its value by index:

* exact mode: fixed point, ``value = q / 10**decimals`` (e.g. ``0.1234`` is sent as ``1234``);
  the value the reader hovers is the matrix value rounded to ``decimals`` places;
* quantised mode: ``q`` in ``0..levels-1`` spans the colour domain,
  ``value = lo + q * (hi - lo) / (levels - 1)``; the colour is right to a 256th of the
  scale and the tooltip says the value is quantised.

Non-finite values (for example ``-inf`` scores at masked positions) are sent as ``null``
and the chart leaves those cells empty.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.errors import AtlasError, ShapeError

__all__ = [
    "QUANTIZE_CELLS",
    "MatrixEncoding",
    "as_matrix",
    "decimals_for",
    "default_domain",
    "encode_matrix",
    "js_number",
    "js_string",
    "label_list",
]

#: Matrices with at least this many cells are quantised unless told otherwise.
QUANTIZE_CELLS = 4096

_FIXED = re.compile(r"\.(\d+)[f%]$")


def as_matrix(values: ArrayLike, name: str = "values") -> NDArray[np.float64]:
    """Return ``values`` as a 2-D float array or raise :class:`ShapeError`.

    Parameters
    ----------
    values : array_like, shape (N, M)
        The matrix.
    name : str
        Name used in the error message.

    Returns
    -------
    matrix : ndarray, shape (N, M)
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        msg = f"{name} must be a matrix shaped (N, M), got shape {arr.shape}"
        raise ShapeError(msg)
    if arr.size == 0:
        msg = f"{name} must not be empty, got shape {arr.shape}"
        raise ShapeError(msg)
    return arr


def decimals_for(fmt: str, default: int = 4) -> int:
    """Number of decimals a d3 format string shows (``".4f"`` -> 4, ``".1%"`` -> 3).

    Parameters
    ----------
    fmt : str
        A d3-format specifier.
    default : int
        Returned when the specifier does not fix the number of decimals.

    Returns
    -------
    decimals : int
    """
    m = _FIXED.search(fmt)
    if not m:
        return default
    places = int(m.group(1))
    return places + 2 if fmt.endswith("%") else places


def default_domain(values: NDArray[np.float64], *, diverging: bool) -> tuple[float, float]:
    """Colour domain for a matrix: ``[-a, a]`` when diverging, else ``[min(0, lo), hi]``.

    Parameters
    ----------
    values : ndarray, shape (N, M)
        The matrix; non-finite entries are ignored.
    diverging : bool
        Centre the domain at zero.

    Returns
    -------
    domain : tuple of float
        ``(lo, hi)`` with ``lo < hi``.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if diverging:
        a = max(abs(lo), abs(hi)) or 1.0
        return (-_nice(a), _nice(a))
    lo = min(lo, 0.0)
    if hi <= lo:
        hi = lo + 1.0
    return (_nice(lo), _nice(hi))


def _nice(x: float) -> float:
    """Round to 6 significant digits (keeps specs short and stable)."""
    return float(f"{x:.6g}")


def js_number(x: float) -> str:
    """A float written as a short, stable JavaScript literal."""
    if not math.isfinite(x):
        msg = f"expected a finite number, got {x!r}"
        raise AtlasError(msg)
    text = f"{x:.6g}"
    return "0" if text in ("0", "-0") else text


def js_string(s: str) -> str:
    """A JavaScript string literal (double-quoted, escaped)."""
    return json.dumps(s, ensure_ascii=True)


@dataclass(frozen=True)
class MatrixEncoding:
    """A matrix flattened to integers, with the expression that decodes it.

    Attributes
    ----------
    codes : list of int or None, length N*M
        Row-major integer codes; ``None`` marks a non-finite value.
    shape : tuple of int
        ``(N, M)``.
    quantized : bool
        Whether the codes are quantised levels of the colour domain.
    decimals : int
        Decimal places kept (exact mode).
    domain : tuple of float
        Colour domain ``(lo, hi)``.
    levels : int
        Number of quantisation levels (quantised mode).
    has_missing : bool
        Whether any code is ``None``.
    """

    codes: list[int | None]
    shape: tuple[int, int]
    quantized: bool
    decimals: int
    domain: tuple[float, float]
    levels: int
    has_missing: bool

    @property
    def step(self) -> float:
        """Value difference between two neighbouring quantisation levels."""
        lo, hi = self.domain
        return (hi - lo) / (self.levels - 1)

    def decode_expr(self, param: str, index: str = "datum.i") -> str:
        """Vega expression giving the value of cell ``index`` from the param ``param``.

        Parameters
        ----------
        param : str
            Name of the top-level param holding :attr:`codes`.
        index : str
            Expression for the flat row-major cell index.

        Returns
        -------
        expr : str
        """
        code = f"{param}[{index}]"
        if self.quantized:
            lo, _ = self.domain
            body = f"{js_number(lo)} + {code} * {js_number(self.step)}"
            if lo == 0:
                body = f"{code} * {js_number(self.step)}"
        elif self.decimals > 0:
            body = f"{code} / {10**self.decimals}"
        else:
            body = code
        if self.has_missing:
            return f"{code} == null ? null : {body}"
        return body

    def decode(self) -> NDArray[np.float64]:
        """Decode in Python exactly as the browser does (NaN for missing).

        Returns
        -------
        values : ndarray, shape (N, M)
        """
        codes = np.array([np.nan if c is None else c for c in self.codes], dtype=np.float64)
        if self.quantized:
            lo, _ = self.domain
            out = lo + codes * self.step
        else:
            out = codes / 10**self.decimals
        return out.reshape(self.shape)


def encode_matrix(
    values: NDArray[np.float64],
    *,
    decimals: int = 4,
    quantize: bool = False,
    domain: tuple[float, float] | None = None,
    diverging: bool = False,
    levels: int = 256,
) -> MatrixEncoding:
    """Flatten a matrix to integer codes for a top-level param.

    Parameters
    ----------
    values : ndarray, shape (N, M)
        The matrix.
    decimals : int
        Decimal places kept in exact mode.
    quantize : bool
        Send ``levels`` quantisation levels of the colour domain instead of exact values;
        values outside the domain are clipped to it.
    domain : tuple of float, optional
        Colour domain; defaults to :func:`default_domain`.
    diverging : bool
        Whether the default domain is centred at zero.
    levels : int
        Number of quantisation levels (2 .. 1000).

    Returns
    -------
    encoding : MatrixEncoding

    Notes
    -----
    Cost O(N M). Exact mode sends about 5-7 bytes per cell for weights in [0, 1]
    (4 decimals), quantised mode about 3-4.
    """
    values = as_matrix(values)
    if not 2 <= levels <= 1000:
        msg = f"levels must be between 2 and 1000, got {levels}"
        raise AtlasError(msg)
    if decimals < 0 or decimals > 9:
        msg = f"decimals must be between 0 and 9, got {decimals}"
        raise AtlasError(msg)
    lo, hi = domain if domain is not None else default_domain(values, diverging=diverging)
    lo, hi = _nice(float(lo)), _nice(float(hi))
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        msg = f"domain must be two finite numbers (lo, hi) with lo < hi, got {domain!r}"
        raise AtlasError(msg)
    flat = values.reshape(-1)
    finite = np.isfinite(flat)
    if quantize:
        scaled = np.clip((flat - lo) / (hi - lo), 0.0, 1.0) * (levels - 1)
        ints = np.rint(np.where(finite, scaled, 0.0)).astype(np.int64)
    else:
        ints = np.rint(np.where(finite, flat, 0.0) * 10**decimals).astype(np.int64)
    codes: list[int | None] = ints.tolist()
    has_missing = not bool(finite.all())
    if has_missing:
        for idx in np.flatnonzero(~finite).tolist():
            codes[idx] = None
    n, m = values.shape
    return MatrixEncoding(
        codes=codes,
        shape=(int(n), int(m)),
        quantized=quantize,
        decimals=decimals,
        domain=(lo, hi),
        levels=levels,
        has_missing=has_missing,
    )


def label_list(labels: Any, count: int, name: str) -> list[str]:
    """Token labels as a list of ``count`` strings or raise :class:`ShapeError`.

    Parameters
    ----------
    labels : sequence of str, length count
        The labels (anything ``str()`` accepts; numpy strings included).
    count : int
        Expected length.
    name : str
        Name used in the error message.

    Returns
    -------
    labels : list of str
    """
    out = [str(x) for x in labels]
    if len(out) != count:
        msg = f"{name} has {len(out)} labels but the matrix has {count} positions on that axis"
        raise ShapeError(msg)
    return out
