"""Ask a dump which heads link a query to a key: every head ranked by that one weight.

``find_link("run.npz", "it", "animal")`` loads the dump (weights, queries and keys,
or an encoder-decoder dump's map), names the query and the key by position or by a
token's text when it occurs once (:func:`attention_atlas.readouts.token_position`),
and ranks every (layer, head) by its weight from the query onto the key, with each
head's kind (:func:`attention_atlas.readouts.head_kinds`). What ``attention-atlas
find`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attention_atlas import readouts
from attention_atlas.dumps.read import AttentionDump, ProjectionDump, load_any
from attention_atlas.dumps.seq2seq import PARTS, is_seq2seq, load_seq2seq
from attention_atlas.errors import AtlasError
from attention_atlas.text import significant, visible

__all__ = ["FindResult", "find_link"]

#: The kind printed for heads of a dump of queries and keys (its maps are never held).
UNKNOWN_KIND = "-"


@dataclass(frozen=True)
class FindResult:
    """Every head ranked by its weight from one query onto one key.

    Attributes
    ----------
    source : str
    map : str
        "attention", or the part of an encoder-decoder dump ("encoder", "decoder", "cross").
    query, key : int
        0-based positions.
    query_token, key_token : str
    heads : list of LinkScore
        Highest weight first.
    """

    source: str
    map: str
    query: int
    key: int
    query_token: str
    key_token: str
    heads: list[readouts.LinkScore]

    def as_json(self) -> dict[str, Any]:
        """Plain data for ``--json``: positions, tokens and each head's exact weight."""
        return {
            "file": self.source,
            "map": self.map,
            "query": {"position": self.query, "token": self.query_token},
            "key": {"position": self.key, "token": self.key_token},
            "heads": [
                {"rank": r, "layer": s.layer, "head": s.head, "weight": s.weight, "kind": s.kind}
                for r, s in enumerate(self.heads, start=1)
            ],
        }

    def table(self) -> list[str]:
        """Lines of text: a heading, then rank, layer, head, weight (6 digits) and kind."""
        lines = [
            f"query {self.query} {visible(self.query_token)!r} -> key {self.key} "
            f"{visible(self.key_token)!r} ({self.map} map of {visible(self.source)}): "
            f"{len(self.heads)} head(s), largest weight first",
            f"{'rank':>4}  {'layer':>5}  {'head':>4}  {'weight':>10}  kind",
        ]
        for rank, s in enumerate(self.heads, start=1):
            lines.append(
                f"{rank:>4}  {s.layer:>5}  {s.head:>4}  {significant(s.weight, 6):>10}  {s.kind}"
            )
        return lines


def _projection_row(dump: ProjectionDump, query: int) -> np.ndarray:
    """Every head's weights from one query, shape (L, H, M): ``softmax(scale q k^T)``.

    Read a head at a time (:meth:`ProjectionDump.q_head`, ``k_head``), so q and k left
    in a ``.safetensors`` file stay there; grouped-query heads read their key head and
    a causal dump hides the keys after the query (aligned to the end when N < M).
    """
    layers, heads, _, m = dump.sizes
    scores = np.empty((layers, heads, m), dtype=np.float64)
    for layer in range(layers):
        for head in range(heads):
            q = dump.q_head(layer, head)[query].astype(np.float64)  # (d,)
            k = dump.k_head(layer, head).astype(np.float64)  # (M, d)
            scores[layer, head] = k @ q
    scores *= dump.scale
    if dump.causal:
        scores[..., np.arange(m) > query + dump.query_offset] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _map_of(path: Path, part: str | None, max_memory: int | str | None) -> tuple[Any, str]:
    if is_seq2seq(path):
        both = load_seq2seq(path, max_memory=max_memory)
        name = part or "cross"
        return both.part(name), name
    if part is not None:
        msg = f"{path}: --map {part} is for encoder-decoder dumps (maps: {', '.join(PARTS)})"
        raise AtlasError(msg)
    return load_any(path, max_memory=max_memory), "attention"


def find_link(
    path: str | Path,
    query: str | int,
    key: str | int,
    *,
    part: str | None = None,
    top: int | None = None,
    max_memory: int | str | None = None,
) -> FindResult:
    """Rank every head of a dump by its weight from ``query`` onto ``key``.

    Parameters
    ----------
    path : str or Path
        A dump ``attention-atlas report`` reads.
    query, key : str or int
        A position, or a token's text when it occurs once
        (:func:`attention_atlas.readouts.token_position`).
    part : {"encoder", "decoder", "cross"}, optional
        The map of an encoder-decoder dump (default "cross").
    top : int, optional
        Keep the best ``top`` heads (at least 1).
    max_memory : int or str, optional
        As :func:`attention_atlas.dumps.read.load_any`.

    Raises
    ------
    AtlasError
        One line naming the file: a bad dump, a query or key that names no token or
        several (the candidates' positions listed), ``top`` below 1.
    """
    file = Path(path)
    if top is not None and top < 1:
        msg = f"--top {top}: expected a whole number of heads, at least 1"
        raise AtlasError(msg)
    dump, name = _map_of(file, part, max_memory)
    try:
        q = readouts.token_position(dump.tokens, query, "query")
        k = readouts.token_position(dump.key_tokens, key, "key")
    except AtlasError as exc:
        raise AtlasError(f"{file}: {exc}") from None
    if isinstance(dump, AttentionDump):
        seen = readouts.seen_keys(dump.attention, bool(getattr(dump, "causal", False)))
        kinds = readouts.head_kinds(dump.attention, aligned=dump.self_attention, visible=seen)
        ranked = readouts.rank_link(dump.attention, q, k, kinds.kind)
    else:
        row = _projection_row(dump, q)[:, :, None, :]  # (L, H, 1, M)
        unknown = np.full(row.shape[:2], UNKNOWN_KIND)
        ranked = readouts.rank_link(row, 0, k, unknown)
    return FindResult(
        source=str(file),
        map=name,
        query=q,
        key=k,
        query_token=dump.tokens[q],
        key_token=dump.key_tokens[k],
        heads=ranked[:top] if top is not None else ranked,
    )
