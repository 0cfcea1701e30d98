"""Scoring a single annotation: the decoder state against one encoder state, by dot product."""

from __future__ import annotations

from typing import Any

import numpy as np

from attention_atlas.attention import dot_scores
from attention_atlas.charts import Figure, vector_chart
from attention_atlas.charts.live import dot_score_live_chart
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.text import fixed, significant


def compute(scenario: Scenario) -> Result:
    """The dot-product score of one annotation.

    Arrays: ``decoder`` (3,), ``annotation`` (3,), ``products`` (3,), ``score`` ().
    """
    decoder = np.asarray(scenario.params["decoder_state"], dtype=np.float64)
    annotation = np.asarray(scenario.params["annotation"], dtype=np.float64)
    score = dot_scores(decoder, annotation)
    return Result(
        arrays={
            "decoder": decoder,
            "annotation": annotation,
            "products": decoder * annotation,
            "score": np.asarray(score),
        },
        labels={"units": tuple(f"unit {i + 1}" for i in range(decoder.size))},
    )


def context(result: Result) -> dict[str, Any]:
    a = result.arrays
    units = list(result.labels["units"])
    products = a["products"]
    return {
        "decoder": [significant(x, 6) for x in a["decoder"]],
        "annotation": [significant(x, 6) for x in a["annotation"]],
        "products": [significant(x, 6) for x in products],
        "score": significant(float(a["score"]), 6),
        "sum_text": " + ".join(significant(x, 6) for x in products),
        "largest_unit": units[int(np.argmax(products))],
        "largest_share": fixed(products.max() / a["score"] * 100, 0),
        **{
            f"{key}_fig": Figure(
                vector_chart(a[key], units, title=title, fmt=".6~g"), caption=caption, name=key
            )
            for key, title, caption in (
                (
                    "decoder",
                    "Decoder hidden state",
                    "The decoder's state at this step: three hidden units, one cell each.",
                ),
                (
                    "annotation",
                    "Annotation (encoder state)",
                    "One encoder hidden state, the annotation being scored.",
                ),
                (
                    "products",
                    "Unit-by-unit products",
                    "Each cell is decoder × annotation for that unit; the score is their sum.",
                ),
            )
        },
        # Last, as on the page.
        "live_panel": Figure(
            dot_score_live_chart(a["decoder"], a["annotation"], units),
            caption="Drag a slider: the products, the score and e^score follow in the page.",
            name="live",
        ),
    }


SCENARIO = Scenario(
    slug="single-annotation",
    title="Scoring a single annotation",
    question="How does attention decide how relevant one encoder state is to the decoder?",
    summary="You will compute an attention score by hand and see which units drive it.",
    order=10,
    params={"decoder_state": [5, 1, 20], "annotation": [3, 12, 45]},
    compute=compute,
    context=context,
    main_figure="products",
    main_map="products",
    main_map_labels=("", "units"),
)
