"""Small read-outs of attention maps shared by the pages that interpret them."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def row_entropy_bits(weights: NDArray[Any]) -> NDArray[np.float64]:
    """Shannon entropy of every row of an attention map, in bits.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
        Rows are distributions (non-negative, summing to 1, or all zero).

    Returns
    -------
    entropy : ndarray, shape (..., N)
        ``-sum_m w log2 w`` with ``0 log 0 = 0``: 0 bits when a row puts all its weight
        on one key, ``log2 M`` bits when it spreads evenly over all M keys.
    """
    w = np.asarray(weights, dtype=np.float64)
    logs = np.log2(w, out=np.zeros_like(w), where=w > 0)
    return np.asarray(-(w * logs).sum(axis=-1) + 0.0)


def fixed(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; ``-0.00`` is written ``0.00``."""
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def quoted(token: str) -> str:
    """A token in typographic quotes, for prose."""
    return f"“{token}”"


def word_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
