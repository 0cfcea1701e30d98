"""figure_html and to_spec: safe inside HTML and Markdown, deterministic, readable JSON."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from attention_atlas.charts import figure_html, heatmap_chart, to_spec
from attention_atlas.charts.html import CANVAS_CELLS, spec_json
from attention_atlas.text import visible

from ._util import params, spec_from_html

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'\"",
    "{{ 7*7 }}",
    "{% raw %}",
    "😀🧠",
    "שָׁלוֹם",
    "a&amp;b",
    "\u2028line",
]


def _hostile_figure(caption: str = "How to read <this> & 'that'") -> tuple[str, list[str]]:
    labels = HOSTILE
    w = np.full((len(labels), len(labels)), 1.0 / len(labels))
    chart = heatmap_chart(w, labels, labels, title="<b>Title</b> & 'quotes'")
    return str(figure_html(chart, caption=caption)), labels


def test_hostile_labels_cannot_break_out_of_the_attribute() -> None:
    snippet, _ = _hostile_figure()
    attr = re.search(r"data-spec='([^']*)'", snippet)
    assert attr is not None
    inside = attr.group(1)
    for bad in ("<", ">", "'", "&"):
        assert bad not in inside
    assert "<script" not in snippet.lower()
    assert "<img" not in snippet
    assert "{{" not in snippet and "{%" not in snippet


def test_hostile_labels_survive_the_round_trip() -> None:
    snippet, labels = _hostile_figure()
    spec = spec_from_html(snippet)
    shown = [visible(label) for label in labels]  # U+2028 (a line break) shows as an escape
    assert params(spec)["hm_rl"] == shown
    assert params(spec)["hm_cl"] == shown
    assert spec["title"]["text"] == "<b>Title</b> & 'quotes'"


def test_caption_is_escaped_and_everything_is_one_line() -> None:
    snippet, _ = _hostile_figure(caption="Read <rows>\n\nfirst & 'then' columns")
    assert "\n" not in snippet
    assert "<figcaption>Read &lt;rows&gt; first &amp; &#x27;then&#x27; columns</figcaption>" in (
        snippet
    )
    assert snippet.startswith('<figure class="atlas-figure" id="chart-')
    assert "<noscript>Interactive chart: " in snippet


def test_figure_is_deterministic_and_ids_follow_content() -> None:
    w = np.eye(3)
    a = str(figure_html(heatmap_chart(w, "abc", "abc", title="I"), caption="c"))
    b = str(figure_html(heatmap_chart(w, "abc", "abc", title="I"), caption="c"))
    c = str(figure_html(heatmap_chart(w, "abc", "abd", title="I"), caption="c"))
    assert a == b
    ids = [re.search(r'id="(chart-[0-9a-f]{12})"', s).group(1) for s in (a, c)]  # type: ignore[union-attr]
    assert ids[0] != ids[1]


def test_renderer_is_canvas_for_many_cells_unless_asked() -> None:
    small = heatmap_chart(np.eye(4), "abcd", "abcd", title="I")
    n = int(np.ceil(np.sqrt(CANVAS_CELLS + 1)))
    big = heatmap_chart(
        np.eye(n), [str(i) for i in range(n)], [str(i) for i in range(n)], title="I"
    )
    assert 'data-renderer="svg"' in figure_html(small, caption="c")
    assert 'data-renderer="canvas"' in figure_html(big, caption="c")
    assert 'data-renderer="canvas"' in figure_html(small, caption="c", renderer="canvas")
    hinted = heatmap_chart(np.eye(4), "abcd", "abcd", title="I", renderer_hint="canvas")
    assert 'data-renderer="canvas"' in figure_html(hinted, caption="c")
    with pytest.raises(ValueError, match="renderer"):
        figure_html(small, caption="c", renderer="webgl")  # type: ignore[arg-type]


def test_to_spec_sorts_keys_and_rounds_floats() -> None:
    spec = to_spec({"b": 1.0 / 3.0, "a": [{"z": 2.0000000001, "y": -0.0}]})
    assert list(spec) == ["a", "b"]
    assert spec == {"a": [{"y": 0.0, "z": 2.0}], "b": 0.333333}
    assert list(spec["a"][0]) == ["y", "z"]
    with pytest.raises(ValueError, match="inf"):
        to_spec({"a": float("inf")})


def test_to_spec_validates_charts() -> None:
    import altair as alt

    bad = alt.Chart(alt.Data(values=[{"a": 1}])).mark_point().encode(x="a:Q")
    bad.width = "wide"  # not a Vega-Lite width; attribute assignment skips validation
    with pytest.raises(Exception, match="width"):
        to_spec(bad)


def test_spec_json_is_valid_json_for_every_escaped_character() -> None:
    spec = {"s": "<>&'{{ {% {# {} {\"", "n": [1, 2]}
    text = spec_json(spec)
    assert json.loads(text) == spec
    assert re.search(r"\{(?![\"}])", text) is None
