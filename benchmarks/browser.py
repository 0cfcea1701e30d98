"""What a reader's browser pays for each page of the built site, measured in Chromium.

Usage: ``python benchmarks/browser.py [--loads N] [--site DIR] [--no-model-view]``.
Builds a throwaway copy of the project (or measures an already built ``DIR``), serves
it on 127.0.0.1 and loads every page N times (after one warm-up load) in headless
Chromium, then two pages holding one 256 x 256 map each (canvas, SVG). Prints one
table: HTML bytes, inline chart data bytes, heatmap cells, chart bytes per cell, and
the median / min / max time from navigation start until every chart of the page is
drawn (``data-rendered="true"``); then the model view's own paint time (the first
chart of ``tutorial/real-model/``, if the site has it). The same table ends with the
overview pages of reports of MiniLM at 16, 128 and 500 tokens, whose one chart is the
model view; after it, ``benchmarks/model_view.py``'s table adds their full page weight,
the chart's own render time and the time to open one head's exact values.

Needs the ``playwright`` package and Debian's ``chromium`` (never downloads a browser).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser._browser import (  # noqa: E402
    LAUNCH_ARGS,
    cell_codes,
    chromium_path,
    serve,
    site_pages,
)

MODEL_VIEW_PAGE = "tutorial/real-model/"

#: Lengths of the MiniLM texts whose reports' model views are measured.
MODEL_VIEW_TOKENS = (16, 128, 500)

#: Records, relative to navigation start, when each chart and then all of them are drawn.
PAINT_CLOCK = """(() => {
  window.__atlasDrawn = {};
  const check = () => {
    const charts = document.querySelectorAll('.atlas-chart[data-spec]');
    charts.forEach((el, i) => {
      if (el.getAttribute('data-rendered') === 'true' && !(i in window.__atlasDrawn)) {
        window.__atlasDrawn[i] = performance.now();
      }
    });
    if (charts.length && window.__atlasAll === undefined
        && [...charts].every((el) => el.getAttribute('data-rendered') === 'true')) {
      window.__atlasAll = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, attributes: true, attributeFilter: ['data-rendered'],
  });
})();"""

SETTLED = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')].every(
  (el) => ['true', 'error'].includes(el.getAttribute('data-rendered')))"""


@dataclass
class PageCost:
    path: str
    html_bytes: int
    chart_bytes: int
    charts: int
    cells: int
    paints_ms: list[float] = field(default_factory=list)
    first_chart_ms: list[float] = field(default_factory=list)
    failed: int = 0


def heatmap_cells(spec: dict[str, Any]) -> int:
    """Cells carried by a spec's compact matrices (``<p>_v`` beside ``<p>_rl``/``<p>_cl``);
    a grid of heads carries several maps in one param."""
    params = {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}
    cells = 0
    for name, value in params.items():
        prefix = name[:-2]
        if name.endswith("_v") and f"{prefix}_rl" in params and f"{prefix}_cl" in params:
            one_map = len(params[f"{prefix}_rl"]) * len(params[f"{prefix}_cl"])
            cells += len(cell_codes(value, one_map))
    return cells


def static_cost(site: Path, path: str) -> PageCost:
    """Sizes of page ``path`` (a folder with ``index.html``, or an ``.html`` file)."""
    file = site / path if path.endswith(".html") else site / path / "index.html"
    data = file.read_bytes()
    raw = re.findall(r"data-spec='([^']*)'", data.decode("utf-8"))
    specs = [json.loads(html.unescape(s)) for s in raw]
    return PageCost(
        path=path or "(home)",
        html_bytes=len(data),
        chart_bytes=sum(len(s.encode("utf-8")) for s in raw),
        charts=len(specs),
        cells=sum(heatmap_cells(s) for s in specs),
    )


def measure(page: Any, url: str, cost: PageCost) -> None:
    page.goto(url)
    page.wait_for_function(SETTLED, timeout=300_000)
    result = page.evaluate("() => [window.__atlasAll, window.__atlasDrawn]")
    all_ms, drawn = result
    if "0" in drawn:
        cost.first_chart_ms.append(float(drawn["0"]))
    if all_ms is None:
        cost.failed += 1
    else:
        cost.paints_ms.append(float(all_ms))


def single_map_pages(dest: Path, side: int = 256) -> list[str]:
    """Write pages holding one ``side`` x ``side`` attention map each (canvas, then SVG).

    The map is a seeded softmax of banded scores (a local window plus noise), drawn
    with the site's own chart scripts; returns the page file names.
    """
    import numpy as np

    from attention_atlas.attention import softmax
    from attention_atlas.charts import figure_html, heatmap_chart
    from attention_atlas.render.assets import write_assets

    rng = np.random.default_rng(256)
    pos = np.arange(side)
    scores = -np.abs(pos[:, None] - pos[None, :]) / 4.0 + rng.normal(0, 1.0, (side, side))
    weights = softmax(scores)
    labels = [f"t{i}" for i in range(side)]
    assets = write_assets(dest / "assets")
    head = "".join(
        f'<script src="assets/{a}"></script>'
        if a.endswith(".js")
        else f'<link rel="stylesheet" href="assets/{a}">'
        for a in assets
    )
    names = []
    for renderer in ("canvas", "svg"):
        chart = heatmap_chart(
            weights,
            labels,
            labels,
            title=f"One {side} × {side} map ({renderer})",
            renderer_hint=renderer,
        )
        figure = figure_html(chart, caption="A banded map.", renderer=renderer)
        name = f"map-{side}-{renderer}.html"
        (dest / name).write_text(
            f"<!doctype html><html><head><meta charset='utf-8'>{head}</head>"
            f"<body>{figure}</body></html>",
            encoding="utf-8",
        )
        names.append(name)
    return names


def build_site(dest: Path) -> Path:
    import shutil

    from attention_atlas.build import build

    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    ignore = shutil.ignore_patterns("tutorial", "index.md", "atlas")
    shutil.copytree(ROOT / "site_src", dest / "site_src", ignore=ignore)
    print(f"building the site into {dest} ...", file=sys.stderr)
    return build(dest).out or dest / "site"


def kb(n: float) -> str:
    return f"{n / 1024:,.1f}"


def measure_pages(folder: Path, paths: list[str], loads: int) -> tuple[list[PageCost], str]:
    """Serve ``folder`` and load each page ``loads`` times after a warm-up; (costs, browser)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        sys.exit("Chromium is not installed: apt-get install chromium")
    costs = [static_cost(folder, p) for p in paths]
    with serve(folder) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(PAINT_CLOCK)
        page = context.new_page()
        for cost in costs:
            url = base_url + ("" if cost.path == "(home)" else cost.path)
            if not cost.charts:
                continue
            page.goto(url)  # warm-up: the browser cache holds the shared assets
            page.wait_for_function(SETTLED, timeout=300_000)
            for _ in range(loads):
                measure(page, url, cost)
        version = browser.version
        browser.close()
    return costs, version


def run(
    site: Path, loads: int, fixtures: Path | None = None, reports: list[str] | None = None
) -> None:
    """Measure the site's pages, then (in ``fixtures``) the single maps and the reports.

    ``reports`` are overview pages (``<report>/index.html``) of reports built in
    ``fixtures``; their one chart is the model view.
    """
    costs, version = measure_pages(site, site_pages(site), loads)
    if fixtures is not None:
        extra, _ = measure_pages(fixtures, single_map_pages(fixtures) + (reports or []), loads)
        costs += extra

    header = (
        f"{'page':<34}{'HTML KB':>9}{'charts KB':>10}{'charts':>7}{'cells':>8}"
        f"{'B/cell':>8}{'paint ms':>10}{'min':>8}{'max':>8}"
    )
    print(f"Chromium {version}, {os.cpu_count()} CPUs, median of {loads} loads after a warm-up")
    print(header)
    print("-" * len(header))
    for cost in costs:
        per_cell = f"{cost.chart_bytes / cost.cells:.1f}" if cost.cells else "-"
        if cost.paints_ms:
            paint = f"{statistics.median(cost.paints_ms):.0f}"
            low, high = f"{min(cost.paints_ms):.0f}", f"{max(cost.paints_ms):.0f}"
        else:
            paint = low = high = "-" if not cost.failed else "failed"
        print(
            f"{cost.path:<34}{kb(cost.html_bytes):>9}{kb(cost.chart_bytes):>10}"
            f"{cost.charts:>7}{cost.cells:>8}{per_cell:>8}{paint:>10}{low:>8}{high:>8}"
        )
    total_html = sum(c.html_bytes for c in costs)
    total_charts = sum(c.chart_bytes for c in costs)
    cells = sum(c.cells for c in costs)
    print("-" * len(header))
    print(
        f"{'all pages':<34}{kb(total_html):>9}{kb(total_charts):>10}"
        f"{sum(c.charts for c in costs):>7}{cells:>8}"
        f"{(total_charts / cells if cells else 0):>8.1f}"
    )
    model = next((c for c in costs if c.path == MODEL_VIEW_PAGE), None)
    if model is not None and model.first_chart_ms:
        whole = (
            f"{statistics.median(model.paints_ms):.0f} ms"
            if model.paints_ms
            else "not finished (a chart failed)"
        )
        print(
            f"model view ({MODEL_VIEW_PAGE}, its first chart): "
            f"{statistics.median(model.first_chart_ms):.0f} ms median to paint; "
            f"whole page: {whole}"
        )
    failed = [c.path for c in costs if c.failed]
    if failed:
        print(f"pages whose charts did not all draw: {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="measured loads per page")
    parser.add_argument("--site", type=Path, default=None, help="an already built site")
    parser.add_argument(
        "--no-model-view",
        action="store_true",
        help="skip the model-view reports (benchmarks/model_view.py)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    import model_view

    with tempfile.TemporaryDirectory(prefix="atlas-browser-bench-") as tmp:
        fixtures = Path(tmp) / "fixtures"
        fixtures.mkdir()
        site = args.site.resolve() if args.site else build_site(Path(tmp) / "project")
        # Reports of MiniLM at 16, 128 and 500 tokens: their overview is the model view.
        sizes = [] if args.no_model_view else list(MODEL_VIEW_TOKENS)
        for tokens in sizes:
            print(f"building the report of MiniLM on {tokens} tokens ...", file=sys.stderr)
            npz = model_view.make_dump(tokens, fixtures / f"minilm-{tokens}.npz")
            model_view.build(npz, fixtures / f"report-{tokens}-tokens")
        run(site, args.loads, fixtures, [f"report-{t}-tokens/index.html" for t in sizes])
        if sizes:
            # What the table cannot show: the time to open one head's exact values.
            views = [
                model_view.measure_report(fixtures / f"report-{t}-tokens", t, args.loads)
                for t in sizes
            ]
            print()
            print(model_view.table(views))


if __name__ == "__main__":
    main()
