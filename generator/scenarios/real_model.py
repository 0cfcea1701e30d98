"""A real pretrained model: every head of all-MiniLM-L6-v2 on three sentences.

The page runs the site's NumPy forward pass of all-MiniLM-L6-v2 (BERT, 6 layers
x 12 heads) and reads its attention maps: every head in one grid, one head a
token at a time, the same maps with [CLS]/[SEP] hidden, per-head summaries and
the heads that link a word to another. Layers and heads are numbered from 0
everywhere (``L3 H1`` is ``attentions[3][1]``), as :func:`find_heads` reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import altair as alt
import numpy as np
from numpy.typing import NDArray

from attention_atlas.attention.rollout import attention_rollout
from attention_atlas.charts import Figure, head_grid_chart, row_explorer_chart
from attention_atlas.errors import ResourceUnavailable
from attention_atlas.models import Model, ModelUnavailable, load_minilm
from attention_atlas.readouts import (
    BROAD_SHARE,
    SPECIFIC_LIFT,
    HeadScore,
    KeySpecificity,
    find_heads,
    head_entropy,
    hide_special,
    key_specificity,
    next_token_score,
    previous_token_score,
    special_mask,
    special_token_share,
)
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import (
    fixed,
    ordinal,
    percent,
    quoted,
    rounding_error,
    significant,
    word_list,
)

#: Subtitle of every chart drawn with the special tokens removed.
HIDDEN_NOTE = "[CLS] and [SEP] hidden; rows renormalised to sum to 1"


def head_name(layer: int, head: int) -> str:
    """``L3 H1``: 0-based layer and head, the labels the charts use."""
    return f"L{layer} H{head}"


def score_grid(scores: list[HeadScore], shape: tuple[int, int]) -> NDArray[np.float64]:
    """The weights of a full :func:`find_heads` ranking laid out as (L, H)."""
    grid = np.full(shape, np.nan)
    for s in scores:
        grid[s.layer, s.head] = s.weight
    return grid


def heads_above(scores: NDArray[np.floating], threshold: float) -> list[tuple[int, int]]:
    """(layer, head) pairs whose score is above ``threshold``, best first (ties: lower first)."""
    layers, heads = np.nonzero(scores > threshold)
    pairs = [(int(lay), int(h)) for lay, h in zip(layers, heads, strict=True)]
    return sorted(pairs, key=lambda lh: (-float(scores[lh]), lh))


def _model() -> Model:
    """The pretrained model; ResourceUnavailable (an unavailable page) when it cannot be had."""
    try:
        return load_minilm()
    except ModelUnavailable as exc:
        raise ResourceUnavailable(str(exc)) from exc


def compute(scenario: Scenario) -> Result:
    """Run MiniLM on each sentence and summarise every head.

    For sentence ``i`` (``s{i}_`` prefixes) the arrays are ``attentions`` (L, H, N, N)
    as the model gives them, ``hidden`` (L, H, N', N') without [CLS]/[SEP] and with
    rows renormalised, ``positions`` (N',) where the kept tokens sat, the (L, H)
    summaries ``entropy`` (bits), ``special`` (share of weight on [CLS]/[SEP]),
    ``previous`` and ``next`` (mean weight on the neighbouring token), and
    ``probe`` / ``probe_hidden`` (L, H): the weight each head puts from the
    sentence's query word onto its key word, on the full and the hidden maps.
    Labels ``s{i}_tokens`` (N) and ``s{i}_kept`` (N'). Facts: ``sentences`` (the
    parameters), ``probes`` and ``probes_hidden`` (the full :func:`find_heads` ranking
    per sentence, on the full and the hidden maps),
    ``layers``, ``heads``.
    """
    arrays: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    probes: list[list[HeadScore]] = []
    probes_hidden: list[list[HeadScore]] = []
    sentences = [dict(s) for s in scenario.params["sentences"]]
    model = _model()
    config = model.config
    shape = (config.num_layers, config.num_heads)
    for i, sentence in enumerate(sentences):
        enc = model.encode(str(sentence["text"]))
        tokens = enc.tokens
        weights = enc.attentions.astype(np.float64)  # (L, H, N, N)
        hidden = hide_special(weights, tokens)  # (L, H, N', N')
        ranking = find_heads(weights, tokens, sentence["query"], sentence["key"])
        ranking_hidden = find_heads(
            hidden.weights, hidden.tokens, sentence["query"], sentence["key"]
        )
        probes.append(ranking)
        probes_hidden.append(ranking_hidden)
        arrays |= {
            f"s{i}_attentions": weights,
            f"s{i}_hidden": hidden.weights,
            f"s{i}_positions": hidden.positions,
            f"s{i}_entropy": head_entropy(weights),
            f"s{i}_special": special_token_share(weights, tokens),
            f"s{i}_previous": previous_token_score(weights),
            f"s{i}_next": next_token_score(weights),
            f"s{i}_probe": score_grid(ranking, shape),
            f"s{i}_probe_hidden": score_grid(ranking_hidden, shape),
            f"s{i}_rollout": attention_rollout(weights),  # (L, N, N), see _rollout_context
        }
        labels |= {f"s{i}_tokens": tuple(tokens), f"s{i}_kept": hidden.tokens}
    return Result(
        arrays=arrays,
        labels=labels,
        facts={
            "sentences": sentences,
            "probes": probes,
            "probes_hidden": probes_hidden,
            "layers": config.num_layers,
            "heads": config.num_heads,
            "hidden_size": config.hidden_size,
            "head_dim": config.hidden_size // config.num_heads,
            "threshold": float(scenario.params["positional_threshold"]),
            "special_heavy": float(scenario.params["special_heavy"]),
        },
    )


# --- page context ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axes:
    """Names of layers and heads, the same on every chart and in the prose."""

    layers: list[str]
    heads: list[str]


#: A per-head number as a (layer, head) heatmap with its values written in.
_per_head = partial(
    heatmap_figure,
    x_title="Head (counted from 0)",
    y_title="Layer (counted from 0)",
    show_values=True,
    fmt=".2f",
)


#: Widest small map in the model view: 12 heads across must fit the page column (~700 px).
#: Each map is drawn a whole number of pixels a token (no seams between cells).
GRID_SIDE = 42


def stacked(chart: Any) -> Any:
    """A two-view side-by-side chart redrawn with the second view below the first.

    The page column is about 700 px wide: side by side, the model view's enlarged head
    and the head view's bars for a 16-token sentence lie beyond it, and a wide SVG is
    shrunk to fit (its text then becomes unreadable). A chart of another structure is
    returned unchanged.
    """
    parts = list(getattr(chart, "hconcat", []) or [])
    if len(parts) != 2:
        return chart
    return alt.VConcatChart(
        vconcat=parts, spacing=20, params=chart.params, title=chart.title, usermeta=chart.usermeta
    )


def _model_view(
    weights: NDArray[np.floating],
    tokens: list[str],
    axes: _Axes,
    opened: tuple[int, int],
    title: str,
    *,
    hidden: bool = False,
    positions: Any = None,
) -> Any:
    """Every head in a grid, opened on ``opened`` below it, 12 heads across the column.

    ``positions``: where the tokens sit in the full sentence, when some are hidden."""
    return head_grid_chart(
        weights,
        tokens,
        tokens,
        title=title,
        subtitle=HIDDEN_NOTE if hidden else None,
        layer_names=axes.layers,
        head_names=axes.heads,
        layout="below",
        map_side=GRID_SIDE,
        opened=opened,
        row_positions=positions,
        col_positions=positions,
    )


def _head_list(pairs: list[tuple[int, int]], scores: NDArray[np.floating]) -> str:
    """``L0 H2 (1.00) and L1 H8 (0.57)``, or ``none`` when empty."""
    if not pairs:
        return "none"
    return word_list([f"{head_name(*lh)} ({fixed(scores[lh])})" for lh in pairs])


def _explorer(
    weights: NDArray[np.floating],
    tokens: list[str],
    lh: tuple[int, int],
    *,
    what: str,
    initial_row: int,
    sentence: int,
    hidden: bool = False,
    positions: Any = None,
) -> Figure:
    """One head's map above the bars of the clicked row, named ``s<sentence>-L<l>H<h>``
    (``-words`` added without the special tokens)."""
    layer, head = lh
    chart = stacked(
        row_explorer_chart(
            weights,
            tokens,
            tokens,
            title=f"{head_name(layer, head)}, {what}: click a query row",
            initial_row=initial_row,
            subtitle=HIDDEN_NOTE if hidden else None,
            name=f"rx{layer}_{head}",
            row_positions=positions,
            col_positions=positions,
        )
    )
    if hidden:
        caption = (
            f"Layer {layer}, head {head} (counted from 0) without the special tokens' rows "
            "and columns; each row is divided by what is left of it, so the bars are shares "
            "of the words' weight."
        )
    else:
        caption = (
            f"Layer {layer}, head {head} (counted from 0). Click a row: the bars show how "
            "that token splits its weight over the columns; they sum to 1."
        )
    name = f"s{sentence}-L{layer}H{head}" + ("-words" if hidden else "")
    return Figure(chart, caption=caption, name=name)


# --- specificity of the named heads (what the page claims about a query -> key link) ---

#: Beyond this the query ÷ other-rows ratio is shown as "over 100×" (the other rows are ~0).
MAX_LIFT = 100.0


def _specificity(
    name: str, spec: KeySpecificity, query: str, key: str, view: str
) -> dict[str, Any]:
    """One named head's specificity as finished strings: is the bright cell the query's?"""
    lift = (
        f"over {significant(MAX_LIFT, 6)}×" if spec.lift > MAX_LIFT else fixed(spec.lift, 1) + "×"
    )
    text = (
        f"{query} puts {fixed(spec.weight)} on {key}; the other {spec.others} rows put "
        f"{fixed(spec.others_mean)} on average, {spec.others_bright} of them above "
        f"{fixed(spec.bright)}"
    )
    return {
        "name": name,
        "view": view,
        "weight": fixed(spec.weight),
        "others_mean": fixed(spec.others_mean),
        "bright": f"{spec.others_bright} of {spec.others}",
        "threshold": fixed(spec.bright),
        "lift": lift,
        "broad": spec.broad,
        "reading": (
            f"broad: {key} is bright for many rows" if spec.broad else f"specific to {query}"
        ),
        "text": text,
    }


def _named_specificity(
    i: int, result: Result, query: str, key: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Specificity of the best head, the runner-up (all tokens) and the best with
    [CLS]/[SEP] hidden (on the hidden map, where that head was found)."""
    a, facts = result.arrays, result.facts
    best, runner = facts["probes"][i][:2]
    hidden_best = facts["probes_hidden"][i][0]
    out = []
    for score, maps, view in (
        (best, a[f"s{i}_attentions"], "all tokens"),
        (runner, a[f"s{i}_attentions"], "all tokens"),
        (hidden_best, a[f"s{i}_hidden"], "[CLS]/[SEP] hidden"),
    ):
        spec = key_specificity(
            maps[score.layer, score.head], score.query_position, score.key_positions
        )
        out.append(_specificity(head_name(score.layer, score.head), spec, query, key, view))
    return out[0], out[1], out[2]


def _sentence_context(i: int, result: Result, axes: _Axes) -> dict[str, Any]:
    """Every finished string and figure of one sentence."""
    a, facts = result.arrays, result.facts
    sentence = facts["sentences"][i]
    tokens, kept = list(result.labels[f"s{i}_tokens"]), list(result.labels[f"s{i}_kept"])
    weights, hidden = a[f"s{i}_attentions"], a[f"s{i}_hidden"]
    n_layers, n_heads, n, _ = weights.shape
    threshold, heavy = facts["threshold"], facts["special_heavy"]
    entropy, special = a[f"s{i}_entropy"], a[f"s{i}_special"]
    previous, following = a[f"s{i}_previous"], a[f"s{i}_next"]
    probe, probe_hidden = a[f"s{i}_probe"], a[f"s{i}_probe_hidden"]
    ranking: list[HeadScore] = facts["probes"][i]
    best, runner_up = ranking[0], ranking[1]
    best_lh = (best.layer, best.head)
    query, key = quoted(tokens[best.query_position]), quoted(tokens[best.key_positions[0]])
    prev_heads = heads_above(previous, threshold)
    next_heads = heads_above(following, threshold)
    hidden_best = heads_above(probe_hidden, -1.0)[0]
    most_special = np.unravel_index(int(np.argmax(special)), special.shape)
    focused = np.unravel_index(int(np.argmin(entropy)), entropy.shape)
    diffuse = np.unravel_index(int(np.argmax(entropy)), entropy.shape)
    heavy_count = int((special[1:] > heavy).sum())
    max_bits = float(np.log2(n))

    # The heads the head view opens: the probe's best head (with and without the special
    # tokens, opened on the query word's row), then the positional heads (all tokens).
    q_row = best.query_position
    q_kept = int(np.flatnonzero(a[f"s{i}_positions"] == q_row)[0])
    explorers = [
        {
            "label": f"{head_name(*best_lh)} · {query} → {key}",
            "figs": [
                _explorer(
                    weights[best_lh],
                    tokens,
                    best_lh,
                    what=f"all {n} tokens",
                    initial_row=q_row,
                    sentence=i,
                ),
                _explorer(
                    hidden[best_lh],
                    kept,
                    best_lh,
                    what="without [CLS]/[SEP]",
                    initial_row=q_kept,
                    sentence=i,
                    hidden=True,
                    positions=a[f"s{i}_positions"],
                ),
            ],
        }
    ]
    for lh, what in (
        (heads_above(previous, -1.0)[0], "previous token"),
        (heads_above(following, -1.0)[0], "next token"),
    ):
        if lh != best_lh:
            explorers.append(
                {
                    "label": f"{head_name(*lh)} · {what}",
                    "figs": [
                        _explorer(
                            weights[lh],
                            tokens,
                            lh,
                            what=f"all {n} tokens",
                            initial_row=q_row,
                            sentence=i,
                        )
                    ],
                }
            )

    n_maps, text = n_layers * n_heads, sentence["text"]
    best_spec, runner_spec, hidden_spec = _named_specificity(i, result, query, key)
    broad = list(
        dict.fromkeys(h["name"] for h in (best_spec, runner_spec, hidden_spec) if h["broad"])
    )
    return {
        "broad_caveat": (
            f"{word_list(broad)} {'is a broad head' if len(broad) == 1 else 'are broad heads'}: "
            f"the {key} column is bright for many rows, so {'its' if len(broad) == 1 else 'their'} "
            f"weight from {query} is no evidence of a link from {query} to {key}. A head is called "
            f"broad here when the query's weight is less than {fixed(SPECIFIC_LIFT, 0)} times the "
            f"other rows' mean, or when more than {percent(BROAD_SHARE)} of the other rows put "
            f"over {best_spec['threshold']} on the key."
            if broad
            else ""
        ),
        "best_spec": best_spec,
        "runner_spec": runner_spec,
        "hidden_spec": hidden_spec,
        "tab": sentence["tab"],
        "text": sentence["text"],
        "tokens": " · ".join(tokens),
        "n": n,
        "n_kept": len(kept),
        "shape": f"({n_layers}, {n_heads}, {n}, {n})",
        "shape_hidden": f"({n_layers}, {n_heads}, {len(kept)}, {len(kept)})",
        "query": query,
        "key": key,
        "best_name": head_name(*best_lh),
        "best_layer": best.layer,
        "best_head": best.head,
        "best_ordinals": (
            f"the {ordinal(best.head + 1)} head of the {ordinal(best.layer + 1)} layer"
        ),
        "best_weight": fixed(best.weight),
        "best_weight_hidden": fixed(probe_hidden[best_lh]),
        "runner_name": head_name(runner_up.layer, runner_up.head),
        "runner_weight": fixed(runner_up.weight),
        "runner_close": best.weight - runner_up.weight < 0.05,
        "hidden_best_name": head_name(*hidden_best),
        "hidden_best_weight": fixed(probe_hidden[hidden_best]),
        "hidden_best_same": hidden_best == best_lh,
        "best_is_previous": best_lh in prev_heads,
        "best_previous": fixed(previous[best_lh]),
        "uniform": fixed(1.0 / n),
        "previous_heads": _head_list(prev_heads, previous),
        "next_heads": _head_list(next_heads, following),
        "special_median": fixed(np.median(special)),
        "special_min": fixed(special.min()),
        "special_max": fixed(special.max()),
        "special_max_name": head_name(*map(int, most_special)),
        "heavy_count": heavy_count,
        "later_heads": (n_layers - 1) * n_heads,
        "focused_name": head_name(*map(int, focused)),
        "focused_bits": fixed(entropy[focused]),
        "diffuse_name": head_name(*map(int, diffuse)),
        "diffuse_bits": fixed(entropy[diffuse]),
        "max_bits": fixed(max_bits),
        "grid_all_fig": Figure(
            _model_view(
                weights, tokens, axes, best_lh, f"All {n_maps} heads of MiniLM on “{text}”"
            ),
            caption="One map per head: softmax(QKᵀ/√d) of that head, rows = query tokens, "
            f"columns = key tokens, every row sums to 1. It opens on {head_name(*best_lh)}, "
            f"the head that links {query} to {key} most.",
            name=f"s{i}-grid",
        ),
        "grid_hidden_fig": Figure(
            _model_view(
                hidden,
                kept,
                axes,
                best_lh,
                f"All {n_maps} heads, words only",
                hidden=True,
                positions=a[f"s{i}_positions"],
            ),
            caption="The same maps without the [CLS] and [SEP] rows and columns; each row "
            "is divided by what is left of it, so word-to-word links become visible.",
            name=f"s{i}-grid-words",
        ),
        "explorers": explorers,
        "probe_fig": _per_head(
            f"s{i}-probe",
            probe,
            axes.layers,
            axes.heads,
            f"Cell (layer, head) is the weight in row {query}, column {key} of that "
            f"head's map (all tokens kept). Uniform attention would give {fixed(1.0 / n)}.",
            title=f"Weight from {query} to {key} in every head",
            value_title=f"weight {tokens[best.query_position]} → {tokens[best.key_positions[0]]}",
            domain=(0.0, 1.0),
            scheme="oranges",
            name=f"probe{i}",
        ),
        "summary_figs": [
            _per_head(
                f"s{i}-{what}",
                values,
                axes.layers,
                axes.heads,
                caption,
                title=title,
                value_title=value_title,
                domain=domain,
                scheme=scheme,
                name=f"{short}{i}",
            )
            for values, what, short, title, value_title, domain, scheme, caption in (
                (
                    entropy,
                    "entropy",
                    "ent",
                    "Mean row entropy (bits)",
                    "entropy (bits)",
                    (0.0, max_bits),
                    "blues",
                    f"0 bits: each row on one key. {fixed(max_bits)} bits (log₂ {n}): "
                    f"spread evenly over all {n} tokens.",
                ),
                (
                    special,
                    "special",
                    "spec",
                    "Share of weight on [CLS] and [SEP]",
                    "share on [CLS]/[SEP]",
                    (0.0, 1.0),
                    "purples",
                    "Mean over query rows of the weight landing on the two special "
                    "tokens; 1 means the head looks only at them.",
                ),
                (
                    previous,
                    "previous",
                    "prev",
                    "Previous-token score",
                    "weight on the previous token",
                    (0.0, 1.0),
                    "greens",
                    "Mean weight a token puts on the token just before it; near 1, the "
                    "head copies its left neighbour.",
                ),
                (
                    following,
                    "next",
                    "next",
                    "Next-token score",
                    "weight on the next token",
                    (0.0, 1.0),
                    "greens",
                    "Mean weight a token puts on the token just after it.",
                ),
            )
        ],
    }


# --- across layers: attention rollout ------------------------------------------------------

#: Subtitle of every rollout chart: what was done to the maps.
ROLLOUT_NOTE = "each layer: 0.5 · mean of its heads + 0.5 · identity, rows renormalised"


def _rollout_context(i: int, result: Result) -> dict[str, Any]:
    """Attention rollout of sentence ``i`` beside its raw heads: figures and finished numbers.

    The rollout after layer l is ``attention_rollout(attentions)[l]`` (N, N); the table
    compares, layer by layer, the probe's weight (query word -> key word) in the layer's
    strongest head, in the mean of its heads, and in the rollout up to that layer.
    """
    a, facts = result.arrays, result.facts
    tokens = list(result.labels[f"s{i}_tokens"])
    weights, rollout = a[f"s{i}_attentions"], a[f"s{i}_rollout"]  # (L, H, N, N), (L, N, N)
    ranking: list[HeadScore] = facts["probes"][i]
    best = ranking[0]
    q, keys = best.query_position, list(best.key_positions)
    n_layers = rollout.shape[0]
    probe = a[f"s{i}_probe"]  # (L, H): query -> key weight of every head
    mean_heads = weights.mean(axis=1)[:, q, keys].sum(axis=-1)  # (L,)
    rolled = rollout[:, q, keys].sum(axis=-1)  # (L,)
    words = hide_special(rollout[-1], tokens)
    q_kept = int(np.flatnonzero(words.positions == q)[0])
    k_kept = [int(np.flatnonzero(words.positions == k)[0]) for k in keys]
    special = special_mask(tokens)
    last = rollout[-1]
    query, key = quoted(tokens[q]), quoted(tokens[keys[0]])
    best_lh = (best.layer, best.head)
    rows = [
        {
            "layer": f"L{layer}",
            "head": head_name(layer, int(np.argmax(probe[layer]))),
            "head_weight": fixed(float(np.max(probe[layer]))),
            "mean": fixed(float(mean_heads[layer])),
            "rollout": fixed(float(rolled[layer])),
        }
        for layer in range(n_layers)
    ]
    own = float(np.mean(np.diag(last)[~special]))
    rolled_words = float(words.weights[q_kept, k_kept].sum())
    return {
        "tab": facts["sentences"][i]["tab"],
        "query": query,
        "key": key,
        "rows": rows,
        "best_name": head_name(*best_lh),
        "best_weight": fixed(best.weight),
        "rolled": fixed(float(rolled[-1])),
        "rolled_words": fixed(rolled_words),
        # The head's link is gone from the rollout: no more than 1.5 times an even share.
        "vanishes": rolled_words <= 1.5 * len(keys) / len(words.tokens),
        "uniform_words": fixed(1.0 / len(words.tokens)),
        "special_share": fixed(float(last[q, special].sum())),
        "own_share": fixed(own),
        "n_layers": n_layers,
        "other_heads": weights.shape[1] - 1,
        "figs": [
            heatmap_figure(
                f"s{i}-rollout",
                last,
                tokens,
                tokens,
                "Row i: how token i after the last layer traces back to the input tokens, "
                "if attention and the residual were all that moved information. Rows sum to 1.",
                title=f"Rollout through all {n_layers} layers",
                subtitle=ROLLOUT_NOTE,
                x_title="Input token (layer 0)",
                y_title=f"Token after layer {n_layers - 1}",
                domain=(0.0, 1.0),
                fmt=".3f",
                name=f"ro{i}",
            ),
            heatmap_figure(
                f"s{i}-rollout-words",
                words.weights,
                list(words.tokens),
                list(words.tokens),
                "The same rollout without the [CLS] and [SEP] rows and columns, each row "
                "divided by what is left of it.",
                title="Rollout, words only",
                subtitle=[ROLLOUT_NOTE, HIDDEN_NOTE],
                x_title="Input token (layer 0)",
                y_title=f"Token after layer {n_layers - 1}",
                domain=(0.0, 1.0),
                fmt=".3f",
                name=f"row{i}",
                row_positions=words.positions,
                col_positions=words.positions,
            ),
            heatmap_figure(
                f"s{i}-rollout-raw",
                weights[best_lh],
                tokens,
                tokens,
                f"One raw head for comparison: {head_name(*best_lh)}'s softmax(QKᵀ/√d), "
                f"the head that links {query} to {key} most.",
                title=f"Raw head {head_name(*best_lh)}, all tokens",
                x_title="Key token (attended to)",
                y_title="Query token",
                domain=(0.0, 1.0),
                fmt=".3f",
                name=f"rr{i}",
            ),
        ],
    }


def context(result: Result) -> dict[str, Any]:
    facts = result.facts
    n_layers, n_heads = int(facts["layers"]), int(facts["heads"])
    axes = _Axes(
        layers=[f"L{layer}" for layer in range(n_layers)],
        heads=[f"H{head}" for head in range(n_heads)],
    )
    count = range(len(facts["sentences"]))
    sentences = [_sentence_context(i, result, axes) for i in count]
    row_error = max(
        float(np.max(np.abs(result.arrays[f"s{i}_hidden"].sum(axis=-1) - 1.0))) for i in count
    )
    everywhere = {
        kind: word_list(
            [
                head_name(*lh)
                for lh in np.ndindex(n_layers, n_heads)
                if all(result.arrays[f"s{i}_{kind}"][lh] > facts["threshold"] for i in count)
            ]
        )
        or "none"
        for kind in ("previous", "next")
    }
    return {
        "n_layers": n_layers,
        "n_heads": n_heads,
        "n_maps": n_layers * n_heads,
        "previous_everywhere": everywhere["previous"],
        "next_everywhere": everywhere["next"],
        "hidden_size": int(facts["hidden_size"]),
        "head_dim": int(facts["head_dim"]),
        "special_medians": word_list([s["special_median"] for s in sentences]),
        "heavy_counts": word_list([str(s["heavy_count"]) for s in sentences]),
        "special_maxes": word_list(
            [f"{s['special_max']} ({s['special_max_name']})" for s in sentences]
        ),
        "last_layer": n_layers - 1,
        "last_head": n_heads - 1,
        "threshold": fixed(facts["threshold"]),
        "special_heavy": fixed(facts["special_heavy"]),
        "hidden_note": HIDDEN_NOTE,
        "hidden_row_error": rounding_error(row_error),
        "sentences": sentences,
        "first": sentences[0],
        # Across layers: attention rollout beside the raw heads (see _rollout_context).
        "rollouts": (rollouts := [_rollout_context(i, result) for i in count]),
        "first_rollout": rollouts[0],
        "rollout_note": ROLLOUT_NOTE,
    }


SCENARIO = Scenario(
    slug="real-model",
    title="A real model: every head of MiniLM",
    question=(
        "How is Jay determining the strength of these associations in this particular "
        "sequence with the word “it”?"
    ),
    summary=(
        "You will read all 72 heads of a real pretrained model, find the heads that link "
        "“it” to “animal” and “cats” to “pets”, and tell a map that is resting on [CLS] "
        "from one that is empty."
    ),
    order=75,
    params={
        "model": "all-MiniLM-L6-v2",
        "sentences": [
            {
                "text": "The animal didn't cross the street because it was too tired.",
                "tab": "The animal … it was too tired.",
                "query": "it",
                "key": "animal",
            },
            {
                "text": "I love pets, especially cats.",
                "tab": "I love pets, especially cats.",
                "query": "cats",
                "key": "pets",
            },
            {"text": "The dog ran.", "tab": "The dog ran.", "query": "ran", "key": "dog"},
        ],
        "positional_threshold": 0.5,
        "special_heavy": 0.35,
    },
    compute=compute,
    context=context,
    main_figure="s0-grid",
    main_map="s0_attentions",
    main_map_labels=("s0_tokens", "s0_tokens"),
)
