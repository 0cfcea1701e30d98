"""The report's model view: thumbnails in the page, one head's exact values on demand.

Unit tests of ``render_report``'s data files, then Chromium over http and from
file://: pick a head, see its exact (quantised) cell values in the tooltip, survive a
dark-mode re-render, and show a one-line message when a head's file is missing.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import attention_atlas.charts.grid as grid
from attention_atlas.charts.encoding import encode_matrix
from attention_atlas.charts.grid import THUMB_SIDE
from attention_atlas.dumps.read import load_dump
from attention_atlas.dumps.report import MODEL_VIEW_DATA, build_report, render_report

from .test_report import chart_text, dump_file

TOKENS = ["[CLS]", "the", "<b>cat</b>", "sat", "&amp;", "on", "it", "[SEP]"]
SHAPE = (2, 3, len(TOKENS), len(TOKENS))

#: Reports built and driven in Chromium: seconds each.
pytestmark = pytest.mark.slow


@pytest.fixture
def on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model view loads its heads on demand, however small."""
    monkeypatch.setattr(grid, "INLINE_CODES_BYTES", 0)


def _model_view(pages: dict[str, str]) -> dict[str, Any]:
    specs = json.loads(chart_text(pages["index.md"]))
    # Stacked: the grid, then the opened head below it (inside the page column).
    return next(s for s in specs if "vconcat" in s and "facet" in s["vconcat"][0])


def test_small_report_carries_its_heads_inline(tmp_path: Path) -> None:
    dump = load_dump(dump_file(tmp_path / "small.npz", TOKENS, SHAPE))
    pages = render_report(dump, title="T")
    assert sorted(p for p in pages if not p.endswith(".md")) == []
    spec = _model_view(pages)
    assert "heads" not in spec["usermeta"]["atlas"]
    assert any(p["name"] == "grid_codes" for p in spec["params"])


def test_on_demand_report_returns_one_data_file_per_head(tmp_path: Path, on_demand: None) -> None:
    dump = load_dump(dump_file(tmp_path / "small.npz", TOKENS, SHAPE))
    pages = render_report(dump, title="T")
    files = sorted(p for p in pages if not p.endswith(".md"))
    assert files == sorted(
        f"{MODEL_VIEW_DATA}L{layer}-H{h}.js" for layer in range(2) for h in range(3)
    )
    spec = _model_view(pages)
    assert spec["usermeta"]["atlas"]["heads"]["src"] == MODEL_VIEW_DATA
    for layer in range(2):
        for head in range(3):
            text = pages[f"{MODEL_VIEW_DATA}L{layer}-H{head}.js"]
            codes = re.fullmatch(r'atlasHeadData\(\d+,\d+,"([0-9a-f]+)"\);\n', text)
            assert codes is not None
            expected = encode_matrix(dump.attention[layer, head], quantize=True, domain=(0, 1))
            assert codes.group(1) == expected.codes


def test_long_report_keeps_full_resolution_for_the_opened_head(tmp_path: Path) -> None:
    n = 140  # above the grid's 64 blocks and the thumbnails' 128 pixels; 940 KB of codes
    tokens = [f"t{i}" for i in range(n)]
    dump = load_dump(dump_file(tmp_path / "long.npz", tokens, (2, 12, n, n)))
    pages = render_report(dump, title="T")
    spec = _model_view(pages)
    assert spec["usermeta"]["atlas"]["heads"]["src"] == MODEL_VIEW_DATA
    labels = {p["name"]: p["value"] for p in spec["params"] if "value" in p}
    assert len(labels["grid_rl"]) == n and len(labels["grid_cl"]) == n  # not pooled
    subtitle = " ".join(spec["title"]["subtitle"])
    assert f"pooled to {THUMB_SIDE} × {THUMB_SIDE} pixels" in subtitle
    assert "the opened head shows every cell" in subtitle
    assert len(pages[f"{MODEL_VIEW_DATA}L0-H2.js"]) > 2 * n * n


@pytest.fixture(scope="module")
def on_demand_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small dump and its report, every head loaded on demand; built once for the module
    (the reproducibility test builds it again, the browser tests drive it). Read-only."""
    folder = tmp_path_factory.mktemp("on-demand")
    npz = dump_file(folder / "run.npz", TOKENS, SHAPE, seed=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid, "INLINE_CODES_BYTES", 0)
        return npz, build_report(npz, out=folder / "report", title="T").out


def test_built_report_holds_the_data_files_and_is_reproducible(
    tmp_path: Path, on_demand: None, on_demand_report: tuple[Path, Path]
) -> None:
    npz, first = on_demand_report
    second = build_report(npz, out=tmp_path / "b", title="T").out  # the same input again
    names = sorted(p.name for p in (first / "model-view").iterdir())
    assert names == sorted(f"L{layer}-H{h}.js" for layer in range(2) for h in range(3))
    for name in names:
        assert (first / "model-view" / name).read_bytes() == (
            second / "model-view" / name
        ).read_bytes()
    assert (first / "index.html").read_bytes() == (second / "index.html").read_bytes()


# --------------------------------------------------------------------------- in Chromium

TITLES = """() => {
  const view = document.querySelector('.atlas-chart[data-spec]').__atlasEmbed.view;
  const out = [];
  (function walk(node) {
    if (!node) return;
    if (node.role === 'title-text') {
      (node.items || []).forEach((it) => [].concat(it.text).forEach((t) => out.push(String(t))));
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(view.scenegraph().root);
  return out; }"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browser._browser import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module", params=["marks", "image"])
def drawn_as(request: pytest.FixtureRequest) -> str:
    """How the opened head is drawn: a mark per cell, or one image (as long maps are)."""
    return str(request.param)


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, drawn_as: str, on_demand_report: tuple[Path, Path]
) -> Iterator[Path]:
    """A small report whose model view loads every head on demand."""
    if drawn_as == "marks":
        yield on_demand_report[1]
        return
    folder = tmp_path_factory.mktemp("model-view")
    npz = dump_file(folder / "run.npz", TOKENS, SHAPE, seed=3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grid, "INLINE_CODES_BYTES", 0)
        if drawn_as == "image":
            patch.setattr(grid, "DETAIL_IMAGE_CELLS", 0)
        yield build_report(npz, out=folder / "report", title="T").out


#: Items of the opened head's rect mark (none when it is drawn as an image).
HEAD_RECTS = """() => {
  const view = document.querySelector('.atlas-chart[data-spec]').__atlasEmbed.view;
  let count = 0;
  (function walk(node) {
    if (!node) return;
    if (node.role === 'mark' && /^grid_head/.test(node.name || '')) {
      count += (node.items || []).length;
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(view.scenegraph().root);
  return count; }"""

TOOLTIP_SHOWN = "() => document.querySelector('#vg-tooltip-element.visible') !== null"


def _open(browser: Any, url: str) -> tuple[Any, Any]:
    from tests.browser._browser import Watch, wait_for_charts

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watch = Watch.attach(page)
    page.goto(url)
    wait_for_charts(page)
    return page, watch


def _pick(page: Any, layer: int, head: int, heads: int = 3) -> None:
    """Open (layer, head) with the chart's menus; wait until its values are drawn."""
    for label, value in (("Layer", layer), ("Head", head)):
        page.locator(".atlas-chart").first.locator(".vega-bind", has_text=label).locator(
            "select"
        ).select_option(index=value)
    _wait_head(page, layer * heads + head)


def _wait_head(page: Any, index: int) -> None:
    """Wait until head ``index`` is drawn with its loaded values (``data-head``)."""
    page.wait_for_function(
        "(i) => document.querySelector('.atlas-chart[data-spec]').getAttribute('data-head') === i",
        arg=str(index),
        timeout=30_000,
    )


def _hover(page: Any, r: int, c: int, *, image: bool = False) -> dict[str, str]:
    """The tooltip of cell (r, c) of the opened head (its rect mark, or its image)."""
    from tests.browser._browser import hover_tooltip

    if image:
        return hover_tooltip(page, 0, r, c, mark="^grid_exact", shape=SHAPE[2:])
    return hover_tooltip(page, 0, r, c, mark="^grid_head")


def _expected(report: Path, layer: int, head: int, r: int, c: int) -> str:
    text = (report / "model-view" / f"L{layer}-H{head}.js").read_text(encoding="utf-8")
    codes = text.split('"')[1]
    code = int(codes[2 * (r * len(TOKENS) + c) : 2 * (r * len(TOKENS) + c) + 2], 16)
    return f"{code / 255:.3f}"


@pytest.mark.browser
@pytest.mark.parametrize("over", ["http", "file"])
def test_picking_a_head_loads_and_shows_its_exact_values(
    browser: Any, report: Path, drawn_as: str, over: str
) -> None:
    from tests.browser._browser import serve

    with serve(report) as base:
        url = base + "index.html" if over == "http" else (report / "index.html").as_uri()
        page, watch = _open(browser, url)
        try:
            # The first head is loaded right after the first paint.
            _wait_head(page, 0)
            _pick(page, 1, 2)
            image = drawn_as == "image"
            assert (page.evaluate(HEAD_RECTS) == 0) == image  # an image: no mark per cell
            tip = _hover(page, 3, 2, image=image)
            assert list(tip) == ["Query", "Key", "weight (quantised to 256 levels)"]
            assert tip["Query"] == "3: sat" and tip["Key"] == "2: <b>cat</b>"
            assert tip["weight (quantised to 256 levels)"] == _expected(report, 1, 2, 3, 2)
            for r, c in ((0, 7), (7, 0)):  # the corners: rows and columns the right way
                tip = _hover(page, r, c, image=image)
                assert tip["Query"] == f"{r}: {TOKENS[r]}" and tip["Key"] == f"{c}: {TOKENS[c]}"
                assert tip["weight (quantised to 256 levels)"] == _expected(report, 1, 2, r, c)
            page.mouse.move(1, 1)  # off the chart: the tooltip goes
            page.wait_for_function(f"() => !({TOOLTIP_SHOWN})()", timeout=10_000)
            assert any(t == "Exact values: hover a cell" for t in page.evaluate(TITLES))
            requested = [u for u in watch.requests if "/model-view/" in u]
            names = [u.rsplit("/", 1)[1] for u in requested]
            # Each head opened is loaded once (the menus pass by L1 H0 on the way).
            assert sorted(names) == sorted(set(names)) and {"L0-H0.js", "L1-H2.js"} <= set(names)
            local = ("file://",) if over == "file" else (base,)
            assert watch.problems(*local) == []
        finally:
            page.close()


@pytest.mark.browser
def test_the_opened_head_survives_a_dark_mode_rerender(
    browser: Any, report: Path, drawn_as: str
) -> None:
    from tests.browser._browser import serve, toggle_scheme, wait_for_charts

    with serve(report) as base:
        page, watch = _open(browser, base + "index.html")
        try:
            _pick(page, 0, 1)
            before = len(watch.requests)
            toggle_scheme(page)
            wait_for_charts(page, theme="dark")
            _wait_head(page, 1)
            assert "Layer L0, head H1" in page.evaluate(TITLES)
            tip = _hover(page, 0, 1, image=drawn_as == "image")
            assert tip["weight (quantised to 256 levels)"] == _expected(report, 0, 1, 0, 1)
            assert [u for u in watch.requests[before:] if "/model-view/" in u] == []  # cached
            assert watch.problems(base) == []
        finally:
            page.close()


@pytest.mark.browser
def test_on_a_phone_a_tap_on_an_image_head_shows_the_cell_and_stays(
    browser: Any, report: Path, drawn_as: str
) -> None:
    """Touch has no hover: a tap shows the cell, and lifting the finger keeps it shown."""
    from tests.browser._browser import PHONE, TOOLTIP_ROWS, cell_centre, serve, wait_for_charts

    if drawn_as != "image":
        pytest.skip("cells drawn as marks answer taps through Vega's own tooltip")
    with serve(report) as base:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        try:
            page = context.new_page()
            page.goto(base + "index.html")
            wait_for_charts(page)
            _wait_head(page, 0)
            page.touchscreen.tap(*cell_centre(page, 0, 6, 1, mark="^grid_exact", shape=SHAPE[2:]))
            page.wait_for_timeout(300)  # the finger is lifted: pointerup, pointerleave
            tip = dict(page.evaluate(TOOLTIP_ROWS))
            assert tip["Query"] == f"6: {TOKENS[6]}" and tip["Key"] == f"1: {TOKENS[1]}"
            assert tip["weight (quantised to 256 levels)"] == _expected(report, 0, 0, 6, 1)
        finally:
            context.close()


@pytest.mark.browser
def test_a_missing_head_file_gives_a_one_line_message(
    browser: Any, report: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(report, broken)
    (broken / "model-view" / "L1-H0.js").unlink()
    page, watch = _open(browser, (broken / "index.html").as_uri())
    try:
        for label, value in (("Layer", 1), ("Head", 0)):
            page.locator(".atlas-chart").first.locator(".vega-bind", has_text=label).locator(
                "select"
            ).select_option(index=value)
        page.wait_for_function(
            "() => { const v = document.querySelector('.atlas-chart[data-spec]')"
            ".__atlasEmbed.view; return v.signal('grid_hs') !== ''; }",
            timeout=30_000,
        )
        titles = page.evaluate(TITLES)
        assert "Exact values unavailable (L1-H0.js: the file could not be loaded)" in titles
        assert page.locator(".atlas-chart").first.get_attribute("data-rendered") == "true"
        assert watch.page_errors == [] and watch.dialogs == []
    finally:
        page.close()
