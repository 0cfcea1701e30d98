"""The learned-alignment page: a trained model's maps, its held-out accuracy, its reading."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.build import GENERATED_MARK, render_unavailable
from attention_atlas.charts.figure import figures_in
from attention_atlas.errors import ResourceUnavailable
from attention_atlas.models import alignment, dates
from attention_atlas.render.templating import render
from attention_atlas.scenarios import all_scenarios
from attention_atlas.scenarios.base import Result
from attention_atlas.scenarios.learned_alignment import (
    ROLES,
    SCENARIO,
    SHORT_YEAR,
    role_weights,
    two_at_once,
    year_reads_year,
)
from attention_atlas.text import percent


@pytest.fixture(scope="module")
def result() -> Result:
    """``SCENARIO.compute(SCENARIO)``, made once a process (shared with the figure tests)."""
    return export._computed(SCENARIO.slug)[0]


@pytest.fixture(scope="module")
def ctx() -> dict[str, Any]:
    """``SCENARIO.context(result)``, made with :func:`result`; read, never changed."""
    return export._computed(SCENARIO.slug)[1]


@pytest.fixture(scope="module")
def page(ctx: dict[str, Any]) -> str:
    return GENERATED_MARK + render(
        SCENARIO.template, {"scenario": SCENARIO, "next_page": None, **ctx}
    )


def test_it_is_registered_after_sequence_attention_and_in_the_nav() -> None:
    slugs = [s.slug for s in all_scenarios()]
    assert slugs.index("learned-alignment") == slugs.index("sequence-attention") + 1
    nav = (Path(__file__).parents[2] / "mkdocs.yml").read_text()
    assert "tutorial/sequence-attention.md\n      - tutorial/learned-alignment.md" in nav


def test_the_page_states_the_accuracy_computed_at_build(result: Result, page: str) -> None:
    correct = result.arrays["correct"]
    assert correct.shape == (SCENARIO.params["held_out"],)
    accuracy = percent(float(correct.mean()), 1)
    assert f"**{accuracy}** came out exactly right" in page
    assert correct.mean() >= 0.99


def test_each_shown_map_is_output_by_input_with_token_labels(
    result: Result, ctx: dict[str, Any]
) -> None:
    figures = {f.name: f for f in figures_in(ctx)}
    for i, example in enumerate(ctx["examples"]):
        words, chars = result.labels[f"in{i}"], result.labels[f"out{i}"]
        weights = result.arrays[f"map{i}"]
        assert weights.shape == (len(chars), len(words)) == (10, len(words))
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)
        spec = figures[f"map{i}"].to_dict()
        text = str(spec)
        assert "Output character (written)" in text and "Input word (read)" in text
        assert all(w in text for w in words)
        assert example["right"], example["text"]


def test_the_reading_table_follows_the_first_map(result: Result, ctx: dict[str, Any]) -> None:
    weights, words = result.arrays["map0"], result.labels["in0"]
    rows = ctx["first"]["rows"]
    assert [r["char"] for r in rows] == list(result.labels["out0"])
    for row, w in zip(rows, weights, strict=True):
        assert row["word"] == f"“{words[int(np.argmax(w))]}”"
        assert row["weight"] == f"{w.max():.2f}"
        assert bool(row["also"]) == (np.sort(w)[-2] >= SCENARIO.params["two_floor"])


def test_role_weights_and_year_reading_on_a_hand_made_map() -> None:
    e = dates.example(dt.date(2021, 3, 25), "25 march 2021")
    w = np.zeros((1, 10, 3))
    w[0, :4, 2] = 1.0  # year digits on "2021"
    w[0, 4:, 0] = 1.0
    roles = role_weights(w, [e])
    assert roles.shape == (10, len(ROLES))
    assert (roles[:4, ROLES.index("year")] == 1).all()
    assert year_reads_year(w, [e]).tolist() == [True]
    w[0, 2] = [0.0, 0.6, 0.4]  # one year digit reads the month most
    assert year_reads_year(w, [e]).tolist() == [False]
    assert two_at_once(w, 0.2)[0].tolist() == [False, False, True, *[False] * 7]


def test_the_page_reads_the_map_as_the_seed_asks(page: str) -> None:
    for words in ("Which inputs each output reads", "reads two at once", "output-by-input"):
        assert words in page
    assert not re.search(r"\bnan\b|\{\{", page)


def test_damaged_weights_give_the_unavailable_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "alignment_dates.npz"
    broken.write_bytes(alignment.WEIGHTS_PATH.read_bytes()[:1000])
    monkeypatch.setattr(alignment, "WEIGHTS_PATH", broken)
    with pytest.raises(ResourceUnavailable) as caught:
        SCENARIO.compute(SCENARIO)
    assert not isinstance(caught.value, alignment.AlignmentUnavailable)
    message = str(caught.value)
    assert "\n" not in message and str(broken) in message
    text = render_unavailable(SCENARIO, message)
    assert "could not be computed" in text and "cannot read the date model" in text


def test_the_two_digit_year_reading_is_computed(
    result: Result, ctx: dict[str, Any], page: str
) -> None:
    assert SHORT_YEAR in dates.FORMATS
    assert dates.example(dt.date(1969, 7, 20), SHORT_YEAR).words[-1] == "69"
    short = np.array([f == SHORT_YEAR for f in result.facts["formats"]])
    assert ctx["short_count"] == short.sum() > 0
    share = percent(float(result.arrays["year_ok"][short].mean()), 1)
    assert f"in {share} of them all four\nyear digits read the two-digit year most" in page
