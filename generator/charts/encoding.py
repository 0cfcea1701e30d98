"""Compact encoding of a matrix inside a Vega-Lite spec.

Altair's default long-form table costs ~52 bytes of JSON per heatmap cell. Here the matrix
travels once, flattened, as a top-level param holding integers; the rows of the chart are
generated in the browser by a ``sequence`` and each row finds its value by index:

* exact mode: fixed point, ``value = q / 10**decimals`` (e.g. ``0.1234`` is sent as ``1234``);
  the value the reader hovers is the matrix value rounded to ``decimals`` places;
* quantised mode: ``q`` in ``0..255`` spans the colour domain,
  ``value = lo + q * (hi - lo) / 255``, and travels as two hex digits in one string
  (2 bytes per cell); the colour is right to a 256th of the scale and the tooltip says
  the value is quantised.

Non-finite values (for example ``-inf`` scores at masked positions) are sent as ``null``
(or ``--``) and the chart leaves those cells empty.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.errors import AtlasError, ShapeError
from attention_atlas.text import visible

__all__ = [
    "QUANTIZE_CELLS",
    "MatrixEncoding",
    "as_matrix",
    "as_vector",
    "decimals_for",
    "default_domain",
    "encode_matrix",
    "js_number",
    "label_list",
]

#: Matrices with at least this many cells are quantised unless told otherwise.
QUANTIZE_CELLS = 4096

_PRECISION = re.compile(r"\.(\d+)~?[a-z%]$")


def as_vector(values: ArrayLike, name: str = "values") -> NDArray[np.float64]:
    """``values`` as a non-empty float vector, shape (K,), or a :class:`ShapeError`."""
    vec = np.asarray(values, dtype=np.float64)
    if vec.ndim != 1 or vec.size == 0:
        msg = f"{name} must be a non-empty vector shaped (K,), got shape {vec.shape}"
        raise ShapeError(msg)
    return vec


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


def decimals_for(fmt: str, values: NDArray[np.float64] | None = None, default: int = 4) -> int:
    """Decimal places to keep so that ``fmt`` shows the values as they are.

    ``".4f"`` -> 4, ``".1%"`` -> 3, ``"d"`` -> 0; for significant-digit formats
    (``".6~g"``, ``".3e"``, ``".3r"``, ``".3s"``) the digits are counted from the largest
    magnitude in ``values``.

    Parameters
    ----------
    fmt : str
        A d3-format specifier.
    values : ndarray, optional
        The values to be shown (needed for significant-digit formats).
    default : int
        Returned when neither the format nor the values decide.

    Returns
    -------
    decimals : int
        Between 0 and 9.
    """
    m = _PRECISION.search(fmt)
    kind = fmt[-1:] if fmt else ""
    if kind == "d":
        return 0
    if m is None:
        return default
    places = int(m.group(1))
    if kind == "f":
        return min(places, 9)
    if kind == "%":
        return min(places + 2, 9)
    if kind in "gers" and values is not None:
        finite = np.abs(values[np.isfinite(values)])
        top = float(finite.max()) if finite.size else 0.0
        if top == 0.0:
            return default
        digits = max(places, 1) - 1 - math.floor(math.log10(top))
        return min(max(digits, 0), 9)
    return default


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
        a = max(abs(lo), abs(hi))
        a = a if a >= _NARROWEST else 1.0
        return (-_nice(a), _nice(a))
    lo = min(lo, 0.0)
    if hi - lo < _NARROWEST:  # one value, or subnormal ones: no colour scale to draw
        hi = lo + 1.0
    return (_nice(lo), _nice(hi))


#: The narrowest colour domain: 256 levels of it still have a normal float's width,
#: so every level decodes to its own value (subnormal widths round to 0).
_NARROWEST = float(np.finfo(np.float64).tiny) * 256


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


@dataclass(frozen=True)
class MatrixEncoding:
    """A matrix flattened to compact codes, with the expression that decodes it.

    Attributes
    ----------
    codes : str
        Exact mode: row-major fixed-point integers joined by commas (empty where the
        value is non-finite); the browser splits the string once (see :meth:`split_expr`),
        which keeps Altair from validating one JSON number per cell.
        Quantised mode: one string of two hex digits per cell (``"--"`` when non-finite).
    shape : tuple of int
        ``(N, M)``.
    quantized : bool
        Whether the codes are quantised levels of the colour domain.
    decimals : int
        Decimal places kept (exact mode).
    domain : tuple of float
        Colour domain ``(lo, hi)``.
    levels : int
        Number of quantisation levels (quantised mode), at most 256.
    has_missing : bool
        Whether any cell is non-finite.
    """

    codes: str
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

    def split_expr(self, param: str) -> str | None:
        """Expression of the derived param ``<param>_x`` (exact mode), else ``None``.

        Exact codes travel as one comma-joined string; a param holding its ``split`` is
        evaluated once, and each cell indexes into it.
        """
        return None if self.quantized else f"split({param}, ',')"

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
            Evaluates to ``null`` (exact mode) or ``NaN`` (quantised) where the value is
            missing; filter those cells out with ``isValid(datum.v)``.
        """
        if self.quantized:
            lo, _ = self.domain
            code = f"parseInt(substring({param}, 2 * {index}, 2 * {index} + 2), 16)"
            if lo == 0:
                return f"{code} * {js_number(self.step)}"
            return f"{js_number(lo)} + {code} * {js_number(self.step)}"
        code = f"toNumber({param}_x[{index}])"
        body = f"{code} / {10**self.decimals}" if self.decimals > 0 else code
        if self.has_missing:
            return f"{param}_x[{index}] == '' ? null : {body}"
        return body

    def decode(self) -> NDArray[np.float64]:
        """Decode in Python exactly as the browser does (NaN where missing).

        Returns
        -------
        values : ndarray, shape (N, M)
        """
        if self.quantized:
            pairs = [self.codes[i : i + 2] for i in range(0, len(self.codes), 2)]
            levels = np.array([np.nan if p == "--" else int(p, 16) for p in pairs])
            lo, _ = self.domain
            return (lo + levels * self.step).reshape(self.shape)
        parts = self.codes.split(",")
        codes = np.array([np.nan if c == "" else float(c) for c in parts], dtype=np.float64)
        return (codes / 10**self.decimals).reshape(self.shape)


def encode_matrix(
    values: NDArray[np.float64],
    *,
    decimals: int = 4,
    quantize: bool = False,
    domain: tuple[float, float] | None = None,
    diverging: bool = False,
    levels: int = 256,
) -> MatrixEncoding:
    """Flatten a matrix to compact codes for a top-level param.

    Parameters
    ----------
    values : ndarray, shape (N, M)
        The matrix.
    decimals : int
        Decimal places kept in exact mode (0 .. 9).
    quantize : bool
        Send ``levels`` quantisation levels of the colour domain instead of exact values;
        values outside the domain are clipped to it.
    domain : tuple of float, optional
        Colour domain; defaults to :func:`default_domain`.
    diverging : bool
        Whether the default domain is centred at zero.
    levels : int
        Number of quantisation levels (2 .. 256).

    Returns
    -------
    encoding : MatrixEncoding

    Notes
    -----
    Cost O(N M). Exact mode sends comma-joined integers, about 4-7 bytes per cell for
    weights in [0, 1] at 4 decimals; quantised mode sends one string with two hex digits
    per cell, 2 bytes per cell.
    """
    values = as_matrix(values)
    if not 2 <= levels <= 256:
        msg = f"levels must be between 2 and 256, got {levels}"
        raise AtlasError(msg)
    if decimals < 0 or decimals > 9:
        msg = f"decimals must be between 0 and 9, got {decimals}"
        raise AtlasError(msg)
    lo, hi = domain if domain is not None else default_domain(values, diverging=diverging)
    lo, hi = _nice(float(lo)), _nice(float(hi))
    if not (math.isfinite(lo) and math.isfinite(hi) and hi - lo >= _NARROWEST):
        msg = (
            f"domain must be two finite numbers (lo, hi) with lo < hi "
            f"(at least {_NARROWEST:.3g} apart), got {domain!r}"
        )
        raise AtlasError(msg)
    flat = values.reshape(-1)
    finite = np.isfinite(flat)
    has_missing = not bool(finite.all())
    codes: str
    if quantize:
        scaled = np.clip((np.where(finite, flat, lo) - lo) / (hi - lo), 0.0, 1.0)
        ints = np.rint(scaled * (levels - 1)).astype(np.uint8)
        text = ints.tobytes().hex()
        if has_missing:
            chars = np.frombuffer(text.encode("ascii"), dtype="S2").copy()
            chars[~finite] = b"--"
            text = chars.tobytes().decode("ascii")
        codes = text
    else:
        ints64 = np.rint(np.where(finite, flat, 0.0) * 10**decimals).astype(np.int64)
        code_list = [str(c) for c in ints64.tolist()]
        for idx in np.flatnonzero(~finite).tolist():
            code_list[idx] = ""
        codes = ",".join(code_list)
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
    """Token labels as a list of ``count`` strings to display, or raise :class:`ShapeError`.

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
        Each label through :func:`attention_atlas.text.visible`: newlines, control,
        bidi and zero-width characters are escapes, an empty label is ``∅``; ordinary
        labels are unchanged. :func:`attention_atlas.text.hidden_marks` of the input
        says whether the chart must explain them.
    """
    out = [visible(str(x)) for x in labels]
    if len(out) != count:
        msg = f"{name} has {len(out)} labels but the matrix has {count} positions on that axis"
        raise ShapeError(msg)
    return out
