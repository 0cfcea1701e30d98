"""The site on every screen and from anywhere: charts fit again when their column changes,
the site works opened from disk (links, search, charts), search finds shapes in any
spelling, screen readers hear the weights, and a build with ``--site-url`` names that
address. (That every chart of every page fits its column at 390 and 1280 px is checked
by the tour of ``test_site.py``, which has every page open at both widths already.)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser._browser import (
    DRAW_TIMEOUT_MS,
    FITTED,
    MEASURE,
    Watch,
    chart_states,
    local_origins,
    measure_every_chart,
    wait_for_charts,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@contextlib.contextmanager
def opened(browser: Any, width: int) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        yield page, Watch.attach(page)
    finally:
        context.close()


def test_a_chart_fits_again_when_its_column_changes(
    chromium: Any, served: str, pages: list[str]
) -> None:
    """A desktop page turned to a phone's width: the charts are drawn again to fit."""
    path = next(p for p in pages if "linformer" in p)
    with opened(chromium, 1280) as (page, _):
        page.goto(served + path)
        measure_every_chart(page)
        page.set_viewport_size({"width": 390, "height": 900})
        page.wait_for_function(FITTED, timeout=DRAW_TIMEOUT_MS)
        boxes = page.evaluate(MEASURE)
    assert boxes and all(b["column"] < 400 for b in boxes)
    assert [b for b in boxes if b["drawn"] > b["column"] + 1] == []


# --------------------------------------------------------------------------- from disk


#: Open Material's search (a click: from disk, the index is sent when search opens).
OPEN_SEARCH = "() => { const t = document.getElementById('__search'); if (!t.checked) t.click(); }"


def _search(page: Any, query: str) -> list[str]:
    """Type ``query`` into Material's search; the result links, best first."""
    page.evaluate(
        "() => { const t = document.getElementById('__search'); if (!t.checked) t.click(); }"
    )
    box = page.locator("input.md-search__input")
    box.click()
    box.fill("")
    # An emptied box shows the prompt again, so what follows answers this query alone.
    page.wait_for_function(
        """() => /Type to start/.test(
          (document.querySelector('.md-search-result__meta') || {}).textContent || '')""",
        timeout=DRAW_TIMEOUT_MS,
    )
    box.press_sequentially(query, delay=10)
    page.wait_for_function(
        """() => { const meta = document.querySelector('.md-search-result__meta');
          return meta && !/Type to start|Initializing/.test(meta.textContent); }""",
        timeout=DRAW_TIMEOUT_MS,
    )
    page.wait_for_timeout(200)
    links = page.locator(".md-search-result__item > a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    return [str(link) for link in links]


def test_from_disk_the_links_the_next_page_the_charts_and_the_search_work(
    chromium: Any, site: Path
) -> None:
    """Open index.html with file://, follow the navigation and "Next", search."""
    home = (site / "index.html").as_uri()
    with opened(chromium, 1280) as (page, watch):
        page.goto(home)
        link = page.locator("a[href$='self-attention.html']:visible").first
        link.click()
        page.wait_for_url(re.compile(r"/tutorial/self-attention\.html$"))
        wait_for_charts(page)
        drawn = [s for s in chart_states(page) if s["rendered"] == "true"]
        assert drawn, "no chart drawn on the page opened from disk"
        page.locator("a.md-footer__link--next").first.click()
        page.wait_for_url(re.compile(r"\.html$"))
        assert page.url.startswith(site.as_uri()) and not page.url.endswith("/")
        wait_for_charts(page)
        assert chart_states(page), f"{page.url}: no chart"
        results = _search(page, "4x2")
        assert results and "sequence-attention.html" in results[0], results
        problems = watch.problems(site.as_uri())
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def home(chromium: Any, served: str) -> Iterator[tuple[Any, Watch]]:
    """The home page, open for the searches (its search index is built once)."""
    with opened(chromium, 1280) as (page, watch):
        page.goto(served + "index.html")
        yield page, watch


@pytest.mark.parametrize("query", ["4x2", "4 x 2", "4×2", "4 × 2"])
def test_search_finds_a_shape_however_it_is_written(
    home: tuple[Any, Watch], served: str, query: str
) -> None:
    page, watch = home
    results = _search(page, query)
    assert results and "sequence-attention.html" in results[0], (query, results)
    assert not watch.problems(*local_origins(served))


def test_a_site_built_with_site_url_names_it_in_canonical_links_and_the_sitemap(
    deployed_site: Path,
) -> None:
    from tests.browser.conftest import DEPLOYED_URL

    page = (deployed_site / "tutorial" / "self-attention.html").read_text(encoding="utf-8")
    canonical = f'<link rel="canonical" href="{DEPLOYED_URL}tutorial/self-attention.html">'
    assert canonical in page
    sitemap = (deployed_site / "sitemap.xml").read_text(encoding="utf-8")
    locations = re.findall(r"<loc>([^<]*)</loc>", sitemap)
    assert locations and all(loc.startswith(DEPLOYED_URL) for loc in locations)
    assert "127.0.0.1" not in page + sitemap


#: What a screen reader is given for each drawn cell or bar of every SVG chart.
ARIA_LABELS = """() => [...document.querySelectorAll('.atlas-chart svg [aria-label]')]
  .map((el) => el.getAttribute('aria-label'))"""


def test_screen_readers_hear_query_key_and_weight_not_field_names(
    chromium: Any, served: str
) -> None:
    with opened(chromium, 1280) as (page, _):
        page.goto(served + "tutorial/annotation-matrix.html")
        wait_for_charts(page)
        labels = page.evaluate(ARIA_LABELS)
    assert any(re.search(r"weight 0\.8808", label) for label in labels), labels[:20]
    cells = [label for label in labels if "weight" in label and "Query" in label]
    assert cells, labels[:20]
    internal = [label for label in labels if re.search(r"\b[rcv]: -?\d", label)]
    assert not internal, internal[:10]


#: Every line of every chart's title and subtitle, as drawn.
TITLE_LINES = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')].flatMap((el) => {
  const lines = [];
  (function walk(node) {
    if (!node) return;
    if (/^title/.test(node.role || '')) {
      (node.items || []).forEach((it) => lines.push([].concat(it.text).join(' ')));
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(el.__atlasEmbed.view.scenegraph().root);
  return lines;
})"""


def test_a_grid_stacked_on_a_phone_says_the_head_opens_below(
    chromium: Any, served: str, pages: list[str]
) -> None:
    path = next(p for p in pages if "multi-head" in p)
    with opened(chromium, 390) as (page, _):
        page.goto(served + path)
        wait_for_charts(page)
        titles = page.evaluate(TITLE_LINES)
    grid = [t for t in titles if "open one head" in t]
    assert grid and all("below the grid" in t for t in grid), grid
