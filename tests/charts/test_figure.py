"""Figure: a chart as a value with the three ways out of an Altair chart; nothing parses
HTML back."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import altair as alt
import jinja2
import numpy as np
import pytest

import attention_atlas
from attention_atlas.charts import Figure, figure_html, heatmap_chart, to_spec
from attention_atlas.charts.figure import figures_in
from attention_atlas.charts.html import spec_json
from attention_atlas.render.templating import environment

from ._util import spec_from_html

TOKENS = ["the", "<cat>", "sat"]


def _chart() -> alt.TopLevelMixin:
    w = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    return heatmap_chart(w, TOKENS, TOKENS, title="Three 'tokens' & <more>")


def test_to_dict_is_the_spec_a_page_carries_and_a_copy() -> None:
    chart = _chart()
    fig = Figure(chart, caption="c", name="map")
    assert fig.to_dict() == to_spec(chart) == fig.spec()
    spec = fig.to_dict()
    spec["title"] = "changed"
    assert fig.to_dict()["title"] != "changed"
    assert fig.spec_bytes == len(spec_json(to_spec(chart)).encode("utf-8"))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"renderer": "canvas"},
        {"alt_text": "A 3 x 3 map"},
        {"renderer": "svg", "alt_text": "x"},
    ],
)
def test_html_is_byte_identical_to_figure_html(options: dict[str, str]) -> None:
    chart = _chart()
    caption = "Rows are <queries>; read 'across'."
    fig = Figure(chart, caption=caption, name="map", **options)  # type: ignore[arg-type]
    assert fig.html() == figure_html(chart, caption=caption, **options)  # type: ignore[arg-type]
    assert spec_from_html(str(fig.html())) == fig.to_dict()


def test_a_spec_dict_works_like_the_chart() -> None:
    chart = _chart()
    from_spec = Figure(to_spec(chart), caption="c", name="map")
    from_chart = Figure(chart, caption="c", name="map")
    assert from_spec.to_dict() == from_chart.to_dict()
    assert from_spec.html() == from_chart.html()


def test_displays_in_a_notebook_as_altair_does() -> None:
    chart = _chart()
    fig = Figure(chart, caption="c", name="map")
    with alt.renderers.enable("json"):
        data, _ = fig._repr_mimebundle_()
        chart_data, _ = chart._repr_mimebundle_()
        assert data["application/json"] == fig.to_dict()
        assert data.keys() == chart_data.keys()
    # Altair's default renderer loads Vega from a CDN: a figure displays offline instead.
    bundle = fig._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert fig.html().split("<noscript>")[0] in bundle["text/html"]


def test_bad_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="renderer must be 'svg' or 'canvas', got 'webgl'"):
        Figure(_chart(), caption="c", renderer="webgl")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chart must be an Altair chart or a spec dict, got str"):
        Figure("<figure>…</figure>", caption="c")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="caption must be a string, got NoneType"):
        Figure(_chart(), caption=None)  # type: ignore[arg-type]


def test_a_figure_is_a_frozen_value() -> None:
    fig = Figure(_chart(), caption="c", name="map")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fig.caption = "other"  # type: ignore[misc]
    other = dataclasses.replace(fig, caption="other")
    assert other.caption == "other" and other.to_dict() == fig.to_dict()


def test_templates_place_figures_with_the_filter_only() -> None:
    fig = Figure(_chart(), caption="c", name="map")
    env = environment()
    placed = env.from_string("{{ fig | figure }}").render(fig=fig)
    assert placed == str(fig.html())
    with pytest.raises(TypeError, match=r"place Figure 'map' with the figure filter"):
        env.from_string("{{ fig }}").render(fig=fig)
    with pytest.raises(TypeError, match="the figure filter takes a Figure, got str"):
        env.from_string("{{ text | figure }}").render(text="<figure>")
    macros = env.get_template("_macros.md.j2").module
    assert str(fig.html()) in str(macros.figure(fig))  # type: ignore[attr-defined]
    with pytest.raises(jinja2.TemplateError):
        env.from_string("{{ missing | figure }}").render()


def test_figures_in_walks_lists_and_dicts_once_each() -> None:
    a, b, c = (Figure({"mark": "rect"}, caption=x, name=x) for x in "abc")
    shared = {"fig": b, "more": [c, {"deep": (a,)}]}
    context = {"first": a, "n": 3, "text": "a_fig", "sections": [shared, shared]}
    assert list(figures_in(context)) == [a, b, c]


def _package_modules() -> list[Path]:
    return sorted(Path(attention_atlas.__file__).parent.rglob("*.py"))


def _parses_html(tree: ast.AST) -> list[str]:
    """What in a module reads HTML back: html.parser, HTMLParser, regexes over figures."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("html.parser")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [a.name for a in node.names]
            if module.startswith("html.parser") or (module == "html" and "parser" in names):
                found.append(f"from {module} import {', '.join(names)}")
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in ("HTMLParser", "parser") and "HTML" in ast.unparse(node) + name:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and ast.unparse(node.func).startswith("re."):
            pattern = node.args[0] if node.args else None
            text = pattern.value if isinstance(pattern, ast.Constant) else None
            if isinstance(text, str) and any(
                m in text for m in ("data-spec", "<figure", "caption>")
            ):
                found.append(ast.unparse(node))
    return found


def test_no_module_parses_html() -> None:
    modules = _package_modules()
    assert len(modules) > 30
    offenders = {
        str(path.relative_to(path.parents[1])): hits
        for path in modules
        if (hits := _parses_html(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


def test_the_html_check_finds_what_it_looks_for() -> None:
    code = (
        "import html.parser\n"
        "from html import parser\n"
        "class P(html.parser.HTMLParser): pass\n"
        "import re\n"
        "SPEC = re.compile(r\"data-spec='([^']*)'\")\n"
    )
    assert len(_parses_html(ast.parse(code))) >= 4
