"""A learned alignment: the maps of a trained attention model that writes dates as ISO dates.

The sequence-attention page draws a French -> English alignment by hand. This page
runs a small encoder-decoder with the same additive scoring net, trained to turn
written-out dates (``thursday 25 march 2021``, ``25/03/21``, ...) into ISO dates
(``2021-03-25``), and reads its maps: rows are the characters written, columns the
words read. Its accuracy is measured at build on a seeded held-out set of days the
training never saw.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import numpy as np

from attention_atlas.errors import ResourceUnavailable
from attention_atlas.models import dates
from attention_atlas.models.alignment import (
    AlignmentUnavailable,
    describe,
    load_alignment_model,
    weights_nbytes,
)
from attention_atlas.scenarios.base import Result, Scenario
from attention_atlas.scenarios.figures import heatmap_figure
from attention_atlas.text import (
    bytes_text,
    fixed,
    number_word,
    ordinal,
    percent,
    quoted,
    thousands,
    word_list,
)

#: What an input word writes, in the order the role chart shows them.
ROLES = ("weekday", "day", "month", "year", "other")

#: The format that writes the year with two digits, leaving the century to the model.
SHORT_YEAR = "25/03/21"

#: The ISO characters by what they write: positions 0-3 the year, 5-6 the month, 8-9 the day.
YEAR, MONTH, DAY, DASHES = (0, 1, 2, 3), (5, 6), (8, 9), (4, 7)


def _model() -> Any:
    try:
        return load_alignment_model()
    except AlignmentUnavailable as exc:
        raise ResourceUnavailable(str(exc)) from exc


def role_weights(weights: np.ndarray, examples: list[dates.DateExample]) -> np.ndarray:
    """Mean weight each output step puts on each role's words, over the examples.

    weights : (B, T, M) padded maps; returns (T, len(ROLES)), rows sum to 1.
    """
    onehot = np.zeros((len(examples), weights.shape[2], len(ROLES)))  # (B, M, R)
    for b, e in enumerate(examples):
        for m, role in enumerate(e.roles):
            onehot[b, m, ROLES.index(role)] = 1.0
    return np.einsum("btm,bmr->tr", weights, onehot, optimize=True) / len(examples)


def year_reads_year(weights: np.ndarray, examples: list[dates.DateExample]) -> np.ndarray:
    """(B,) True where every year digit's largest weight is on one of the year's words."""
    top = weights[:, list(YEAR)].argmax(axis=-1)  # (B, 4)
    return np.array(
        [all(e.roles[int(m)] == "year" for m in row) for row, e in zip(top, examples, strict=True)]
    )


def two_at_once(weights: np.ndarray, floor: float) -> np.ndarray:
    """(..., T) True where a row's two largest weights are both at least ``floor``."""
    second = np.sort(weights, axis=-1)[..., -2] if weights.shape[-1] > 1 else 0 * weights[..., 0]
    return second >= floor


def compute(scenario: Scenario) -> Result:
    """Translate the page's inputs and a seeded held-out set.

    Arrays: ``map{i}`` (T, M_i) for each shown input; ``roles`` (T, R) mean weight on
    each role over the held-out set; ``correct`` (B,) exact matches; ``year_ok`` (B,);
    ``two`` (T,) share of held-out rows that split over two words. Labels ``in{i}`` and
    ``out{i}``. Facts: the shown inputs, formats of the held-out set, model widths.
    """
    p = scenario.params
    model = _model()
    shown = [dates.example(dt.date.fromisoformat(e["date"]), e["format"]) for e in p["inputs"]]
    rng = np.random.default_rng(scenario.seed)
    held = dates.sample_examples(rng, int(p["held_out"]), held_out=True)
    page = model.translate([e.words for e in shown])
    test = model.translate([e.words for e in held])
    correct = np.array([out == e.target for out, e in zip(test.outputs, held, strict=True)])
    floor = float(p["two_floor"])
    arrays: dict[str, np.ndarray] = {
        "roles": role_weights(test.weights, held),
        "correct": correct,
        "year_ok": year_reads_year(test.weights, held),
        "two": two_at_once(test.weights, floor).mean(axis=0),
    }
    labels: dict[str, tuple[str, ...]] = {}
    for i, e in enumerate(shown):
        arrays[f"map{i}"] = page.alignment(i)
        labels |= {f"in{i}": e.words, f"out{i}": page.outputs[i]}
    return Result(
        arrays=arrays,
        labels=labels,
        facts={
            "shown": shown,
            "formats": [e.format for e in held],
            "model": describe(model),
            "weights_bytes": weights_nbytes(),
            "two_floor": floor,
        },
    )


#: Every alignment map: output characters down, input words across, weights written in.
_map = partial(
    heatmap_figure,
    x_title="Input word (read)",
    y_title="Output character (written)",
    domain=(0.0, 1.0),
    fmt=".2f",
    show_values=True,
)


def _reading(
    weights: np.ndarray, words: tuple[str, ...], chars: tuple[str, ...], floor: float
) -> list[dict[str, Any]]:
    """Per output character: the word it reads most and, when it splits, the second one."""
    rows = []
    for t, row in enumerate(weights):
        order = np.argsort(-row, kind="stable")
        first, second = int(order[0]), int(order[min(1, len(order) - 1)])
        split = second != first and row[second] >= floor
        rows.append(
            {
                "position": t + 1,
                "char": chars[t],
                "word": quoted(words[first]),
                "weight": fixed(row[first]),
                "also": f"{quoted(words[second])} ({fixed(row[second])})" if split else "",
            }
        )
    return rows


def _span(positions: tuple[int, ...]) -> str:
    first, last = positions[0] + 1, positions[-1] + 1
    return f"{first}–{last}" if last > first else str(first)


def context(result: Result) -> dict[str, Any]:
    a, labels, facts = result.arrays, result.labels, result.facts
    shown: list[dates.DateExample] = facts["shown"]
    floor = facts["two_floor"]
    correct, year_ok = a["correct"], a["year_ok"]
    formats = facts["formats"]
    per_format = [
        {
            "format": name,
            "count": sum(f == name for f in formats),
            "accuracy": percent(
                float(np.mean([c for c, f in zip(correct, formats, strict=True) if f == name])), 1
            ),
        }
        for name in dates.FORMATS
        if name in formats
    ]
    # Two-digit years ("25/03/21"): the century digits are written nowhere in the input.
    short = np.array([f == SHORT_YEAR for f in formats])
    examples = []
    for i, e in enumerate(shown):
        words, chars = labels[f"in{i}"], labels[f"out{i}"]
        weights = a[f"map{i}"]
        text = dates.written(words)
        iso = "".join(chars)
        examples.append(
            {
                "tab": text,
                "text": text,
                "iso": iso,
                "right": chars == e.target,
                "shape": f"({len(chars)}, {len(words)})",
                "rows": _reading(weights, words, chars, floor),
                "fig": _map(
                    f"map{i}",
                    weights,
                    list(chars),
                    list(words),
                    f"Row t is the softmax over the {len(words)} input words when the model "
                    f"writes character t of {iso}; every row sums to 1.",
                    title=f"“{text}” → {iso}",
                    name=f"al{i}",
                ),
            }
        )
    first, first_map = examples[0], a["map0"]
    first_words = shown[0].words
    year_cols = [m for m, r in enumerate(shown[0].roles) if r == "year"]
    roles = a["roles"]
    two = a["two"]
    iso_chars = list("YYYY-MM-DD")
    model = facts["model"]
    dash_split = [percent(float(two[t])) for t in DASHES]
    digit_split = max(float(two[t]) for t in (*YEAR, *MONTH, *DAY))
    return {
        "first": first,
        "first_year_word": quoted(first_words[year_cols[0]]),
        "first_year_weights": word_list([fixed(first_map[t, year_cols].sum()) for t in YEAR]),
        "first_year_position": ordinal(year_cols[0] + 1),
        "year_last": year_cols[-1] == len(first_words) - 1,
        "first_n_words": number_word(len(first_words)),
        "examples": examples,
        "held_out": thousands(len(correct)),
        "accuracy": percent(float(correct.mean()), 1),
        "wrong": int((~correct).sum()),
        "year_share": percent(float(year_ok.mean()), 1),
        "per_format": per_format,
        "n_formats": len(per_format),
        "floor": fixed(floor),
        "dash_split": word_list(dash_split),
        "digit_split": percent(digit_split, 1),
        "most_split": "".join(iso_chars[int(np.argmax(two))]),
        "most_split_position": int(np.argmax(two)) + 1,
        "dashes_split_most": min(float(two[t]) for t in DASHES) > digit_split,
        "year_on_year": fixed(roles[list(YEAR), ROLES.index("year")].min()),
        "month_on_month": fixed(roles[list(MONTH), ROLES.index("month")].min()),
        "day_on_day": fixed(roles[list(DAY), ROLES.index("day")].min()),
        "weekday_max": fixed(roles[:, ROLES.index("weekday")].max()),
        "year_span": _span(YEAR),
        "short_format": SHORT_YEAR,
        "short_count": int(short.sum()),
        "first_year": dates.FIRST_DAY.year,
        "last_year": dates.LAST_DAY.year,
        "short_accuracy": percent(float(correct[short].mean()), 1) if short.any() else "",
        "short_year_share": percent(float(year_ok[short].mean()), 1) if short.any() else "",
        "roles_fig": heatmap_figure(
            "roles",
            roles,
            [f"{c} ({t + 1})" for t, c in enumerate(iso_chars)],
            list(ROLES),
            f"Mean over the {thousands(len(correct))} held-out inputs of the weight each "
            "output position puts on the words of each kind; rows sum to 1.",
            title="Which kind of word each output position reads",
            x_title="Kind of input word",
            y_title="Output position (YYYY-MM-DD)",
            domain=(0.0, 1.0),
            fmt=".2f",
            show_values=True,
            name="roles",
        ),
        "model": model,
        "parameters": thousands(model["parameters"]),
        "weights_size": bytes_text(facts["weights_bytes"]),
        "annotation_width": 2 * model["h"],
        "example_formats": word_list([quoted(name) for name in dates.FORMATS]),
    }


SCENARIO = Scenario(
    slug="learned-alignment",
    title="A learned alignment: a trained model's attention map",
    question=(
        "While translating from French to English, the network attends sequentially to each "
        "input state, but sometimes it attends to two words at time while producing an "
        "output. How to visualize it?"
    ),
    summary=(
        "You will read a trained model's alignment map: which input words each output "
        "character reads, where it reads two at once, and why the map is output-by-input."
    ),
    order=35,
    params={
        "model": "alignment_dates.npz",
        "inputs": [
            {"date": "2021-03-25", "format": "tuesday 25 march 2021"},
            {"date": "2021-03-25", "format": "25/03/21"},
            {"date": "1969-07-20", "format": "march 25, 2021"},
            {"date": "1989-11-09", "format": "the 25th of march 2021"},
            {"date": "2004-02-29", "format": "tue, 25 mar 2021"},
            {"date": "1999-12-31", "format": "25.03.2021"},
        ],
        "held_out": 1000,
        "two_floor": 0.2,
    },
    seed=2020,
    compute=compute,
    context=context,
    main_figure="map0",
    main_map="map0",
    main_map_labels=("out0", "in0"),
)
