"""Pure summaries of attention maps: per-head numbers a reader can compare across heads.

Shape letters: L layers, H heads, N query positions, M key positions; ``...``
is any leading shape, e.g. (L, H) for a model's attentions (L, H, N, M).
Every function takes post-softmax weights (rows sum to 1, or are all 0) and
never modifies its input.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from attention_atlas.errors import AtlasError, ShapeError

__all__ = [
    "SPECIAL_TOKENS",
    "HeadScore",
    "HiddenSpecial",
    "find_heads",
    "head_entropy",
    "hide_special",
    "next_token_score",
    "previous_token_score",
    "special_mask",
    "special_token_share",
]

Array = NDArray[np.float64]

#: Tokens that count as special (share of weight, ``hide_special``): BERT's, RoBERTa's, GPT's.
SPECIAL_TOKENS = frozenset(
    {"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>", "<bos>", "<eos>", "<|endoftext|>"}
)


def _weights(weights: ArrayLike, *, square: bool = False) -> NDArray[np.floating]:
    w = np.asarray(weights)
    if w.ndim < 2:
        msg = f"attention weights must have shape (..., N, M), got shape {w.shape}"
        raise ShapeError(msg)
    if not np.issubdtype(w.dtype, np.floating):
        w = w.astype(np.float64)
    if square and w.shape[-1] != w.shape[-2]:
        msg = f"self-attention weights must have shape (..., N, N), got shape {w.shape}"
        raise ShapeError(msg)
    return w


def special_mask(
    tokens: Sequence[str], special: Collection[str] = SPECIAL_TOKENS
) -> NDArray[np.bool_]:
    """True where a token is special ([CLS]/[SEP] by default), shape (len(tokens),)."""
    return np.fromiter((t in special for t in tokens), dtype=bool, count=len(tokens))


def _check_tokens(tokens: Sequence[str], size: int, what: str, shape: tuple[int, ...]) -> None:
    if len(tokens) != size:
        msg = f"{len(tokens)} tokens given for the {size} {what} of weights shaped {shape}"
        raise ShapeError(msg)


def head_entropy(weights: ArrayLike, unit: Literal["bits", "nats"] = "bits") -> Array:
    """Mean entropy of each row's distribution over keys.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    unit : {"bits", "nats"}
        Logarithm base 2 or e. In bits, 0 means every query looks at one key
        and ``log2(M)`` means every query spreads evenly over all M keys.

    Returns
    -------
    ndarray of float64, shape (...)
        ``mean_n( -sum_m w[n, m] log w[n, m] )`` with ``0 log 0 = 0``, the mean
        taken over rows that carry weight (all-zero rows are skipped; a map with
        none gives 0).
    """
    if unit not in ("bits", "nats"):
        msg = f"unit must be 'bits' or 'nats', got {unit!r}"
        raise AtlasError(msg)
    w = _weights(weights).astype(np.float64)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)
    row_entropy = -np.sum(w * logs, axis=-1)  # (..., N)
    if unit == "bits":
        row_entropy /= np.log(2.0)
    live = np.sum(w, axis=-1) > 0  # (..., N)
    count = live.sum(axis=-1)
    total = np.where(live, row_entropy, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def special_token_share(
    weights: ArrayLike, tokens: Sequence[str], special: Collection[str] = SPECIAL_TOKENS
) -> Array:
    """Mean share of each query's weight that lands on special keys ([CLS]/[SEP]).

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    tokens : sequence of str, length M
        The key tokens.
    special : collection of str
        Which tokens count as special.

    Returns
    -------
    ndarray of float64, shape (...)
        ``mean_n sum_{m special} w[n, m]``, in [0, 1].
    """
    w = _weights(weights)
    _check_tokens(tokens, w.shape[-1], "keys", w.shape)
    cols = special_mask(tokens, special)
    return np.asarray(w[..., cols].sum(axis=-1, dtype=np.float64).mean(axis=-1))


def previous_token_score(weights: ArrayLike) -> Array:
    """Mean weight each query puts on the position just before it.

    Parameters
    ----------
    weights : ndarray, shape (..., N, N)

    Returns
    -------
    ndarray of float64, shape (...)
        ``mean_{n=1..N-1} w[n, n-1]``; 0 when N == 1. A head scoring near 1
        reads the previous token. :func:`next_token_score` is its mirror.
    """
    return _diagonal_mean(_weights(weights, square=True), -1)


def next_token_score(weights: ArrayLike) -> Array:
    """As :func:`previous_token_score`, for the position just after each query:
    ``mean_{n=0..N-2} w[n, n+1]``, shape (...); 0 when N == 1."""
    return _diagonal_mean(_weights(weights, square=True), 1)


def _diagonal_mean(w: NDArray[np.floating], offset: int) -> Array:
    if w.shape[-1] < 2:
        return np.zeros(w.shape[:-2])
    diag = np.diagonal(w, offset=offset, axis1=-2, axis2=-1)  # (..., N-1)
    return np.asarray(diag.mean(axis=-1, dtype=np.float64))


class HiddenSpecial(NamedTuple):
    """Weights with the special tokens' rows and columns removed."""

    weights: NDArray[np.floating]
    """shape (..., N', N'): the kept rows, renormalised to sum to 1 (all-zero rows stay 0)."""
    tokens: tuple[str, ...]
    """The N' kept tokens."""
    positions: NDArray[np.intp]
    """shape (N',): where each kept token sat in the original sequence."""


def hide_special(
    weights: ArrayLike, tokens: Sequence[str], special: Collection[str] = SPECIAL_TOKENS
) -> HiddenSpecial:
    """Drop the special tokens' rows and columns and renormalise each row.

    Charts of a real model look empty without this (most heads put most of
    their weight on [CLS]); a chart that uses it must say the rows were
    renormalised.

    Parameters
    ----------
    weights : ndarray, shape (..., N, N)
        Self-attention weights.
    tokens : sequence of str, length N
    special : collection of str

    Returns
    -------
    HiddenSpecial
        ``weights`` (..., N', N') in the input's float dtype, ``tokens`` and the
        original ``positions`` of the N' kept tokens.
    """
    w = _weights(weights, square=True)
    _check_tokens(tokens, w.shape[-1], "positions", w.shape)
    keep = np.flatnonzero(~special_mask(tokens, special))
    kept = w[..., keep[:, None], keep[None, :]]  # (..., N', N'), a copy
    total = kept.sum(axis=-1, keepdims=True)
    np.divide(kept, total, out=kept, where=total > 0)
    kept[np.broadcast_to(total <= 0, kept.shape)] = 0
    return HiddenSpecial(kept, tuple(tokens[int(i)] for i in keep), keep)


@dataclass(frozen=True)
class HeadScore:
    """How much weight one head puts from the query word to the key word (indices 0-based)."""

    layer: int
    head: int
    weight: float
    """Weight from ``query_position`` summed over ``key_positions``."""
    query_position: int
    key_positions: tuple[int, ...]


def _positions(tokens: Sequence[str], word: str | int, role: str) -> list[int]:
    if isinstance(word, int | np.integer):
        if not 0 <= int(word) < len(tokens):
            msg = f"{role} position {word} is outside the {len(tokens)} tokens"
            raise AtlasError(msg)
        return [int(word)]
    target = word.strip().lower()
    found = [i for i, t in enumerate(tokens) if t.lower() == target]
    if not found:
        msg = f"{role} word {word!r} is not one of the tokens {list(tokens)}"
        raise AtlasError(msg)
    return found


def find_heads(
    attentions: ArrayLike,
    tokens: Sequence[str],
    query: str | int,
    key: str | int,
    top: int | None = None,
) -> list[HeadScore]:
    """Rank every (layer, head) by the weight it puts from ``query`` onto ``key``.

    Parameters
    ----------
    attentions : ndarray, shape (L, H, N, N)
    tokens : sequence of str, length N
    query, key : str or int
        A token (matched case-insensitively; WordPiece continuations keep
        their ``##``) or a 0-based position. A key word that occurs several
        times counts with all its positions summed; a query word that occurs
        several times is scored at its best position.
    top : int, optional
        Keep only the best ``top`` heads.

    Returns
    -------
    list of HeadScore
        Highest weight first (ties: lower layer, then lower head first);
        layers and heads are 0-based.
    """
    a = _weights(attentions, square=True)
    if a.ndim != 4:
        msg = f"attentions must have shape (L, H, N, N), got shape {a.shape}"
        raise ShapeError(msg)
    _check_tokens(tokens, a.shape[-1], "positions", a.shape)
    q_pos = _positions(tokens, query, "query")
    k_pos = _positions(tokens, key, "key")
    scores = a[:, :, q_pos][..., k_pos].sum(axis=-1, dtype=np.float64)  # (L, H, len(q_pos))
    best = scores.argmax(axis=-1)  # (L, H)
    weight = np.take_along_axis(scores, best[..., None], axis=-1)[..., 0]  # (L, H)
    num_layers, num_heads = weight.shape
    order = sorted(
        ((layer, head) for layer in range(num_layers) for head in range(num_heads)),
        key=lambda lh: (-weight[lh], lh),
    )
    if top is not None:
        order = order[: max(int(top), 0)]
    return [
        HeadScore(
            layer=layer,
            head=head,
            weight=float(weight[layer, head]),
            query_position=q_pos[int(best[layer, head])],
            key_positions=tuple(k_pos),
        )
        for layer, head in order
    ]


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
