"""The built site in headless Chromium: every page, every chart, light and dark, phone and
desktop, from disk and over http, through the site's own navigation, fully offline.

One tour (a module fixture) opens every page, discovered from the built site, from disk
(``file://``, as a reader who downloads the site does) and sorts what it finds by
concern; each ``test_*`` reports every problem of its concern at once (page, chart,
what was expected) rather than stopping at the first. Every page is also reached over
http, with instant navigation, by following the "Next" links (a walk that checks each
page's charts and requests). The tour writes four screenshots a page to
``test-artifacts/screenshots/``: the whole page on a desktop in light, and the first
screen on the desktop in dark and in a 390 x 844 phone viewport, light and dark (a
whole-page screenshot costs five times a screen's). A chart counts as drawn when the
renderer set ``data-rendered="true"`` *and* Vega drew the marks its spec asks for. At
both widths the tour also opens every tab of every tabbed block in turn (a chart in a
hidden tab is fitted when its tab opens) and measures each chart's drawing against its
column; the counts are printed (``-s`` shows them).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.browser._browser import (
    DESKTOP,
    DRAW_TIMEOUT_MS,
    FITTED,
    OVERFLOW,
    PHONE,
    SCREEN_WIDTHS,
    Watch,
    cell_centre,
    cell_codes,
    chart_problems,
    chart_states,
    hover_tooltip,
    local_origins,
    measure_every_chart,
    page_slug,
    route_origin,
    screenshot,
    spec_title,
    toggle_scheme,
    wait_for_charts,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Tag every current Vega view, then count the charts still showing a tagged one.
TAG_VIEWS = """() => document.querySelectorAll('.atlas-chart[data-spec]').forEach((el) => {
  const view = el.__atlasView || (el.__atlasEmbed && el.__atlasEmbed.view);
  if (view) view.__atlasBefore = true;
})"""
STALE_VIEWS = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')].filter((el) => {
  const view = el.__atlasView || (el.__atlasEmbed && el.__atlasEmbed.view);
  return view && view.__atlasBefore;
}).length"""

SCHEME = "() => document.body.getAttribute('data-md-color-scheme')"

#: Count the touchend events that reach chart ``index`` (proof that a gesture touched it).
COUNT_TOUCHENDS = """(index) => {
  window.__atlasTouchends = 0;
  document.querySelectorAll('.atlas-chart[data-spec]')[index]
    .addEventListener('touchend', () => { window.__atlasTouchends += 1; });
}"""


@contextlib.contextmanager
def open_page(
    browser: Any, *, route: tuple[str, str] | None = None, **options: Any
) -> Iterator[tuple[Any, Watch]]:
    """A page in a fresh context, watched from the start; no colour scheme is remembered
    between page loads (Material keeps the toggle's choice in localStorage).

    ``route=(origin, base_url)`` answers requests to ``origin`` from ``base_url``.
    """
    context = browser.new_context(**options)
    try:
        context.add_init_script("try { localStorage.clear(); } catch (e) {}")
        if route is not None:
            route_origin(context, *route)
        page = context.new_page()
        yield page, Watch.attach(page)
    finally:
        context.close()


def settle(page: Any, theme: str | None, where: str) -> list[str]:
    """Wait for every chart to be drawn (in ``theme``); a problem line if they never are."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        wait_for_charts(page, theme)
    except PlaywrightTimeout:
        states = [(s["rendered"], s["theme"]) for s in chart_states(page)]
        return [f"{where}: charts never settled in {theme or 'any'} theme: {states}"]
    return []


def check_page(page: Any, theme: str | None, where: str) -> tuple[list[str], int]:
    """Problems of every chart on the page, and how many charts it has."""
    problems = settle(page, theme, where)
    states = chart_states(page)
    for state in states:
        problems += chart_problems(state, theme=theme, where=f"{where}: ")
    return problems, len(states)


def start_toggle(page: Any) -> None:
    """Tag the current views, then click the light/dark toggle (the redraw runs on)."""
    page.evaluate(TAG_VIEWS)
    toggle_scheme(page)


def check_toggled(page: Any, theme: str, where: str) -> list[str]:
    """After :func:`start_toggle`: every chart drawn again, in ``theme``."""
    scheme = "slate" if theme == "dark" else "default"
    page.wait_for_function(f"() => ({SCHEME})() === {json.dumps(scheme)}", timeout=DRAW_TIMEOUT_MS)
    problems, _ = check_page(page, theme, where)
    stale = page.evaluate(STALE_VIEWS)
    if stale:
        problems.append(f"{where}: {stale} chart(s) kept the view drawn before the toggle")
    return problems


def overflow(page: Any, where: str) -> list[str]:
    size = page.evaluate(OVERFLOW)
    if size["scroll"] > size["viewport"] + 1:
        return [
            f"{where}: scrolls sideways, {size['scroll']} px wide in a "
            f"{size['viewport']} px viewport"
        ]
    return []


@dataclass
class Tour:
    """What visiting every page found, by concern (each a list of problem lines)."""

    pages: list[str]
    charts: dict[str, int] = field(default_factory=dict)
    #: The address each page was opened at.
    opened: dict[str, str] = field(default_factory=dict)
    #: Charts measured against their column, by viewport width.
    fitted: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    screenshots: list[Path] = field(default_factory=list)


def take_tour(browser: Any, site: Path, pages: list[str]) -> Tour:
    """Open every page from disk: light on a desktop, then in a phone's 390 x 844
    viewport, toggled dark there, then dark on the desktop. (Over http every page is
    drawn by the walk of :func:`_walk_next_links`.)
    """
    tour = Tour(pages)
    folder = site.as_uri() + "/"
    with open_page(browser, viewport=DESKTOP, color_scheme="light") as (page, watch):
        for path in pages:
            try:
                _tour_page(tour, path, site, page)
            except Exception as exc:  # one broken page must not hide the others
                first = str(exc).splitlines()[0] if str(exc) else ""
                tour.found["errors"].append(
                    f"/{path}: the visit broke off: {type(exc).__name__}: {first}"
                )
            for line in watch.problems(folder):
                kind = "offline" if line.startswith("request left") else "errors"
                tour.found[kind].append(f"/{path}: {line}")
            watch.clear()
    return tour


def _as_phone(tour: Tour, page: Any, path: str, theme: str) -> None:
    """Look at the drawn page in a phone's viewport: no sideways scroll, a screenshot
    (and in the light scheme, every chart measured against its column)."""
    page.set_viewport_size(PHONE)
    tour.found["phone overflow"] += overflow(page, f"/{path} phone {theme}")
    shot = screenshot(page, f"{page_slug(path)}--phone-{theme}", full_page=False)
    tour.screenshots.append(shot)
    if theme == "light":
        _fit(tour, page, path)


def _fit(tour: Tour, page: Any, path: str) -> None:
    """Every chart of the page, each tab opened in turn, against its column's width."""
    width = page.viewport_size["width"]
    where = f"/{path} at {width} px"
    boxes = measure_every_chart(page)
    states = chart_states(page)
    for state in states:
        tour.found["fit"] += chart_problems(state, where=f"{where}: ")
    if len(boxes) != len(states):
        tour.found["fit"].append(f"{where}: {len(states) - len(boxes)} chart(s) never showed")
    for name, box in boxes.items():
        tour.fitted[width] += 1
        if box["drawn"] > box["column"] + 1 or box["scroll"] > box["column"] + 1:
            tour.found["fit"].append(
                f"{where}: {name} is {box['drawn']:.0f} px in a {box['column']} px column "
                f"(fit {box['fit']})"
            )


def _tour_page(tour: Tour, path: str, site: Path, page: Any) -> None:
    """One page of :func:`take_tour`."""
    slug, found = page_slug(path), tour.found
    page.set_viewport_size(DESKTOP)  # a visit that broke off may have left a phone's
    tour.opened[path] = (site / path).as_uri()
    page.goto(tour.opened[path], wait_until="commit")

    problems, tour.charts[path] = check_page(page, "light", f"/{path} light")
    found["light"] += problems
    tour.screenshots.append(screenshot(page, f"{slug}--desktop-light"))
    _fit(tour, page, path)
    # Light on a phone, toggled dark there, then dark on the desktop: two resizes a page
    # (each one redraws every chart for its new column), not four.
    _as_phone(tour, page, path, "light")
    start_toggle(page)
    found["dark"] += check_toggled(page, "dark", f"/{path} toggled dark on a phone")
    _as_phone(tour, page, path, "dark")
    page.set_viewport_size(DESKTOP)
    page.wait_for_function(FITTED, timeout=DRAW_TIMEOUT_MS)
    tour.screenshots.append(screenshot(page, f"{slug}--desktop-dark", full_page=False))


@pytest.fixture(scope="module")
def tour(chromium: Any, site: Path, pages: list[str]) -> Tour:
    return take_tour(chromium, site, pages)


def _report(tour: Tour, *kinds: str) -> str:
    """The problem lines of ``kinds``, one a line."""
    return "\n".join(line for kind in kinds for line in tour.found.get(kind, []))


def test_every_page_draws_every_chart_with_its_marks(tour: Tour) -> None:
    assert sum(tour.charts.values()) > 0, f"no page has a chart: {tour.charts}"
    assert not tour.found.get("light"), _report(tour, "light")


def test_no_page_logs_an_error_or_fails_a_request(tour: Tour) -> None:
    assert not tour.found.get("errors"), _report(tour, "errors")


def test_no_request_leaves_the_sites_folder(tour: Tour) -> None:
    """Opened from disk, no page asks for anything outside the site's folder (over http,
    the walk of the "Next" links checks that no request leaves the site's origin)."""
    assert not tour.found.get("offline"), _report(tour, "offline")


def test_the_light_dark_toggle_redraws_every_chart_in_the_new_scheme(tour: Tour) -> None:
    assert not tour.found.get("dark"), _report(tour, "dark")


def test_no_page_scrolls_sideways_on_a_phone(tour: Tour) -> None:
    assert not tour.found.get("phone overflow"), _report(tour, "phone overflow")


def test_every_page_draws_its_charts_opened_from_disk(tour: Tour, site: Path) -> None:
    assert sorted(tour.opened) == sorted(tour.pages), tour.opened
    assert all(url.startswith(site.as_uri() + "/") for url in tour.opened.values())
    assert sum(tour.charts.values()) > 0 and not tour.found.get("light")


def test_every_chart_of_every_page_fits_its_column_on_a_phone_and_a_desktop(
    tour: Tour, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\ncharts measured against their column, by width: {dict(tour.fitted)}")
    assert sorted(tour.fitted) == sorted(SCREEN_WIDTHS), tour.fitted
    assert all(count > len(tour.pages) for count in tour.fitted.values()), tour.fitted
    assert not tour.found.get("fit"), _report(tour, "fit")


def test_every_page_has_four_screenshots(tour: Tour) -> None:
    assert len(tour.screenshots) == 4 * len(tour.pages)
    for path in tour.screenshots:
        assert path.stat().st_size > 1000, path


def test_a_phone_set_to_dark_draws_the_busiest_page_dark_without_sideways_scroll(
    chromium: Any, served: str, site: Path, pages: list[str]
) -> None:
    """Real phone emulation (mobile viewport, touch, dark system setting) on the page with
    the most charts: the first paint already follows the system's dark scheme."""
    busiest = max(pages, key=lambda p: len(_charts_of(site, p)))
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True, "color_scheme": "dark"}
    with open_page(chromium, **phone) as (page, watch):
        page.goto(served + busiest)
        problems, count = check_page(page, "dark", f"/{busiest} phone")
        problems += overflow(page, f"/{busiest} phone")
        problems += watch.problems(*local_origins(served))
        screenshot(page, f"{page_slug(busiest)}--phone-emulated-dark")
    assert count > 0
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- hover


def _charts_of(site: Path, path: str) -> list[dict[str, Any]]:
    """The chart specs of a built page, in page order (read from its HTML)."""
    text = (site / path).read_text(encoding="utf-8")
    return [json.loads(html.unescape(s)) for s in re.findall(r"data-spec='([^']*)'", text)]


def _matrix(spec: dict[str, Any]) -> tuple[str, Any, list[str], list[str]] | None:
    """``(prefix, codes, row labels, column labels)`` of a single heatmap, else None."""
    params = {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}
    for name in sorted(params):
        prefix = name[:-2]
        if name.endswith("_v") and {f"{prefix}_rl", f"{prefix}_cl"} <= params.keys():
            return prefix, params[name], params[f"{prefix}_rl"], params[f"{prefix}_cl"]
    return None


def _colour_domain(spec: Any) -> list[float] | None:
    """The first colour-scale domain in a spec (the heatmap's cells)."""
    if isinstance(spec, dict):
        color = spec.get("encoding", {}).get("color", {})
        domain = color.get("scale", {}).get("domain") if isinstance(color, dict) else None
        if isinstance(domain, list) and len(domain) == 2:
            return [float(domain[0]), float(domain[1])]
        children = spec.values()
    elif isinstance(spec, list):
        children = spec
    else:
        return None
    for child in children:
        found = _colour_domain(child)
        if found is not None:
            return found
    return None


def test_hovering_a_weight_shows_query_key_and_the_published_value(
    chromium: Any, served: str, site: Path
) -> None:
    """The annotation-matrix weights: softmax([927, 397, 148, 929]) puts 0.8808 on annotation 4."""
    path = "tutorial/annotation-matrix.html"
    target = None
    for index, spec in enumerate(_charts_of(site, path)):
        matrix = _matrix(spec)
        if matrix is None or "annotation 4" not in matrix[3]:
            continue
        _, codes, rows, cols = matrix
        cells = cell_codes(codes, len(rows) * len(cols))
        c = cols.index("annotation 4")
        for r in range(len(rows)):
            if cells[r * len(cols) + c] == "8808":  # exact mode, 4 decimals
                target = (index, r, c, rows, cols)
    assert target is not None, f"no chart on /{path} gives annotation 4 the weight 0.8808"
    index, r, c, rows, cols = target
    with open_page(chromium, viewport=DESKTOP) as (page, watch):
        page.goto(served + path)
        wait_for_charts(page)
        tip = hover_tooltip(page, index, r, c)
        assert list(tip.values()) == [f"{r}: {rows[r]}", f"{c}: annotation 4", "0.8808"], tip
        first = 0 if c != 0 else 1
        tip = hover_tooltip(page, index, r, first)
        assert list(tip.values())[1] == f"{first}: {cols[first]}", tip
        assert watch.problems(*local_origins(served)) == []


def test_on_a_phone_a_tap_opens_a_block_and_a_scroll_starting_on_the_map_does_not(
    chromium: Any, served: str, site: Path
) -> None:
    """The block explorer picks on touchend; a touch that travels (a scroll) must not pick."""
    path = "tutorial/long-sequences.html"
    specs = _charts_of(site, path)
    index = next(
        i for i, spec in enumerate(specs) if any(p["name"] == "bx_pick" for p in spec["params"])
    )
    picked = (
        "() => document.querySelectorAll('.atlas-chart[data-spec]')"
        f"[{index}].__atlasEmbed.view.signal('bx_pick').blk[0]"
    )
    phone = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
    with open_page(chromium, **phone) as (page, watch):
        page.goto(served + path)
        wait_for_charts(page)
        assert page.evaluate(picked) != 0  # the page opens on another block
        page.touchscreen.tap(*cell_centre(page, index, 0, 0, mark="bx_cells"))
        page.wait_for_function(f"() => ({picked})() === 0", timeout=DRAW_TIMEOUT_MS)

        # A touch scroll that starts on cell (10, 60) and ends 200 px lower.
        x, y = cell_centre(page, index, 10, 60, mark="bx_cells")
        page.evaluate(COUNT_TOUCHENDS, index)
        cdp = page.context.new_cdp_session(page)
        cdp.send(
            "Input.synthesizeScrollGesture",
            {"x": int(x), "y": int(y), "yDistance": 200, "gestureSourceType": "touch"},
        )
        page.wait_for_function("() => window.__atlasTouchends > 0", timeout=DRAW_TIMEOUT_MS)
        page.wait_for_timeout(300)  # the selection updates asynchronously
        assert page.evaluate(picked) == 0, "a scroll that started on the map picked a block"
        assert watch.problems(*local_origins(served)) == []


def test_hovering_a_canvas_heatmap_shows_the_cell_under_the_pointer(
    chromium: Any, served: str, site: Path, pages: list[str]
) -> None:
    found = None
    for path in pages:
        for index, spec in enumerate(_charts_of(site, path)):
            usermeta = spec.get("usermeta", {}).get("atlas", {})
            matrix = _matrix(spec)
            big = int(usermeta.get("cells", 0)) > 2500 or usermeta.get("renderer") == "canvas"
            if matrix is not None and "layer" in spec and big:
                found = (path, index, spec, matrix)
                break
        if found:
            break
    if found is None:
        pytest.skip("the site has no canvas heatmap")
    path, index, spec, (_, codes, rows, cols) = found
    r, c = len(rows) // 3, (2 * len(cols)) // 3
    with open_page(chromium, viewport=DESKTOP) as (page, watch):
        page.goto(served + path)
        wait_for_charts(page)
        assert (
            page.evaluate(
                "(i) => document.querySelectorAll('.atlas-chart[data-spec]')[i]"
                ".getAttribute('data-renderer')",
                index,
            )
            == "canvas"
        )
        rows_shown = hover_tooltip(page, index, r, c)
        tip, tip_titles = list(rows_shown.values()), list(rows_shown)
        assert tip[:2] == [f"{r}: {rows[r]}", f"{c}: {cols[c]}"], (spec_title(spec), tip)
        shown = tip[2]
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        code = cell_codes(codes, len(rows) * len(cols))[r * len(cols) + c]
        assert code is not None
        if "(quantised" in " ".join(tip_titles):
            domain = _colour_domain(spec)
            assert domain is not None
            expected = domain[0] + int(code, 16) * (domain[1] - domain[0]) / 255
        else:
            expected = int(code) / 10**decimals
        assert abs(float(shown) - expected) <= 0.5 * 10**-decimals + 1e-12, (tip, expected)
        assert watch.problems(*local_origins(served)) == []


# --------------------------------------------------------------------------- navigation

MARK_DOCUMENT = "() => { window.__atlasSameDocument = true; }"
SAME_DOCUMENT = "() => window.__atlasSameDocument === true"

#: Tag the page's article; a new page (loaded or swapped in) has an untagged one.
MARK_ARTICLE = "() => { document.querySelector('article').__atlasOld = true; }"
NEW_ARTICLE = """() => {
  const article = document.querySelector('article');
  return !!article && !article.__atlasOld;
}"""


def _walk_next_links(
    page: Any, start: str, *, instant: bool, steps: int = 100
) -> tuple[list[str], list[str]]:
    """Follow the footer's "Next" link from ``start`` to the last page (or ``steps`` links).

    Returns the pages visited and the problems met (charts, and with ``instant``,
    any "Next" that reloaded the document instead of swapping its content).
    """
    page.goto(start)
    problems, _ = check_page(page, "light", page.url)
    page.evaluate(MARK_DOCUMENT)
    visited = [page.url]
    for _ in range(steps):
        link = page.locator("a.md-footer__link--next")
        if link.count() == 0:
            break
        target = urljoin(page.url, link.first.get_attribute("href") or "")
        page.evaluate(MARK_ARTICLE)
        link.first.click()
        page.wait_for_url(target)
        page.wait_for_function(NEW_ARTICLE)  # instant navigation swaps after pushState
        found, count = check_page(page, "light", target)
        problems += found
        if instant and not page.evaluate(SAME_DOCUMENT):
            problems.append(f"{target}: reached by a full page load, not instant navigation")
        visited.append(f"{target} ({count} charts)")
    return visited, problems


def test_next_links_swap_pages_with_instant_navigation_and_draw_their_charts(
    chromium: Any, deployed_served: str, site_origin: str, pages: list[str]
) -> None:
    """Pages of the site built with ``--site-url``, opened at that address, so Material's
    instant navigation is on. The walk reaches every page of the site: over http, this
    is where each page's charts, errors and requests are checked."""
    route = (site_origin, deployed_served)
    with open_page(chromium, viewport=DESKTOP, route=route) as (page, watch):
        visited, problems = _walk_next_links(page, f"{site_origin}/", instant=True)
        problems += watch.problems(f"{site_origin}/")
    reached = {v.split(" (")[0].removeprefix(f"{site_origin}/") or "index.html" for v in visited}
    assert reached == set(pages), visited
    assert any(not v.endswith("(0 charts)") for v in visited[1:]), visited
    assert not problems, "\n".join([*problems, "visited:", *visited])


def test_next_links_on_another_origin_load_pages_that_draw_their_charts(
    chromium: Any, served: str
) -> None:
    """On any other origin instant navigation is off: each "Next" is a normal page load
    (two steps suffice; every page's charts are checked by the tour)."""
    with open_page(chromium, viewport=DESKTOP) as (page, watch):
        visited, problems = _walk_next_links(page, served, instant=False, steps=2)
        problems += watch.problems(*local_origins(served))
    assert len(visited) > 2, visited
    assert not problems, "\n".join([*problems, "visited:", *visited])
