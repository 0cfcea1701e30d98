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
    "FIRST_DOMINATES",
    "KINDS",
    "NEIGHBOUR_MIN",
    "SINK_MIN",
    "SPECIAL_TOKENS",
    "HeadKinds",
    "HeadScore",
    "HiddenSpecial",
    "KeySpecificity",
    "LinkScore",
    "causal_visible",
    "find_heads",
    "head_entropy",
    "head_kinds",
    "head_sinks",
    "hide_special",
    "key_specificity",
    "next_token_score",
    "previous_token_score",
    "rank_link",
    "seen_keys",
    "special_mask",
    "special_token_share",
    "token_position",
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


#: A head is *broad* for a link when the query's weight on the key is less than this
#: many times the mean weight the other rows put on it ...
SPECIFIC_LIFT = 2.0
#: ... or when more than this share of the other rows put more than ``bright`` on it.
BROAD_SHARE = 0.25


@dataclass(frozen=True)
class KeySpecificity:
    """How specific a head's link from a query row to a key column is.

    ``weight`` is the query row's weight on the key (summed over ``key_positions``);
    ``others_mean`` the mean of the key's column over the ``others`` other rows and
    ``others_bright`` how many of them put more than ``bright`` on it. ``lift`` is
    ``weight / others_mean`` (``inf`` when the other rows put nothing there). ``broad``
    says the column is bright for many rows, not for the query: the head then does
    not single out this query.
    """

    weight: float
    others_mean: float
    others_bright: int
    others: int
    bright: float
    lift: float
    broad: bool


def key_specificity(
    weights: ArrayLike,
    query_position: int,
    key_positions: int | Sequence[int],
    *,
    bright: float = 0.5,
    lift: float = SPECIFIC_LIFT,
    share: float = BROAD_SHARE,
) -> KeySpecificity:
    """Is the query's bright cell its own, or is the key's whole column bright?

    Parameters
    ----------
    weights : ndarray, shape (N, M)
        One head's attention map.
    query_position : int
        The query row, 0-based.
    key_positions : int or sequence of int
        The key column(s), 0-based; several columns (a word that occurs twice) are summed.
    bright : float
        A weight above this counts as a bright cell.
    lift, share : float
        The head is broad when ``weight < lift * others_mean`` or when more than
        ``share`` of the other rows are bright on the key.

    Returns
    -------
    KeySpecificity
        With no other row (N = 1) ``others_mean`` is 0 and the link is not broad.
    """
    w = _weights(weights)
    if w.ndim != 2:
        msg = f"one head's weights must have shape (N, M), got shape {w.shape}"
        raise ShapeError(msg)
    n, m = w.shape
    keys = (
        [int(key_positions)]
        if isinstance(key_positions, int | np.integer)
        else list(map(int, key_positions))
    )
    if not keys or not all(0 <= k < m for k in keys):
        msg = f"key positions {keys} must be non-empty and within the {m} key columns"
        raise AtlasError(msg)
    if not 0 <= int(query_position) < n:
        msg = f"query position {query_position} is outside the {n} query rows"
        raise AtlasError(msg)
    column = w[:, keys].sum(axis=-1, dtype=np.float64)  # (N,)
    weight = float(column[int(query_position)])
    others = np.delete(column, int(query_position))  # (N - 1,)
    mean = float(others.mean()) if others.size else 0.0
    count = int(np.count_nonzero(others > bright))
    ratio = weight / mean if mean > 0 else float("inf")
    broad = bool(others.size) and (weight < lift * mean or count > share * others.size)
    return KeySpecificity(
        weight=weight,
        others_mean=mean,
        others_bright=count,
        others=int(others.size),
        bright=float(bright),
        lift=ratio,
        broad=broad,
    )


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


# --------------------------------------------------------------------------- head kinds and sinks

#: A head is a previous-token, next-token or diagonal head when its queries put, on
#: average, at least this much weight on the position just before them, just after
#: them or on themselves.
NEIGHBOUR_MIN = 0.5

#: A head is a sink head when one key takes at least this much mean weight from the
#: queries that can see it.
SINK_MIN = 0.5

#: The first token dominates a head when it is the head's sink and takes at least this
#: much mean weight.
FIRST_DOMINATES = 0.5

#: The kinds :func:`head_kinds` names, in the order they win a tie.
KINDS = ("previous-token", "next-token", "diagonal", "sink", "broad")


@dataclass(frozen=True)
class HeadKinds:
    """What each head of an (..., N, M) stack mostly does, and the numbers that decide it.

    Attributes
    ----------
    kind : ndarray of str, shape (...)
        One of :data:`KINDS` per head.
    previous, following, diagonal : ndarray of float64, shape (...), or None
        Mean weight each query puts on the position just before it, just after it, and
        on itself; ``None`` when queries and keys are different sequences.
    sink : ndarray of int, shape (...)
        The key that takes the most mean weight (:func:`head_sinks`).
    sink_weight : ndarray of float64, shape (...)
        That key's mean weight over the queries that can see it.
    """

    kind: NDArray[np.str_]
    previous: Array | None
    following: Array | None
    diagonal: Array | None
    sink: NDArray[np.intp]
    sink_weight: Array

    @property
    def first_dominates(self) -> NDArray[np.bool_]:
        """True where key 0 is the sink with at least :data:`FIRST_DOMINATES` mean weight."""
        return (self.sink == 0) & (self.sink_weight >= FIRST_DOMINATES)


def causal_visible(n: int, m: int) -> NDArray[np.bool_]:
    """Which keys each query may see under a causal mask, the queries being the last N of M.

    Returns
    -------
    ndarray of bool, shape (N, M)
        Query ``i`` sits at position ``i + M - N`` and sees keys ``0 .. i + M - N``
        (PyTorch's convention for N < M: the mask aligned to the end).
    """
    rows = np.arange(n)[:, None] + (m - n)
    return np.arange(m)[None, :] <= rows


def head_sinks(
    weights: ArrayLike, visible: ArrayLike | None = None
) -> tuple[NDArray[np.intp], Array]:
    """Each head's sink: the key with the most mean weight over the queries that can see it.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    visible : ndarray of bool, shape (N, M), optional
        True where a query may see a key (:func:`causal_visible` for a decoder); every
        query sees every key by default. A key no query sees never is a sink.

    Returns
    -------
    sink : ndarray of int, shape (...)
        The key position (ties: the earlier key).
    weight : ndarray of float64, shape (...)
        ``mean over visible rows i of w[i, sink]``.
    """
    w = _weights(weights)
    n, m = w.shape[-2:]
    if visible is None:
        total = w.sum(axis=-2, dtype=np.float64)  # (..., M)
        count = np.full(m, n, dtype=np.float64)
    else:
        seen = np.asarray(visible, dtype=bool)
        if seen.shape != (n, m):
            msg = f"visible must have shape ({n}, {m}) like the maps, got shape {seen.shape}"
            raise ShapeError(msg)
        total = np.where(seen, w, 0).sum(axis=-2, dtype=np.float64)
        count = seen.sum(axis=0).astype(np.float64)
    mean = np.divide(total, count, out=np.full_like(total, -1.0), where=count > 0)
    sink = mean.argmax(axis=-1)
    return sink, np.maximum(np.take_along_axis(mean, sink[..., None], axis=-1)[..., 0], 0.0)


def _aligned_mean(w: NDArray[np.floating], offset: int) -> Array:
    """Mean of ``w[i, i + offset]`` over the rows where that key exists (0 if none)."""
    n, m = w.shape[-2:]
    if not -n < offset < m:
        return np.zeros(w.shape[:-2])
    diag = np.diagonal(w, offset=offset, axis1=-2, axis2=-1)
    return np.asarray(diag.mean(axis=-1, dtype=np.float64))


def head_kinds(
    weights: ArrayLike,
    *,
    aligned: bool = True,
    visible: ArrayLike | None = None,
) -> HeadKinds:
    """Name what each head mostly does, by a stated rule.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    aligned : bool
        True when queries and keys are positions of one sequence, the queries being its
        last N positions (query ``i`` at position ``i + M - N``; ``M == N`` for plain
        self-attention). False for cross attention: only "sink" and "broad" apply.
    visible : ndarray of bool, shape (N, M), optional
        Passed to :func:`head_sinks` (a causal mask for a decoder).

    Returns
    -------
    HeadKinds

    Notes
    -----
    The rule, per head: the scores are the mean weight each query puts on the position
    just before it (previous-token), just after it (next-token) and on itself
    (diagonal), and the largest mean weight one key takes from the queries that see it
    (sink). Among the scores of at least :data:`NEIGHBOUR_MIN` (neighbours and
    diagonal) or :data:`SINK_MIN` (sink), the largest names the head, ties going to the
    earlier of :data:`KINDS`; a head with none is "broad". Cost O(L H N M).
    """
    w = _weights(weights)
    n, m = w.shape[-2:]
    sink, sink_weight = head_sinks(w, visible)
    lead = w.shape[:-2]
    scores = []
    previous = following = diagonal = None
    if aligned:
        shift = m - n
        previous = _aligned_mean(w, shift - 1)
        following = _aligned_mean(w, shift + 1)
        diagonal = _aligned_mean(w, shift)
        scores = [
            np.where(previous >= NEIGHBOUR_MIN, previous, -1.0),
            np.where(following >= NEIGHBOUR_MIN, following, -1.0),
            np.where(diagonal >= NEIGHBOUR_MIN, diagonal, -1.0),
        ]
    else:
        scores = [np.full(lead, -1.0)] * 3
    scores.append(np.where(sink_weight >= SINK_MIN, sink_weight, -1.0))
    scores.append(np.zeros(lead))  # broad: wins only when nothing else qualifies
    stacked = np.stack(scores, axis=-1)  # (..., 5)
    winner = stacked.argmax(axis=-1)  # first of the largest: KINDS order breaks ties
    kind = np.asarray(KINDS)[winner]
    return HeadKinds(kind, previous, following, diagonal, sink, sink_weight)


# --------------------------------------------------------------------------- asking one link


def token_position(tokens: Sequence[str], which: str | int, role: str) -> int:
    """The position a query or key names: a whole number, or a token's text when unique.

    Parameters
    ----------
    tokens : sequence of str, length N
    which : str or int
        A 0-based position (an int, or a string of digits), or a token. A token matches
        exactly first; failing that, case-insensitively with WordPiece's ``##`` and
        byte-level or SentencePiece word marks (``Ġ``, ``▁``) and spaces stripped. Prefix
        the text with ``=`` to look up a token made of digits (``"=2"``).
    role : str
        ``"query"`` or ``"key"``, for the error message.

    Raises
    ------
    AtlasError
        A position out of range, or a text that matches no token or more than one (the
        message lists the candidates' positions).
    """
    count = len(tokens)
    if isinstance(which, int | np.integer) or (
        isinstance(which, str) and which.strip().isdigit() and which.strip().isascii()
    ):
        pos = int(which)
        if not 0 <= pos < count:
            msg = f"{role} position {pos} does not exist: expected 0 to {count - 1}"
            raise AtlasError(msg)
        return pos
    text = which[1:] if which.startswith("=") else which
    found = [i for i, t in enumerate(tokens) if t == text]
    if not found:
        target = _loose(text)
        found = [i for i, t in enumerate(tokens) if _loose(t) == target] if target else []
    if len(found) == 1:
        return found[0]
    if found:
        listed = ", ".join(f"{i} ({_quoted(tokens[i])})" for i in found[:20])
        more = f" and {len(found) - 20} more" if len(found) > 20 else ""
        msg = (
            f"{role} {_quoted(which)} is ambiguous: it is at positions {listed}{more}; "
            f"give the position instead"
        )
        raise AtlasError(msg)
    near = [i for i, t in enumerate(tokens) if _loose(text) and _loose(text) in _loose(t)]
    hint = (
        "candidates: " + ", ".join(f"{i} ({_quoted(tokens[i])})" for i in near[:20])
        if near
        else f"give a position 0 to {count - 1} or one of the tokens"
    )
    msg = f"{role} {_quoted(which)} is not one of the {count} tokens; {hint}"
    raise AtlasError(msg)


def _quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for a one-line message: escaped, and cut after ``limit`` characters."""
    shown = repr(text[:limit])
    return shown + "…" if len(text) > limit else shown


def _loose(token: str) -> str:
    """A token with case, WordPiece / byte-level / SentencePiece marks and spaces dropped."""
    return token.strip().removeprefix("##").lstrip("Ġ▁ ").lower()


@dataclass(frozen=True)
class LinkScore:
    """One head's weight from a query position onto a key position (0-based)."""

    layer: int
    head: int
    weight: float
    kind: str


def rank_link(weights: ArrayLike, query: int, key: int, kinds: ArrayLike) -> list[LinkScore]:
    """Every (layer, head) ranked by its weight from ``query`` onto ``key``.

    Parameters
    ----------
    weights : ndarray, shape (L, H, N, M)
    query, key : int
        0-based positions (see :func:`token_position`).
    kinds : ndarray of str, shape (L, H)
        Each head's kind (:func:`head_kinds`).

    Returns
    -------
    list of LinkScore
        All L*H heads, highest weight first; ties: lower layer, then lower head.
    """
    w = _weights(weights)
    if w.ndim != 4:
        msg = f"weights must have shape (L, H, N, M), got shape {w.shape}"
        raise ShapeError(msg)
    layers, heads, n, m = w.shape
    if not (0 <= query < n and 0 <= key < m):
        msg = f"(query {query}, key {key}) is outside maps of {n} queries x {m} keys"
        raise AtlasError(msg)
    names = np.asarray(kinds)
    values = np.asarray(w[:, :, query, key], dtype=np.float64)  # (L, H)
    order = np.lexsort((np.arange(layers * heads), -values.reshape(-1)))
    return [
        LinkScore(
            int(i // heads), int(i % heads), float(values.reshape(-1)[i]), str(names.reshape(-1)[i])
        )
        for i in order
    ]


def seen_keys(weights: ArrayLike, causal: bool = False) -> NDArray[np.bool_] | None:
    """Which keys each query can see: a causal mask when the maps are causal, else None.

    Parameters
    ----------
    weights : ndarray, shape (..., N, M)
    causal : bool
        Known to be causal (a ``causal`` flag in the dump).

    Returns
    -------
    ndarray of bool, shape (N, M), or None
        :func:`causal_visible` when ``causal`` or when every map puts exactly 0 on every
        key after its query (aligned to the end, N <= M, and N > 1); None (every query
        sees every key) otherwise.
    """
    w = _weights(weights)
    n, m = w.shape[-2:]
    if n > m:
        return None
    seen = causal_visible(n, m)
    if causal:
        return seen
    if n < 2 or not np.any(~seen):
        return None
    return seen if not np.any(w[..., ~seen]) else None
