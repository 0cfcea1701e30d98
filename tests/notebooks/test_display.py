"""How a chart displays in a notebook, without a kernel: the mimebundles themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator

import altair as alt
import numpy as np
import pytest

from attention_atlas.charts import Figure, heatmap_chart, to_spec
from attention_atlas.charts import notebook as nb

BUNDLE_MARK = "vega-embed bundle from vl-convert-python"


@pytest.fixture(autouse=True)
def fresh_kernel() -> Iterator[None]:
    """As in a new kernel: no scripts sent yet, Altair's own renderer active."""
    sent, active = nb._state["sent"], alt.renderers.active
    nb._state["sent"] = False
    alt.renderers.enable("default")
    yield
    nb._state["sent"] = sent
    alt.renderers.enable(active)


def _figure(name: str = "map") -> Figure:
    chart = heatmap_chart(np.eye(2), ["a", "b"], ["a", "b"], title="Identity")
    return Figure(chart, caption="Rows are queries.", name=name)


def test_the_first_figure_carries_the_scripts_and_later_ones_reuse_them() -> None:
    first = _figure()._repr_mimebundle_()["text/html"]
    second = _figure("other")._repr_mimebundle_()["text/html"]
    assert first.count(BUNDLE_MARK) == 1 and BUNDLE_MARK not in second
    assert "window.atlasRenderAll" in second  # asks the scripts the first output loaded
    page = str(_figure().html())
    for html in (first, second):
        assert page.split("<noscript>")[0] in html and page.split("</noscript>")[1] in html
        assert "<noscript>" not in html
        assert 'class="atlas-static"' in html  # what shows where scripts do not run
    assert len(second) < 10_000 < len(first)


def test_notebook_sends_the_scripts_and_draws_altair_charts_offline() -> None:
    setup = nb.notebook()
    assert BUNDLE_MARK in setup._repr_mimebundle_()["text/html"]
    chart = heatmap_chart(np.eye(2), ["a", "b"], ["a", "b"], title="Identity")
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    html = bundle["text/html"]
    assert 'class="atlas-chart"' in html and BUNDLE_MARK not in html
    assert "cdn" not in html.lower()
    spec = json.loads(html.split("data-spec='")[1].split("'")[0])
    assert spec == to_spec(chart)


def test_a_renderer_the_user_chose_is_followed() -> None:
    fig = _figure()
    with alt.renderers.enable("json"):
        data, _ = fig._repr_mimebundle_()
    assert data["application/json"] == fig.to_dict()
    assert nb._state["sent"] is False  # nothing was sent, so the next chart carries them


def test_the_inline_scripts_cannot_end_their_element() -> None:
    assert nb._inline("a = '</script><!--</STYLE>';") == "a = '<\\/script><\\!--<\\/STYLE>';"
    html = nb.scripts_html()
    assert html.lower().count("</script>") == 1 and html.lower().count("</style>") == 1


def test_marimo_gets_the_spec_and_is_told_what_needs_the_atlas_script() -> None:
    mime, data = _figure()._mime_()
    major = _figure().to_dict()["$schema"].split("/vega-lite/v")[1].split(".")[0]
    assert mime == f"application/vnd.vegalite.v{major}+json"  # as marimo shows Altair's
    assert json.loads(data) == _figure().to_dict()
    spec = {"title": "Heads", "usermeta": {"atlas": {"heads": {"src": "x/"}}}, "mark": "rect"}
    _, shown = Figure(spec, caption="")._mime_()
    assert "exact values need the atlas page script" in json.dumps(json.loads(shown)["title"])


def test_an_invalid_value_raises_the_builders_valueerror_on_display() -> None:
    bad = Figure({"mark": "rect", "width": float("nan")}, caption="")
    with pytest.raises(ValueError) as shown:
        bad._repr_mimebundle_()
    with pytest.raises(ValueError) as direct:
        to_spec({"mark": "rect", "width": float("nan")})
    assert str(shown.value) == str(direct.value)
