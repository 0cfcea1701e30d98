"""Scoring all annotations at once: scores, a stable softmax, weights and the context vector."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from attention_atlas.attention import dot_scores, softmax
from attention_atlas.charts import Figure, vector_chart
from attention_atlas.charts.live import softmax_live_chart
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import bar_figure, heatmap_figure
from attention_atlas.text import fixed, significant


def naive_softmax(scores: np.ndarray) -> np.ndarray:
    """``exp(s) / sum(exp(s))`` without the max shift: what overflows. Shape as ``scores``."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(scores)
        return e / e.sum()


def compute(scenario: Scenario) -> Result:
    """Scores, weights and context vector for one decoder state over K annotations.

    Arrays: ``decoder`` (D,), ``annotations`` (K, D), ``scores`` (K,), ``shifted`` (K,),
    ``naive`` (K,), ``weights`` (K,), ``weighted`` (K, D), ``context`` (D,).
    """
    decoder = np.asarray(scenario.params["decoder_state"], dtype=np.float64)
    annotations = np.asarray(scenario.params["annotations"], dtype=np.float64)
    scores = dot_scores(decoder, annotations)
    weights = softmax(scores)
    weighted = weights[:, None] * annotations
    return Result(
        arrays={
            "decoder": decoder,
            "annotations": annotations,
            "scores": scores,
            "shifted": scores - scores.max(),
            "naive": naive_softmax(scores),
            "weights": weights,
            "weighted": weighted,
            "context": weighted.sum(axis=0),
        },
        labels={
            "annotations": tuple(f"annotation {i + 1}" for i in range(len(annotations))),
            "units": tuple(f"unit {i + 1}" for i in range(decoder.size)),
            "query": ("decoder step 1",),
        },
        facts={"exp_limit": float(np.log(np.finfo(np.float64).max))},
    )


#: The annotations (or a product of them), one encoder state a row.
_annotation_map = partial(
    heatmap_figure, x_title="Hidden unit", y_title="Annotation", scheme="oranges"
)


def context(result: Result) -> dict[str, Any]:
    a, labels = result.arrays, result.labels
    names, units = list(labels["annotations"]), list(labels["units"])
    scores, weights = a["scores"], a["weights"]
    top = int(np.argmax(weights))
    return {
        "k": len(names),
        "d": len(units),
        "decoder": [significant(x, 6) for x in a["decoder"]],
        "annotation_rows": [
            {"name": n, "vals": ", ".join(significant(x, 6) for x in row)}
            for n, row in zip(names, a["annotations"], strict=True)
        ],
        "scores": [significant(x, 6) for x in scores],
        "max_score": significant(scores.max(), 6),
        "shifted": [significant(x, 6) for x in a["shifted"]],
        "naive": [significant(x, 6) for x in a["naive"]],
        "exp_limit": fixed(result.facts["exp_limit"]),
        "weights": [fixed(x, 4) for x in weights],
        "weights_sum": fixed(weights.sum(), 4),
        "top_name": names[top],
        "top_weight": fixed(weights[top], 4),
        "context": [fixed(x, 4) for x in a["context"]],
        "annotations_fig": _annotation_map(
            "annotations",
            a["annotations"],
            names,
            units,
            "Each row is one encoder hidden state (annotation); columns are its units.",
            title="Annotations: one encoder state a row",
            value_title="value",
            fmt=".6~g",
        ),
        "scores_fig": bar_figure(
            "scores",
            scores,
            names,
            "One dot product per annotation. Scores are unbounded: 927 and 929 are close.",
            title="Raw scores: decoder state · annotation",
            x_title="Annotation",
            y_title="score",
            fmt=".6~g",
        ),
        "weights_fig": heatmap_figure(
            "weights",
            weights[None, :],
            list(result.labels["query"]),
            names,
            "One query row: non-negative weights that sum to 1. Hover for exact values.",
            title="Attention weights after the softmax",
            x_title="Annotation (key)",
            y_title="Query",
            domain=(0.0, 1.0),
        ),
        "weighted_fig": _annotation_map(
            "weighted",
            a["weighted"],
            names,
            units,
            "Each annotation multiplied by its weight: rows 2 and 3 are wiped out.",
            title="Annotations scaled by their weights",
            value_title="weight × value",
            fmt=".4f",
        ),
        "context_fig": Figure(
            vector_chart(a["context"], units, title="Context vector", fmt=".4f", scheme="blues"),
            caption="The column sums of the weighted annotations: the attention context vector.",
            name="context",
        ),
        # Last, as on the page.
        "live_panel": Figure(
            softmax_live_chart(a["decoder"], a["annotations"], names, units),
            caption="Drag a slider: scores, e^(score/T), both softmaxes and the context "
            "vector follow in the page; overflow marks where e^x leaves float64.",
            name="live",
        ),
    }


SCENARIO = Scenario(
    slug="annotation-matrix",
    title="Scores, softmax and the context vector",
    question="How do the raw scores of all annotations become weights and a context vector?",
    summary="You will turn four scores into weights without overflow and build the context vector.",
    order=20,
    params={
        "decoder_state": [5, 1, 20],
        "annotations": [[3, 12, 45], [59, 2, 5], [1, 43, 5], [4, 3, 45.3]],
    },
    compute=compute,
    context=context,
    main_figure="weights",
    main_map="weights",
    main_map_labels=("query", "annotations"),
)
