"""Debian's Chromium driven by Playwright: finding it, serving a folder, watching a page.

Shared by the real-browser tests (``tests/browser/``, ``tests/test_hostile_text.py``)
and ``benchmarks/browser.py``. Playwright never downloads a browser here: it launches
Debian's headless shell (``apt-get install chromium-headless-shell``), or the
``chromium`` package's browser. Without either the tests skip
with a reason, except when the ``CI`` environment variable is set, where a missing
browser fails them (CI installs it).

Playwright's sync API cannot run two instances at once in one thread, so a browser
is opened per test package or module (never per session): other test modules open
their own.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

from attention_atlas.charts.html import spec_title

ROOT = Path(__file__).resolve().parents[2]

#: Screenshots land here (``test-artifacts/`` is ignored by git).
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

#: Debian's Chromium binaries, lightest first: the headless shell (package
#: ``chromium-headless-shell``, Playwright's own choice for headless runs: the same
#: Blink without the desktop browser around it, about a tenth less CPU a page), then the
#: full browser. ``chromium`` on PATH is the launcher script.
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")

#: No sandbox (containers), no GPU, and every host but 127.0.0.1 unresolvable, so a
#: request that tries to leave the machine fails loudly instead of going out.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

#: The widths every chart must fit: a phone's and a desktop's.
SCREEN_WIDTHS = (PHONE["width"], DESKTOP["width"])

#: Longest wait for every chart of a page to be drawn (a loaded 2-core machine is slow).
DRAW_TIMEOUT_MS = 120_000


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set to something other than false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_path() -> str | None:
    """Debian's Chromium binary, or ``None`` when it is not installed."""
    candidates = [*CHROMIUM_PATHS, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def no_browser(reason: str) -> NoReturn:
    """Skip with ``reason``; fail instead under CI, where the browser must be there."""
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so the real-browser tests must run", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def launch_chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``), closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        no_browser("python playwright is not installed: pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        no_browser("Chromium is not installed: apt-get install chromium-headless-shell")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over http on 127.0.0.1 at a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def route_origin(context: Any, origin: str, base_url: str) -> None:
    """Answer every request of ``context`` to ``origin`` from the server at ``base_url``.

    The page's address stays on ``origin`` (the site's ``site_url``) while the bytes
    come from our server, so nothing listening on that port is ever contacted.
    """
    target = base_url.rstrip("/")

    def handle(route: Any) -> None:
        url = route.request.url
        response = route.fetch(url=target + url[len(origin) :])
        route.fulfill(response=response)

    context.route(f"{origin}/**", handle)


def site_pages(site: Path) -> list[str]:
    """Every page of a built MkDocs site, as file paths relative to its root.

    The site's links name files (``use_directory_urls: false``), so a page's path is
    also its URL relative to the root: ``index.html`` is the home page.
    """
    pages = []
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site).as_posix()
        if rel != "404.html" and not rel.startswith(("assets/", "search/")):
            pages.append(rel)
    return sorted(pages, key=lambda rel: (rel != "index.html", rel))


def page_slug(path: str) -> str:
    """A file-name-safe name for a page path (``index.html`` is the home page)."""
    name = path.removesuffix(".html").removesuffix("index").strip("/")
    return name.replace("/", "-") or "home"


@dataclass
class Watch:
    """Everything a page reports while a test drives it."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Any) -> Watch:
        watch = cls()
        page.on("request", lambda r: watch.requests.append(r.url))
        page.on("console", watch._console)
        page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
        page.on("requestfailed", watch._request_failed)
        page.on("response", watch._response)
        page.on("dialog", watch._dialog)
        return watch

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)
        elif message.type == "warning":
            self.console_warnings.append(message.text)

    def _request_failed(self, request: Any) -> None:
        # Leaving a page cancels its pending requests: that is not a failure of the site.
        if "ERR_ABORTED" not in str(request.failure):
            self.failed.append(f"{request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def outside(self, *allowed: str) -> list[str]:
        """Requested URLs that start with none of the ``allowed`` prefixes."""
        own = ("data:", "blob:", "about:", *allowed)
        return [url for url in self.requests if not url.startswith(own)]

    def problems(self, *allowed: str) -> list[str]:
        """One line per error, failed request, dialog or request that left ``allowed``."""
        lines = [f"console error: {text.splitlines()[0][:300]}" for text in self.console_errors]
        lines += [f"page error: {text.splitlines()[0][:300]}" for text in self.page_errors]
        lines += [f"failed request: {text}" for text in self.failed]
        lines += [f"dialog opened: {text!r}" for text in self.dialogs]
        lines += [f"request left the site: {url}" for url in self.outside(*allowed)]
        return lines

    def clear(self) -> None:
        for values in (
            self.requests,
            self.console_errors,
            self.console_warnings,
            self.page_errors,
            self.failed,
            self.dialogs,
        ):
            values.clear()


def local_origins(base_url: str) -> tuple[str, ...]:
    """Prefixes a page served from ``base_url`` may request (its own origin only)."""
    parts = urlsplit(base_url)
    return (f"{parts.scheme}://{parts.netloc}/",)


# --------------------------------------------------------------------------- charts

#: True once every chart has settled: drawn ("true") or failed ("error").
ALL_SETTLED = """(theme) => [...document.querySelectorAll('.atlas-chart[data-spec]')].every(
  (el) => ['true', 'error'].includes(el.getAttribute('data-rendered'))
    && (!theme || el.getAttribute('data-rendered') === 'error'
        || el.getAttribute('data-theme') === theme))"""

#: What each chart of the page looks like: its state, spec and the marks Vega drew.
#: The Vega view is ``el.__atlasView`` or, in newer renderers, ``el.__atlasEmbed.view``.
CHART_STATES = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')].map((el, i) => {
  const view = el.__atlasView || (el.__atlasEmbed && el.__atlasEmbed.view) || null;
  const error = el.querySelector('.atlas-chart-error');
  const out = {
    index: i,
    renderer: el.getAttribute('data-renderer'),
    rendered: el.getAttribute('data-rendered'),
    theme: el.getAttribute('data-theme'),
    spec: el.getAttribute('data-spec'),
    error: error ? error.textContent : '',
    hasView: !!view,
    marks: [],
    titles: [],
    axisLabels: [],
    titleFill: null,
    themeTitleFill: null,
    svgRects: null,
    canvasColours: null,
  };
  if (!view) return out;
  (function walk(node) {
    if (!node) return;
    if (node.marktype) {
      const items = node.items || [];
      if (node.role === 'mark') out.marks.push([node.marktype, node.name || '', items.length]);
      if (node.role === 'title-text' && items.length) {
        out.titleFill = items[0].fill;
        // A title wrapped to fit a narrow column is an array of lines: read it as one text.
        items.forEach((it) => out.titles.push([].concat(it.text).join(' ')));
      }
      if (node.role === 'axis-label') items.forEach((it) => out.axisLabels.push(String(it.text)));
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(view.scenegraph().root);
  const svg = el.querySelector('svg.marks');
  if (svg) out.svgRects = svg.querySelectorAll('g.mark-rect.role-mark path').length;
  const canvas = el.querySelector('canvas');
  if (canvas && canvas.width && canvas.height) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length && seen.size < 64; i += 4 * 7) {
      seen.add((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]);
    }
    out.canvasColours = seen.size;
  }
  const themes = window.ATLAS_THEMES || {};
  const theme = themes[out.theme];
  out.themeTitleFill = theme && theme.title ? theme.title.color : null;
  return out;
})"""

#: Viewport coordinates of the centre of cell (r, c) of chart ``index``, after scrolling
#: it into view; the cell belongs to the rect mark whose name matches ``mark`` (a regular
#: expression, default ``_cells``), or, given ``shape`` (N, M), it is that cell of the
#: first image of such a mark (a map drawn as one image). In SVG the item's own element
#: is measured (Material scales wide SVGs down to the column); on a canvas, items sit at
#: view origin + padding + their group offsets, times the canvas's CSS scale.
CELL_CENTRE = """([index, r, c, mark, shape]) => {
  const named = new RegExp(mark || '_cells');
  const el = document.querySelectorAll('.atlas-chart[data-spec]')[index];
  el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
  const view = el.__atlasView || (el.__atlasEmbed && el.__atlasEmbed.view);
  let hit = null;
  let fx = 0.5;
  let fy = 0.5;
  (function walk(node) {
    if (!node || hit) return;
    if (node.role === 'mark' && named.test(node.name || '')) {
      if (shape && node.marktype === 'image' && (node.items || []).length) {
        hit = node.items[0];
        fx = (c + 0.5) / shape[1];
        fy = (r + 0.5) / shape[0];
        return;
      }
      for (const item of (!shape && node.marktype === 'rect' && node.items) || []) {
        if (item.datum && item.datum.r === r && item.datum.c === c) { hit = item; return; }
      }
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(view.scenegraph().root);
  if (!hit) return null;
  function locate() {
    if (hit._svg) {
      const box = hit._svg.getBoundingClientRect();
      return [box.left + box.width * fx, box.top + box.height * fy];
    }
    let x = hit.x + hit.width * fx;
    let y = hit.y + hit.height * fy;
    for (let g = hit.mark.group; g; g = g.mark && g.mark.group) { x += g.x || 0; y += g.y || 0; }
    const origin = view.origin();
    const pad = view.padding();
    const canvas = el.querySelector('canvas');
    const box = canvas.getBoundingClientRect();
    const scale = box.width / (canvas.width / (window.devicePixelRatio || 1));
    return [
      box.left + scale * (origin[0] + pad.left + x),
      box.top + scale * (origin[1] + pad.top + y),
    ];
  }
  let point = locate();
  if (point[1] < 0 || point[1] > window.innerHeight) {  // a chart taller than the window
    window.scrollBy({top: point[1] - window.innerHeight / 2, behavior: 'instant'});
    point = locate();
  }
  return point;
}"""

#: Rows of the visible tooltip as [title, value] pairs.
TOOLTIP_ROWS = """() => [...document.querySelectorAll('#vg-tooltip-element.visible tr')].map(
  (tr) => [tr.cells[0].textContent, tr.cells[1].textContent])"""

#: Widest content against the viewport (a phone must not scroll sideways).
OVERFLOW = """() => ({
  scroll: document.scrollingElement.scrollWidth,
  viewport: window.innerWidth,
})"""


def wait_for_charts(page: Any, theme: str | None = None, timeout: float = DRAW_TIMEOUT_MS) -> None:
    """Wait until every chart is drawn or failed (and, given ``theme``, drawn in it)."""
    page.wait_for_load_state("domcontentloaded", timeout=timeout)
    page.wait_for_function(ALL_SETTLED, arg=theme, timeout=timeout)


# --------------------------------------------------------------------------- fit

#: The visible charts' columns (their boxes) against the width Vega drew them.
MEASURE = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')]
  .filter((el) => el.offsetParent !== null)
  .map((el) => {
    const surface = el.querySelector('.vega-embed > svg, .vega-embed > canvas');
    return {
      id: el.closest('figure').id,
      column: el.clientWidth,
      drawn: surface ? surface.getBoundingClientRect().width : -1,
      scroll: el.scrollWidth,
      fit: el.getAttribute('data-fit'),
    };
  })"""

#: True once every chart is drawn for the width its column has now (or gave up
#: following a column whose width follows the chart).
FITTED = """() => [...document.querySelectorAll('.atlas-chart[data-spec]')].every((el) =>
  ['true', 'error'].includes(el.getAttribute('data-rendered'))
    && (el.offsetParent === null || !el.__atlasFit || el.__atlasFit.room === el.clientWidth
        || el.__atlasRefits >= 3))"""


TAB_COUNT = "() => document.querySelectorAll('.tabbed-set > input').length"

#: Open tab ``i`` (of all tabs, in page order), and the tabs holding its tabbed block.
OPEN_TAB = """(i) => {
  const chain = [document.querySelectorAll('.tabbed-set > input')[i]];
  let block = chain[0].closest('.tabbed-set').parentElement.closest('.tabbed-block');
  while (block) {
    const set = block.closest('.tabbed-set');
    const index = [...block.parentElement.children].indexOf(block);
    chain.unshift(set.querySelectorAll(':scope > input')[index]);
    block = set.parentElement.closest('.tabbed-block');
  }
  chain.forEach((input) => input.click());
}"""


def measure_every_chart(page: Any) -> dict[str, dict[str, Any]]:
    """Every chart of the open page, measured where it shows: each tab of each tabbed
    block is opened in turn (a chart in a hidden tab is fitted when its tab opens)."""
    wait_for_charts(page)
    page.wait_for_function(FITTED, timeout=DRAW_TIMEOUT_MS)
    boxes = {box["id"]: box for box in page.evaluate(MEASURE)}
    for i in range(page.evaluate(TAB_COUNT)):
        page.evaluate(OPEN_TAB, i)
        page.wait_for_function(FITTED, timeout=DRAW_TIMEOUT_MS)
        boxes.update({box["id"]: box for box in page.evaluate(MEASURE)})
    return boxes


def chart_states(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(CHART_STATES))


def cell_codes(codes: Any, count: int) -> list[str | None]:
    """The raw code of each cell of a compact-encoded matrix (``None`` where missing).

    ``count`` is the cells of one map (rows x columns labels); a grid of maps carries
    a multiple of it. Handles every form the encoding takes: a list of numbers
    (``None`` missing), one string of comma-joined integers (empty missing), or one
    string of two hex digits a cell (``--`` missing).
    """
    if isinstance(codes, list):
        return [None if c is None else str(c) for c in codes]
    text = str(codes)
    pairs = "," not in text and len(text) % 2 == 0 and len(text) >= 2 * count
    if pairs and (count > 1 or len(text) == 2):
        return [None if p == "--" else p for p in (text[i : i + 2] for i in range(0, len(text), 2))]
    return [c or None for c in text.split(",")]


def present_cells(codes: Any, count: int) -> int:
    """Cells with a value among the ``count`` cells of a compact-encoded matrix."""
    return sum(code is not None for code in cell_codes(codes, count))


def expected_marks(spec: dict[str, Any]) -> list[tuple[str | None, int]]:
    """What a chart must draw, read from its spec: ``(mark-name prefix, item count)``.

    A matrix param ``<p>_v`` (with labels ``<p>_rl``/``<p>_cl``) is drawn by marks named
    ``<p>_cells...``, one rect per present cell; a bar param ``<p>_v`` (labels ``<p>_l``)
    by marks ``<p>_bars...``. A chart without such params must have one mark drawing
    one item per row of its inline data (``None`` prefix: any mark will do).
    """
    params = {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}
    checks: list[tuple[str | None, int]] = []
    for name, value in sorted(params.items()):
        if not name.endswith("_v"):
            continue
        prefix = name[:-2]
        if f"{prefix}_rl" in params and f"{prefix}_cl" in params:
            count = len(params[f"{prefix}_rl"]) * len(params[f"{prefix}_cl"])
            checks.append((f"{prefix}_cells", present_cells(value, count)))
        elif f"{prefix}_l" in params:
            count = len(params[f"{prefix}_l"])
            checks.append((f"{prefix}_bars", present_cells(value, count)))
    if not checks:
        values = spec.get("data", {}).get("values")
        if isinstance(values, list):
            checks.append((None, len(values)))
    return checks


def chart_problems(
    state: dict[str, Any], *, theme: str | None = None, where: str = ""
) -> list[str]:
    """Why a drawn chart is wrong (empty list when it is right)."""
    spec = json.loads(state["spec"])
    name = f"{where}chart {state['index']} ({spec_title(spec)[:60]!r})"
    if state["rendered"] != "true" or not state["hasView"]:
        detail = state["error"] or "no Vega view"
        return [f"{name}: not drawn (data-rendered={state['rendered']}): {detail}"]
    problems = []
    totals: dict[str, int] = {}
    for _, mark_name, count in state["marks"]:
        totals[mark_name] = totals.get(mark_name, 0) + count
    if sum(totals.values()) == 0:
        problems.append(f"{name}: drew no marks at all")
    for prefix, count in expected_marks(spec):
        if prefix is None:
            if count not in totals.values():
                problems.append(f"{name}: no mark drew the {count} data rows ({totals})")
            continue
        drawn = sum(n for mark, n in totals.items() if mark.startswith(prefix + "_"))
        if drawn != count:
            problems.append(f"{name}: {drawn} {prefix} marks drawn, {count} expected")
    rects = sum(n for kind, _, n in state["marks"] if kind == "rect")
    if state["renderer"] == "svg" and state["svgRects"] != rects:
        problems.append(f"{name}: {state['svgRects']} rect paths in the SVG, {rects} in Vega")
    if state["renderer"] == "canvas" and (state["canvasColours"] or 0) < 3:
        problems.append(f"{name}: the canvas is blank ({state['canvasColours']} colours)")
    if theme is not None:
        if state["theme"] != theme:
            problems.append(f"{name}: data-theme={state['theme']!r}, expected {theme!r}")
        elif state["titleFill"] is not None and state["titleFill"] != state["themeTitleFill"]:
            problems.append(
                f"{name}: title drawn in {state['titleFill']}, the {theme} theme says "
                f"{state['themeTitleFill']}"
            )
    return problems


def cell_centre(
    page: Any,
    index: int,
    r: int,
    c: int,
    mark: str = "_cells",
    shape: tuple[int, int] | None = None,
) -> tuple[float, float]:
    """Viewport coordinates of cell (r, c) of chart ``index`` (scrolled into view).

    ``mark`` is a regular expression matching the name of the cells' rect mark, or,
    with ``shape`` (N, M), of the image mark drawing the whole (N, M) map.
    """
    point = page.evaluate(CELL_CENTRE, [index, r, c, mark, shape])
    if point is None:
        msg = f"chart {index} has no cell ({r}, {c})"
        raise AssertionError(msg)
    return float(point[0]), float(point[1])


def hover_tooltip(
    page: Any,
    index: int,
    r: int,
    c: int,
    mark: str = "_cells",
    shape: tuple[int, int] | None = None,
) -> dict[str, str]:
    """Hover cell (r, c) of chart ``index``; the tooltip's rows as {title: value}.

    ``mark`` and ``shape`` as :func:`cell_centre` takes them.
    """
    page.mouse.move(0, 0)
    x, y = cell_centre(page, index, r, c, mark, shape)
    page.mouse.move(x, y)
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=10_000)
    return dict(page.evaluate(TOOLTIP_ROWS))


def toggle_scheme(page: Any) -> None:
    """Click Material's light/dark toggle (whichever of its labels is showing).

    A real mouse click, after Playwright has seen the label visible and still (the
    click returns once the page has handled it, redraw included).
    """
    page.locator("label[for^='__palette_']:visible").first.click(timeout=DRAW_TIMEOUT_MS)


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """A screenshot in ``test-artifacts/screenshots/<name>.jpg``.

    JPEG at quality 80: tall full pages encode in about half the time of PNG.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.jpg"
    page.screenshot(path=str(path), full_page=full_page, type="jpeg", quality=80)
    return path
