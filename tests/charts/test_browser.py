"""The charts in headless Chromium: render from file://, hover, click, dark mode, no leaks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas.charts import (
    bar_chart,
    figure_html,
    head_grid_chart,
    heatmap_chart,
    line_chart,
    row_explorer_chart,
    vector_chart,
)
from attention_atlas.render.assets import write_assets
from tests.browser._browser import LAUNCH_ARGS, chromium_path, no_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "'\"",
    "the",
    "the",
]


def _w(*shape: int, seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).random(shape) ** 3
    return w / w.sum(axis=-1, keepdims=True)


def figures() -> dict[str, str]:
    """One figure per builder, keyed by a name used as the element id."""
    tokens = ["the", "cat", "sat", "on", "the", "mat"]
    big = [f"t{i}" for i in range(64)]
    many = [f"w{i}" for i in range(130)]
    charts: dict[str, Any] = {
        "hostile": heatmap_chart(_w(5, 5), HOSTILE, HOSTILE, title="Hostile <labels>"),
        "diverging": heatmap_chart(
            np.random.default_rng(1).normal(size=(6, 6)),
            tokens,
            tokens,
            title="Scores",
            diverging=True,
            fmt=".2f",
        ),
        "quantised": heatmap_chart(_w(64, 64), big, big, title="64 x 64, quantised"),
        "vector": vector_chart([5, 1, 20], ["h1", "h2", "h3"], title="Decoder state", fmt=".0f"),
        "bars": bar_chart(_w(6), tokens, title="One row", highlight=1, fmt=".3f"),
        "explorer": row_explorer_chart(_w(6, 6), tokens, tokens, title="Explorer"),
        "grid": head_grid_chart(_w(2, 3, 6, 6), tokens, tokens, title="Heads"),
        "thumbs": head_grid_chart(
            _w(2, 3, 130, 130), many, many, title="Heads as images", thumbnails=True
        ),
        "lines": line_chart(
            [{"n": n, "t": n * n / 1e6, "m": "full"} for n in (64, 256, 1024)]
            + [{"n": n, "t": n / 1e4, "m": "linear"} for n in (64, 256, 1024)],
            x="n",
            y="t",
            color="m",
            title="Cost",
            x_title="N",
            y_title="s",
            log_x=True,
            log_y=True,
        ),
    }
    return {
        key: str(figure_html(chart, caption=f"Caption of {key} <b>not bold</b>"))
        for key, chart in charts.items()
    }


def write_page(dest: Path, *, material_body: bool = True) -> Path:
    """A standalone page using the site's assets; returns the HTML file."""
    names = write_assets(dest / "assets")
    scripts = "".join(f'<script src="assets/{n}"></script>' for n in names if n.endswith(".js"))
    styles = "".join(
        f'<link rel="stylesheet" href="assets/{n}">' for n in names if n.endswith(".css")
    )
    body = "\n".join(f'<section id="{k}">{v}</section>' for k, v in figures().items())
    scheme = ' data-md-color-scheme="default"' if material_body else ""
    page = dest / "index.html"
    page.write_text(
        f'<!doctype html><html><head><meta charset="utf-8">{styles}'
        "<style>body{font-family:-apple-system,Helvetica,Arial,sans-serif;margin:16px}"
        "body[data-md-color-scheme=slate]{background:#1e2129;color:#e2e4e9}</style>"
        f"</head><body{scheme}>\n{body}\n{scripts}</body></html>",
        encoding="utf-8",
    )
    return page


@pytest.fixture(scope="module")
def chart_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = chromium_path()
    if chromium is None:
        no_browser("chromium is not installed")
    html_file = write_page(tmp_path_factory.mktemp("charts"))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        pg.errors = []  # type: ignore[attr-defined]
        pg.dialogs = []  # type: ignore[attr-defined]
        pg.on("console", lambda m: m.type == "error" and pg.errors.append(m.text))  # type: ignore[attr-defined]
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))  # type: ignore[attr-defined]
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
        pg.goto(html_file.as_uri())
        pg.wait_for_function(
            "[...document.querySelectorAll('.atlas-chart')].every("
            "e => e.getAttribute('data-rendered') === 'true')",
            timeout=30_000,
        )
        yield pg
        browser.close()


def test_every_chart_renders_without_errors_or_dialogs(chart_page: Any) -> None:
    count = chart_page.eval_on_selector_all(".atlas-chart[data-rendered=true]", "els => els.length")
    assert count == len(figures())
    assert chart_page.errors == []
    assert chart_page.dialogs == []
    assert chart_page.eval_on_selector_all("#hostile img", "els => els.length") == 0


def test_small_heatmap_draws_one_rect_per_cell_and_labels_by_position(chart_page: Any) -> None:
    cells = chart_page.eval_on_selector_all("#hostile g.hm_cells_marks path", "els => els.length")
    assert cells == 25
    labels = chart_page.eval_on_selector_all(
        "#hostile g.role-axis-label text", "els => els.map(e => e.textContent)"
    )
    assert labels.count("the") == 4  # twice on each axis: repeated tokens stay apart
    assert any(label.startswith("<img src=x onerror=") for label in labels)  # shown as text


def test_canvas_chart_paints_every_cell(chart_page: Any) -> None:
    assert (
        chart_page.eval_on_selector("#quantised .atlas-chart", "e => e.dataset.renderer")
        == "canvas"
    )
    items = chart_page.evaluate(
        "() => { const el = document.querySelector('#quantised .atlas-chart');"
        " const scene = el.__atlasEmbed.view.scenegraph().root;"
        " let n = 0; const walk = (it) => {"
        " if (it.marktype === 'rect' && it.name === 'hm_cells_marks') n += it.items.length;"
        " (it.items || []).forEach(c => walk(c)); }; walk(scene); return n; }"
    )
    assert items == 64 * 64


def test_hover_shows_query_key_and_value(chart_page: Any) -> None:
    chart_page.hover("#hostile g.hm_cells_marks path >> nth=6", force=True)
    chart_page.wait_for_selector("#vg-tooltip-element.visible", timeout=5000)
    text = chart_page.inner_text("#vg-tooltip-element")
    assert "Query (attending)" in text and "Key (attended to)" in text
    assert "1: <img src=x onerror=alert(1)>" in text
    assert chart_page.dialogs == []


def test_clicking_a_row_changes_the_bars(chart_page: Any) -> None:
    def shown_query() -> str:
        return chart_page.eval_on_selector(
            "#explorer g[class*=rx_query] text", "e => e.textContent"
        )

    assert shown_query() == "0: the"
    chart_page.click("#explorer g[class*=rx_cells] path >> nth=20", force=True)  # row 3
    chart_page.wait_for_function(
        "document.querySelector('#explorer g[class*=rx_query] text').textContent === '3: on'",
        timeout=5000,
    )
    heights = chart_page.eval_on_selector_all(
        "#explorer g[class*=rx_bars] path", "els => els.map(e => e.getAttribute('d'))"
    )
    assert len(heights) == 6


def test_dark_mode_rerenders_every_chart(chart_page: Any) -> None:
    chart_page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
    chart_page.wait_for_function(
        "[...document.querySelectorAll('.atlas-chart')].every("
        "e => e.dataset.theme === 'dark' && e.dataset.rendered === 'true')",
        timeout=30_000,
    )
    fill = chart_page.eval_on_selector(
        "#hostile g.role-title-text text", "e => e.getAttribute('fill')"
    )
    assert fill == "#e2e4e9"
    chart_page.evaluate("document.body.setAttribute('data-md-color-scheme', 'default')")
    chart_page.wait_for_function(
        "[...document.querySelectorAll('.atlas-chart')].every(e => e.dataset.theme === 'light')",
        timeout=30_000,
    )
    assert chart_page.errors == []


def test_only_the_embed_function_and_our_names_leak_into_window(chart_page: Any) -> None:
    leaked = chart_page.evaluate(
        "() => { const f = document.createElement('iframe'); document.body.appendChild(f);"
        " const base = new Set(Object.getOwnPropertyNames(f.contentWindow)); f.remove();"
        " return Object.getOwnPropertyNames(window).filter(k => !base.has(k)); }"
    )
    ours = {"vegaEmbed", "ATLAS_THEMES", "atlasRenderAll", "atlasHeadData"}
    assert set(leaked) - ours <= {"errors", "dialogs"} | {k for k in leaked if k.startswith("__pw")}
    assert "vega" not in leaked and "vegaLite" not in leaked
