"""The notebooks guide, run as a notebook by a real kernel, then drawn offline in Chromium.

The guide's Python blocks become the cells of one notebook, executed with nbclient by
ipykernel's ``python3`` kernel (one kernel run for the module). Its outputs must carry
the chart scripts exactly once, and a wrong array must stop its cell with the
builders' own error. nbconvert turns the executed notebook into HTML, which Chromium
opens with every host but 127.0.0.1 unresolvable: each chart must be drawn with its
marks, hovering a cell must show the weight the dump holds, and a dark JupyterLab
theme must draw every chart again in the dark theme.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.browser._browser import (
    DESKTOP,
    Watch,
    chart_problems,
    chart_states,
    hover_tooltip,
    in_ci,
    launch_chromium,
    local_origins,
    serve,
    wait_for_charts,
)
from tests.mkdocs._guides import blocks, expected_error

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GUIDE = "notebooks.md"

#: A marker of the Vega bundle: present in the one output that carries the scripts.
BUNDLE_MARK = "vega-embed bundle from vl-convert-python"


def need(module: str) -> Any:
    """``module``, or a skip saying how to get it (a failure under CI, which installs it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{module} is not installed: pip install -e '.[test]'"
        if in_ci():
            pytest.fail(f"{reason}; CI is set, so the notebook tests must run", pytrace=False)
        pytest.skip(reason)


#: After the guide: the Python API guide's examples, then every chart they made, shown.
SHOW_EVERY_CHART = """\
import altair as alt
from IPython.display import display

for name, value in list(globals().items()):
    if not name.startswith("_") and isinstance(value, (alt.TopLevelMixin, Figure)):
        display(value)"""


def guide_notebook() -> Any:
    """The notebooks guide's Python blocks as a notebook, one cell a block, in order; then
    the Python API guide's, and a cell showing every chart they built (each builder)."""
    nbformat = need("nbformat")
    cells = []
    # The API guide writes its own run.npz: in a folder of its own.
    elsewhere = 'import os\n\nos.makedirs("api", exist_ok=True)\nos.chdir("api")'
    api = blocks("python-api.md", "python")
    for code in [*blocks(GUIDE, "python"), elsewhere, *api, SHOW_EVERY_CHART]:
        cell = nbformat.v4.new_code_cell(code.rstrip("\n"))
        if expected_error(code):
            cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """The guide's notebook run by a real kernel in a fresh folder, and that folder."""
    nbclient = need("nbclient")
    folder = tmp_path_factory.mktemp("notebook")
    notebook = guide_notebook()
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=240,
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return notebook, folder


def _html_outputs(notebook: Any) -> list[str]:
    return [
        output["data"]["text/html"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "text/html" in output.get("data", {})
    ]


def test_every_chart_cell_shows_a_chart_and_the_scripts_travel_once(
    executed: tuple[Any, Path],
) -> None:
    notebook, _ = executed
    outputs = _html_outputs(notebook)
    guide = _html_outputs(SimpleNamespace(cells=notebook.cells[: len(blocks(GUIDE, "python"))]))
    charts = [html for html in guide if 'class="atlas-chart"' in html]
    assert len(charts) == 4, guide  # one head, every head, entropy, your own arrays
    assert sum(html.count(BUNDLE_MARK) for html in outputs) == 1
    assert BUNDLE_MARK in outputs[0]  # the set-up cell carries them
    assert "cdn" not in " ".join(outputs).lower().replace("vl-convert", "")


def test_a_wrong_array_stops_its_cell_with_the_builders_error(
    executed: tuple[Any, Path],
) -> None:
    from attention_atlas.charts import heatmap_chart

    notebook, _ = executed
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert len(errors) == 1, errors
    with pytest.raises(ValueError) as direct:
        heatmap_chart(np.full((4, 4), 0.25), ["a", "b"], list("abcd"), title="Too few labels")
    assert (errors[0]["ename"], errors[0]["evalue"]) == (
        type(direct.value).__name__,
        str(direct.value),
    )


def test_the_notebook_as_html_draws_every_chart_offline_with_hover_values_and_dark(
    executed: tuple[Any, Path],
) -> None:
    nbconvert = need("nbconvert")
    notebook, folder = executed
    exporter = nbconvert.HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(notebook)
    (folder / "notebook.html").write_text(body, encoding="utf-8")
    # nbconvert's page shell asks CDNs for require.js and MathJax; the browser cannot
    # reach them, and the charts must not need them.
    shell = tuple(
        str(url)
        for url in (exporter.require_js_url, exporter.mathjax_url, exporter.mermaid_js_url)
        if url
    )
    weights = np.load(folder / "run.npz")["attention"]  # (L, H, N, M) = (2, 4, 6, 6)
    with launch_chromium() as browser, serve(folder) as base_url:
        page = browser.new_page(viewport=DESKTOP)
        watch = Watch.attach(page)
        page.goto(base_url + "notebook.html")
        wait_for_charts(page)
        states = chart_states(page)
        problems = [p for state in states for p in chart_problems(state, where="notebook: ")]
        drawn = sum(html.count('class="atlas-chart"') for html in _html_outputs(notebook))
        assert len(states) == drawn > 10  # the guide's charts, then one of every builder
        assert not problems, "\n".join(problems)
        # The first chart is head 2 of layer 1: each cell's tooltip is the dump's weight.
        for r, c in ((0, 0), (2, 3), (5, 1)):
            tip = hover_tooltip(page, 0, r, c)
            assert abs(float(tip["weight"]) - weights[1, 2, r, c]) <= 5e-5, (r, c, tip)
        # JupyterLab's dark themes mark the body so; every chart is drawn again, dark.
        page.evaluate("() => document.body.setAttribute('data-jp-theme-light', 'false')")
        wait_for_charts(page, "dark")
        dark = [p for s in chart_states(page) for p in chart_problems(s, theme="dark")]
        assert not dark, "\n".join(dark)
        left = [url for url in watch.outside(*local_origins(base_url)) if not url.startswith(shell)]
        assert left == [], left
        # Resources that failed are the shell's (above) and the page's absent favicon.
        assert [f for f in watch.failed if not f.startswith(shell)] == []
        assert watch.page_errors == []
        assert [e for e in watch.console_errors if not e.startswith("Failed to load")] == []
