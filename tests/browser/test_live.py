"""The live panels in headless Chromium, on the built site.

Each panel is driven as a reader drives it: a range input's value is set and its
``input`` and ``change`` events dispatched, a select's option chosen, a checkbox
switched. Then every text the panel draws (its lines, its table, the values written on
its bars) is read from the Vega scenegraph and compared with the NumPy core run on the
control values the view applied, to the digits shown. Extreme inputs must show
"overflow" or "underflow" where NumPy gives inf or NaN, and never NaN or Infinity.

One visit per page (a module fixture) collects every reading; it also takes screenshots
of each panel before and after a change, light and dark, at 1280 and 390 px wide
(``test-artifacts/screenshots/live-*.png``), turning the page to 390 px once and back
once (every such turn draws every chart of the page again).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas.attention import (
    additive_scores,
    dot_scores,
    scaled_dot_product_attention,
    softmax,
)
from attention_atlas.charts.live import EXP_LIMIT
from attention_atlas.charts.theme import DARK, HIGHLIGHT, LIGHT
from attention_atlas.scenarios import all_scenarios
from attention_atlas.scenarios.base import Result
from tests.browser._browser import (
    DESKTOP,
    DRAW_TIMEOUT_MS,
    FITTED,
    PHONE,
    SCREENSHOTS,
    Watch,
    local_origins,
    toggle_scheme,
    wait_for_charts,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUGS = ("single-annotation", "annotation-matrix", "sequence-attention", "self-attention")

#: The page's live panel (the chart whose spec says ``usermeta.atlas.live``).
PANEL = """(() => [...document.querySelectorAll('.atlas-chart[data-spec]')].find((el) => {
  const spec = JSON.parse(el.getAttribute('data-spec'));
  return !!(spec.usermeta && spec.usermeta.atlas && spec.usermeta.atlas.live);
}))"""

#: Set controls as a reader does: {name: value}; a select takes an option's index.
SET_CONTROLS = f"""async (values) => {{
  const el = {PANEL}();
  for (const [name, value] of Object.entries(values)) {{
    const input = el.querySelector(`.vega-bindings [name="${{name}}"]`);
    if (!input) throw new Error('no control named ' + name);
    if (input.tagName === 'SELECT') {{
      input.selectedIndex = value;
      input.dispatchEvent(new Event('change'));
    }} else if (input.type === 'checkbox') {{
      input.checked = !!value;
      input.dispatchEvent(new Event('change'));
    }} else {{
      input.value = String(value);
      input.dispatchEvent(new Event('input'));
      input.dispatchEvent(new Event('change'));
    }}
  }}
  const view = el.__atlasEmbed.view;
  await view.runAsync();
  await view.runAsync();
}}"""

#: Set a control's signal directly (what no input element allows), then redraw.
SET_SIGNAL = f"""async ([name, value]) => {{
  const view = {PANEL}().__atlasEmbed.view;
  await view.signal(name, value === 'NaN' ? NaN : value).runAsync();
}}"""

#: Every text the panel draws, by mark, with the control values the view applied.
READ_PANEL = rf"""async () => {{
  const el = {PANEL}();
  const view = el.__atlasEmbed.view;
  await view.runAsync();
  const live = JSON.parse(el.getAttribute('data-spec')).usermeta.atlas.live;
  const texts = {{}};
  (function walk(node) {{
    if (!node) return;
    if (node.role === 'mark' && node.marktype === 'text'
        && String(node.name || '').startsWith(live.name + '_')) {{
      // Vega-Lite names a view's marks <name>_marks, or <name>_<n>_marks in a concat.
      const mark = node.name.replace(/_marks$/, '').replace(/_\d+$/, '');
      texts[mark] = (texts[mark] || []).concat((node.items || []).map((it) => ({{
        key: [it.datum.i, it.datum.j, it.datum.r, it.datum.c],
        text: String(it.text),
        fill: it.fill,
      }})));
    }}
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  }})(view.scenegraph().root);
  const controls = {{}};
  live.controls.forEach((name) => {{ controls[name] = view.signal(name); }});
  const bounds = {{}};
  JSON.parse(el.getAttribute('data-spec')).params.forEach((p) => {{
    if (!p.bind) return;
    if (p.bind.input === 'range') bounds[p.name] = [p.value, p.bind.min, p.bind.max];
    if (p.bind.input === 'select') bounds[p.name] = [p.value, 0, p.bind.options.length - 1];
  }});
  const box = el.getBoundingClientRect();
  return {{
    texts,
    controls,
    bounds,
    bindings: el.querySelector('.vega-bindings').textContent,
    theme: el.getAttribute('data-theme'),
    fits: el.scrollWidth <= el.clientWidth + 1 && box.right <= window.innerWidth + 1,
    width: el.clientWidth,
    controlsFirst: el.querySelector('.vega-bindings').getBoundingClientRect().bottom
      <= el.querySelector('svg').getBoundingClientRect().top,
    drawn: el.querySelector('svg').getBoundingClientRect().width,
    cut: (() => {{  // a text drawn outside the SVG: the layout did not follow a change
      const svg = el.querySelector('svg').getBoundingClientRect();
      return [...el.querySelectorAll('svg text')].some((t) => {{
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < svg.left - 1 || r.right > svg.right + 1
          || r.top < svg.top - 1 || r.bottom > svg.bottom + 1);
      }});
    }})(),
  }};
}}"""

#: Hide Material's sticky header (it would cover the top of a panel's screenshot), or
#: show it again (its light/dark toggle is clicked between screenshots).
HIDE_HEADER = """(hide) => {
  document.querySelectorAll('.md-header').forEach((h) => {
    h.style.visibility = hide ? 'hidden' : '';
  });
}"""

SCROLL_TO_PANEL = f"() => {PANEL}().scrollIntoView({{block: 'start', behavior: 'instant'}})"

#: A number as d3-format writes it (U+2212 minus, exponents like e+172).
NUMBER = r"[−-]?\d+(?:\.\d+)?(?:e[+−-]?\d+)?"

#: Where a computed number stands in an expected line.
SLOT = "\ue000"


# --------------------------------------------------------------------------- comparing


def _parse(text: str) -> float:
    return float(text.replace("−", "-"))


def _tolerance(expected: float, spec: str) -> float:
    """Half a unit in the last place a d3 format ``spec`` ("f4", "e4", "g6") shows."""
    kind, digits = spec[0], int(spec[1:])
    if kind == "f":
        half = 0.5 * 10.0**-digits
    else:
        exponent = math.floor(math.log10(abs(expected))) if expected else 0
        half = 0.5 * 10.0 ** (exponent - (digits if kind == "e" else digits - 1))
    return half * (1 + 1e-9) + 1e-12 * abs(expected)


def _shows(text: str, expected: float, spec: str, why: str = "") -> list[str]:
    """Why ``text`` is not ``expected`` written with ``spec`` (empty when it is).

    inf is written "overflow"; NaN "overflow" or "underflow", as ``why`` says.
    """
    if math.isinf(expected):
        return [] if text == "overflow" else [f"{text!r} where NumPy overflows ({expected})"]
    if math.isnan(expected):
        return [] if text == why else [f"{text!r} where NumPy gives NaN ({why} expected)"]
    if not re.fullmatch(NUMBER, text):
        return [f"{text!r} is not a number (expected {expected!r})"]
    kind, digits = spec[0], int(spec[1:])
    mantissa = text.split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    digits_shown = re.sub(r"^[−-]?0*\.?0*", "", mantissa)
    if "." not in mantissa:  # "1000": trailing zeros of a whole number are not digits shown
        digits_shown = digits_shown.rstrip("0")
    significant = len(digits_shown.replace(".", ""))
    if kind in "fe" and decimals != digits:
        return [f"{text!r} shows {decimals} decimals, not {digits}"]
    if kind == "g" and significant > digits:
        return [f"{text!r} shows more than {digits} significant digits"]
    if abs(_parse(text) - expected) > _tolerance(expected, spec):
        return [f"{text!r} differs from NumPy's {expected!r} beyond the digits shown"]
    return []


def _line_shows(text: str, pattern: str, values: list[tuple[float, str]]) -> list[str]:
    """``text`` is ``pattern`` with each SLOT a number matching ``values``."""
    parts = [re.escape(p) for p in pattern.split(SLOT)]
    found = re.fullmatch(f"({NUMBER})".join(parts), text)
    if found is None:
        return [f"line {text!r} does not read {pattern.replace(SLOT, '#')!r}"]
    problems = []
    for shown, (expected, spec) in zip(found.groups(), values, strict=True):
        problems += _shows(shown, expected, spec)
    return problems


@dataclass(frozen=True)
class Expected:
    """What a panel must show for one set of controls.

    ``cells[mark][key]`` is ``(value, spec, why)`` (key: the text item's position);
    ``lines[i]`` is ``(pattern, values)``.
    """

    cells: dict[str, dict[int | tuple[int, int], tuple[float, str, str]]]
    lines: list[tuple[str, list[tuple[float, str]]]]


def _key(item: dict[str, Any]) -> int | tuple[int, int]:
    i, j, r, c = (item["key"] + [None] * 4)[:4]
    if r is not None and c is not None:
        return (int(r), int(c))
    return int(j if j is not None else i)


def compare(reading: dict[str, Any], expected: Expected, where: str) -> list[str]:
    """Every text of the panel against ``expected``: one line per difference."""
    problems: list[str] = []
    texts: dict[str, list[dict[str, Any]]] = reading["texts"]
    table = texts.get("live_table", []) + texts.get("live_table_over", [])
    marks = {"live_table": table, **{k: v for k, v in texts.items() if "_table" not in k}}
    unread = set(marks) - set(expected.cells) - {"live_lines"}
    if unread:
        problems.append(f"{where}: texts with no expected value: {sorted(unread)}")
    for mark, cells in expected.cells.items():
        items = {_key(item): item["text"] for item in marks.get(mark, [])}
        if set(items) != set(cells):
            problems.append(f"{where}: {mark} shows {sorted(items)}, expected {sorted(cells)}")
            continue
        for key, (value, spec, why) in cells.items():
            problems += [
                f"{where}: {mark} {key}: {p}" for p in _shows(items[key], value, spec, why)
            ]
    for item in texts.get("live_table_over", []):
        if item["text"] not in ("overflow", "underflow"):
            problems.append(f"{where}: {item['text']!r} drawn as an overflow")
    for item in texts.get("live_table", []):
        if item["text"] in ("overflow", "underflow"):
            problems.append(f"{where}: {item['text']!r} not drawn as an overflow")
    lines = sorted(texts.get("live_lines", []), key=_key)
    if len(lines) != len(expected.lines):
        problems.append(f"{where}: {len(lines)} lines, expected {len(expected.lines)}")
    for item, (pattern, values) in zip(lines, expected.lines, strict=False):
        problems += [f"{where}: {p}" for p in _line_shows(item["text"], pattern, values)]
    return problems


def broken_words(reading: dict[str, Any]) -> list[str]:
    """Texts (marks and control labels) that show NaN, Infinity or a missing value."""
    words = re.compile(r"NaN|Infinity|undefined|null")
    found = [t["text"] for ts in reading["texts"].values() for t in ts if words.search(t["text"])]
    if words.search(reading["bindings"]):
        found.append(reading["bindings"])
    return found


# --------------------------------------------------------------------------- the NumPy side


@cache
def _result(slug: str) -> Result:
    scenario = next(s for s in all_scenarios() if s.slug == slug)
    return scenario.compute(scenario)


def _clamped(reading: dict[str, Any], name: str) -> float:
    """A slider as the panel's formulas read it (see ``live._Slider.safe``): clamped to
    its range, its default when the signal holds no finite number."""
    value = reading["controls"][name]
    default, low, high = reading["bounds"][name]
    x = float(value) if isinstance(value, int | float) and math.isfinite(value) else default
    return float(min(max(x, low), high))


def _softmax_rows(scores: np.ndarray, t: float) -> dict[tuple[int, int], tuple[float, str, str]]:
    """The table of a softmax panel: score, e^(score/T), naive and stable weight a row."""
    x = scores / t
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x)
        naive_w = naive / naive.sum()
    weights = softmax(x)
    cells = {}
    for r in range(scores.size):
        why = "overflow" if np.isinf(naive[r]) else "underflow"
        cells[(r, 0)] = (float(scores[r]), "g6", "")
        cells[(r, 1)] = (float(naive[r]), "e4", "")
        cells[(r, 2)] = (float(naive_w[r]), "f4", why)
        cells[(r, 3)] = (float(weights[r]), "f4", "")
    return cells


def _naive_line(scores: np.ndarray, t: float) -> tuple[str, list[tuple[float, str]]]:
    with np.errstate(over="ignore"):
        naive = np.exp(scores / t)
    if np.isinf(naive).any():
        return f"naive: e^x overflows past x = {EXP_LIMIT:.2f}", []
    if np.isinf(naive.sum()):
        return "naive: the sum of e^x overflows", []
    if naive.sum() == 0:
        return "naive: every e^x underflows, 0/0", []
    return "naive: no overflow, the same weights", []


def _vector(values: np.ndarray) -> tuple[str, list[tuple[float, str]]]:
    return ", ".join([SLOT] * values.size), [(float(x), "f4") for x in values]


def _bars(values: np.ndarray, spec: str = "f4") -> dict[int, tuple[float, str, str]]:
    return {j: (float(x), spec, "") for j, x in enumerate(values)}


def _choice(reading: dict[str, Any], name: str) -> int:
    """A select as the formulas read it: a position in range, its default if not finite."""
    value = reading["controls"][name]
    default, low, high = reading["bounds"][name]
    x = math.floor(value) if isinstance(value, int | float) and math.isfinite(value) else default
    return int(min(max(x, low), high))


def _sliders(reading: dict[str, Any], prefix: str, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape))
    return np.array([_clamped(reading, f"{prefix}{i}") for i in range(count)]).reshape(shape)


def expect_single(c: dict[str, Any]) -> Expected:
    a = _result("single-annotation").arrays
    dec = _sliders(c, "live_d", a["decoder"].shape)
    ann = _sliders(c, "live_a", a["annotation"].shape)
    score = float(dot_scores(dec, ann))
    products = dec * ann
    terms = " + ".join([SLOT] * products.size)
    values = [(float(p), "g6") for p in products]
    with np.errstate(over="ignore"):
        e = float(np.exp(score))
    limit = f"{EXP_LIMIT:.2f}"
    lines = [
        (f"score = {terms} = {SLOT}", [*values, (score, "g6")]),
        ("e^score = overflow", []) if math.isinf(e) else (f"e^score = {SLOT}", [(e, "e4")]),
        (
            f"past e^{limit}: float64 has no such number"
            if math.isinf(e)
            else f"below e^{limit}, float64 holds it",
            [],
        ),
    ]
    table = {}
    for r in range(dec.size):
        for col, v in enumerate((dec[r], ann[r], products[r])):
            table[(r, col)] = (float(v), "g6", "")
    return Expected({"live_table": table, "live_prod_text": _bars(products, "g6")}, lines)


def expect_matrix(c: dict[str, Any]) -> Expected:
    a = _result("annotation-matrix").arrays
    dec = _sliders(c, "live_d", a["decoder"].shape)
    ann = _sliders(c, "live_a", a["annotations"].shape)
    t = 10.0 ** _clamped(c, "live_logt")
    scores = dot_scores(dec, ann)
    weights = softmax(scores / t)
    context = weights @ ann
    vec, vals = _vector(context)
    lines = [
        (f"T = {SLOT}: weights = softmax(score / T)", [(t, "g3")]),
        _naive_line(scores, t),
        (f"context = [{vec}]", vals),
    ]
    cells = {
        "live_table": _softmax_rows(scores, t),
        "live_w_text": _bars(weights),
        "live_ctx_text": _bars(context),
    }
    return Expected(cells, lines)


def expect_sequence(c: dict[str, Any]) -> Expected:
    result = _result("sequence-attention")
    a = result.arrays
    x = _sliders(c, "live_x", a["inputs"].shape)
    qi = _choice(c, "live_q")
    t = 10.0 ** _clamped(c, "live_logt")
    scores = additive_scores(a["query"][qi : qi + 1], x, a["w_q"], a["w_k"], a["v"])[0]
    weights = softmax(scores / t)
    out = weights @ x
    vec, vals = _vector(out)
    label = result.labels["query"][qi]
    lines = [
        (f"query {label}, T = {SLOT}", [(t, "g3")]),
        _naive_line(scores, t),
        (f"output row = {{{vec}}}", vals),
    ]
    cells = {
        "live_table": _softmax_rows(scores, t),
        "live_w_text": _bars(weights),
        "live_out_text": _bars(out),
    }
    return Expected(cells, lines)


def expect_self(c: dict[str, Any]) -> Expected:
    result = _result("self-attention")
    a = result.arrays
    q, k, v = a["q"], a["k"], a["v"]
    i = _choice(c, "live_q")
    d = q.shape[1]
    scaled = c["controls"]["live_scale"] is True
    scale = 1 / math.sqrt(d) if scaled else 1.0
    t = 10.0 ** _clamped(c, "live_logt")
    scores = (q[i] @ k.T) * scale
    z, weights = scaled_dot_product_attention(q[i : i + 1], k, v, scale=scale / t)
    vec, vals = _vector(z[0])
    word = result.labels["tokens"][i]
    divided = f" / √{d}" if scaled else f", not divided by √{d}"
    lines = [
        (f"query “{word}”, T = {SLOT}", [(t, "g3")]),
        (f"scores = q·k{divided}", []),
        _naive_line(scores, t),
        (f"row of Z = [{vec}]", vals),
    ]
    cells = {
        "live_table": _softmax_rows(scores, t),
        "live_w_text": _bars(weights[0]),
        "live_z_text": _bars(z[0]),
    }
    return Expected(cells, lines)


EXPECT: dict[str, Callable[[dict[str, Any]], Expected]] = {
    "single-annotation": expect_single,
    "annotation-matrix": expect_matrix,
    "sequence-attention": expect_sequence,
    "self-attention": expect_self,
}

#: Changes a reader makes, in order; the first is shown in the "after" screenshots.
CHANGES: dict[str, list[dict[str, Any]]] = {
    "single-annotation": [
        {"live_d0": -3, "live_d1": 7, "live_d2": 2, "live_a0": 10, "live_a1": -4, "live_a2": 8},
        {"live_d2": 35, "live_a2": 21},  # 704 + 70 - 28: past e^709.78
        {"live_d1": -13, "live_a1": 70},
    ],
    "annotation-matrix": [
        {"live_logt": 2.5, "live_d0": 12.5, "live_a3": 10.1},
        {"live_logt": 0.5, "live_d1": -2, "live_d2": 0.5, "live_a8": -30},
        {"live_logt": 3},
    ],
    "sequence-attention": [
        {"live_q": 3, "live_x0": -2, "live_x1": 5, "live_x4": 0, "live_logt": -1.2},
        {"live_q": 1, "live_logt": 0.3, "live_x2": 8},
        {"live_q": 2, "live_logt": 2},
    ],
    "self-attention": [
        {"live_q": 1, "live_scale": False, "live_logt": -0.5},
        {"live_q": 2, "live_scale": True, "live_logt": 0.7},
        {"live_q": 0, "live_logt": 3},
    ],
}

#: Inputs at the edges: overflow past e^709.78, every e^x underflowing, out of range.
EXTREMES: dict[str, list[dict[str, Any]]] = {
    "single-annotation": [
        {f"live_{v}{u}": 70 for v in "da" for u in range(3)},  # score 14700: overflow
        {**{f"live_d{u}": 70 for u in range(3)}, **{f"live_a{u}": -70 for u in range(3)}},
        {"live_d0": "1e9", "live_a0": "-1e9", "live_d1": "not a number"},
    ],
    "annotation-matrix": [
        {"live_logt": -3, "live_d0": 90, "live_d1": 90, "live_d2": 90},
        {"live_d0": -90, "live_d1": -90, "live_d2": -90},  # every e^x underflows
        {"live_logt": "1e9", "live_a11": "-1e9"},
    ],
    "sequence-attention": [
        {"live_q": 0, "live_logt": -3, "live_x0": -10, "live_x1": -2, "live_x2": -1, "live_x3": 1},
        {"live_x4": 4, "live_x5": -7, "live_logt": -3},
        {"live_logt": "-1e9"},
    ],
    "self-attention": [
        {"live_q": 5, "live_logt": -3},
        {"live_q": 1, "live_scale": False, "live_logt": -3},
        {"live_logt": "1e9"},
    ],
}


# --------------------------------------------------------------------------- the visits


@dataclass
class Visit:
    """What driving one page's panel found."""

    slug: str
    readings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    phone_width: float = 0.0
    problems: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)


@contextlib.contextmanager
def _page(browser: Any, **options: Any) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(**options)
    try:
        context.add_init_script("try { localStorage.clear(); } catch (e) {}")
        page = context.new_page()
        yield page, Watch.attach(page)
    finally:
        context.close()


def _resize(page: Any, size: dict[str, int]) -> None:
    """Turn the page to ``size`` and wait until every chart is drawn for its new column.

    A column that changes width has every chart of the page drawn again, the dearest
    step of a visit: a visit turns to a phone's width once and back once.
    """
    page.set_viewport_size(size)
    page.wait_for_function(FITTED, timeout=DRAW_TIMEOUT_MS)


def _shoot(page: Any, visit: Visit, when: str, theme: str) -> None:
    """The panel at the page's present width (1280 or 390 px), as a PNG.

    At a phone's width the panel is also read to check that it fits the column.
    """
    label = str(page.viewport_size["width"])
    page.evaluate(SCROLL_TO_PANEL)
    if label == str(PHONE["width"]):
        seen = page.evaluate(READ_PANEL)
        visit.phone_width = seen["width"]
        if not seen["fits"]:
            visit.problems.append(f"{visit.slug} {when} {theme}: wider than a phone")
    path = SCREENSHOTS / f"live-{visit.slug}--{when}-{theme}-{label}.png"
    slider = page.locator(".vega-bindings input[type=range]")
    figure = page.locator(".atlas-figure").filter(has=slider).first
    figure.screenshot(path=str(path), animations="disabled")
    visit.screenshots.append(path)


def _read(page: Any, visit: Visit, label: str) -> dict[str, Any]:
    reading: dict[str, Any] = page.evaluate(READ_PANEL)
    visit.readings.append((label, reading))
    return reading


def drive(page: Any, watch: Watch, served: str, slug: str) -> Visit:
    """Load the page, read the panel, change it, toggle dark, push it to its edges.

    The screenshots show the panel before and after the first change in light, before
    and after every change in dark, each at 1280 and 390 px. A column that changes
    width has every chart of the page drawn again, so they are taken in the order that
    turns the page to 390 px once and back once (light at 1280, light at 390, dark at
    390, dark at 1280), the controls set again to what each screenshot shows.
    """
    visit = Visit(slug)
    watch.clear()
    page.goto(f"{served}tutorial/{slug}.html")
    wait_for_charts(page, "light")
    page.evaluate(HIDE_HEADER, True)
    start = _read(page, visit, "defaults")["controls"]
    _shoot(page, visit, "before", "light")
    for n, change in enumerate(CHANGES[slug]):
        page.evaluate(SET_CONTROLS, change)
        changed = _read(page, visit, f"change {n + 1}")["controls"]
        if n == 0:
            _shoot(page, visit, "after", "light")
    _resize(page, PHONE)
    # A select's value is its index, as SET_CONTROLS takes it.
    page.evaluate(SET_CONTROLS, dict(visit.readings)["change 1"]["controls"])
    _shoot(page, visit, "after", "light")
    page.evaluate(SET_CONTROLS, start)
    _shoot(page, visit, "before", "light")
    page.evaluate(SET_CONTROLS, changed)
    page.evaluate(HIDE_HEADER, False)  # the light/dark toggle is in the header
    toggle_scheme(page)
    wait_for_charts(page, "dark")
    page.evaluate(HIDE_HEADER, True)
    dark = _read(page, visit, "after the dark toggle")
    if dark["controls"] != changed:
        visit.problems.append(
            f"{slug}: the dark redraw moved the controls from {changed} to {dark['controls']}"
        )
    _shoot(page, visit, "after", "dark")
    page.evaluate(SET_CONTROLS, start)
    _read(page, visit, "back to the defaults, dark")
    _shoot(page, visit, "before", "dark")
    _resize(page, DESKTOP)
    _shoot(page, visit, "before", "dark")
    page.evaluate(SET_CONTROLS, changed)
    _shoot(page, visit, "after", "dark")
    page.evaluate(SET_CONTROLS, start)
    for n, change in enumerate(EXTREMES[slug]):
        page.evaluate(SET_CONTROLS, change)
        _read(page, visit, f"extreme {n + 1}")
    first = next(iter(start))
    page.evaluate(SET_SIGNAL, [first, "NaN"])
    # No control can do this; the formulas must still read a number.
    _read(page, visit, f"{first} set to NaN")["injected"] = True
    visit.problems += [f"{slug}: {p}" for p in watch.problems(*local_origins(served))]
    return visit


@pytest.fixture(scope="module")
def visits(chromium: Any, served: str) -> dict[str, Visit]:
    """Every page visited in turn in one browser tab (a new page in a warm tab costs
    less than a new tab); each visit starts from a freshly loaded page, light, 1280 px
    wide, with nothing kept in local storage."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with _page(chromium, viewport=DESKTOP, color_scheme="light") as (page, watch):
        return {slug: drive(page, watch, served, slug) for slug in SLUGS}


# --------------------------------------------------------------------------- the tests


def test_driving_the_panels_raised_no_problem(visits: dict[str, Visit]) -> None:
    problems = [p for visit in visits.values() for p in visit.problems]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_displayed_output_matches_the_numpy_core(visits: dict[str, Visit], slug: str) -> None:
    visit = visits[slug]
    assert len(visit.readings) == 3 + len(CHANGES[slug]) + len(EXTREMES[slug]) + 1
    problems = []
    for label, reading in visit.readings:
        problems += compare(reading, EXPECT[slug](reading), f"{slug} ({label})")
    assert problems == [], "\n".join(problems)


def test_each_panel_starts_at_its_pages_numbers(visits: dict[str, Visit]) -> None:
    """The defaults reading shows what the page's prose shows (its weights, its score)."""
    single = dict(_texts(visits["single-annotation"], "defaults", "live_lines"))
    assert single[0] == "score = 15 + 12 + 900 = 927" and single[1] == "e^score = overflow"
    matrix = _texts(visits["annotation-matrix"], "defaults", "live_w_text")
    assert [t for _, t in matrix] == ["0.1192", "0.0000", "0.0000", "0.8808"]
    sequence = _texts(visits["sequence-attention"], "defaults", "live_w_text")
    first = _result("sequence-attention").arrays["weights"][0]
    assert [t for _, t in sequence] == [f"{w:.4f}" for w in first]
    lines = dict(_texts(visits["self-attention"], "defaults", "live_lines"))
    assert lines[0] == "query “cats”, T = 1" and lines[1] == "scores = q·k / √4"
    z = _result("self-attention").arrays["z"][5]
    assert lines[3] == "row of Z = [" + ", ".join(f"{x:.4f}" for x in z).replace("-", "−") + "]"


def _texts(visit: Visit, label: str, mark: str) -> list[tuple[Any, str]]:
    reading = dict(visit.readings)[label]
    return sorted((_key(item), item["text"]) for item in reading["texts"][mark])


@pytest.mark.parametrize("slug", SLUGS)
def test_extreme_inputs_show_overflow_and_never_nan(visits: dict[str, Visit], slug: str) -> None:
    shown = []
    for label, reading in visits[slug].readings:
        if reading.get("injected"):  # a signal set to NaN directly: its label says so
            reading = {**reading, "bindings": ""}
        assert broken_words(reading) == [], (label, broken_words(reading))
        if reading.get("injected"):
            continue
        for value in reading["controls"].values():
            assert not isinstance(value, float) or math.isfinite(value), (
                label,
                reading["controls"],
            )
        shown += [t["text"] for ts in reading["texts"].values() for t in ts]
    assert any("overflow" in text for text in shown), f"{slug}: no input showed an overflow"


def test_the_underflow_of_every_exponential_is_named(visits: dict[str, Visit]) -> None:
    reading = dict(visits["annotation-matrix"].readings)["extreme 2"]
    naive = [item["text"] for item in reading["texts"]["live_table_over"]]
    assert naive == ["underflow"] * 4
    lines = [item["text"] for item in reading["texts"]["live_lines"]]
    assert "naive: every e^x underflows, 0/0" in lines


def test_overflow_is_drawn_in_the_highlight_and_text_in_the_theme(visits: dict[str, Visit]) -> None:
    for visit in visits.values():
        for label, reading in visit.readings:
            text_colour = (DARK if reading["theme"] == "dark" else LIGHT)["text"]["color"]
            for item in reading["texts"].get("live_table_over", []):
                assert item["fill"] == HIGHLIGHT, (visit.slug, label)
            for item in reading["texts"].get("live_table", []):
                assert item["fill"] == text_colour, (visit.slug, label, reading["theme"])


def test_every_state_of_every_panel_fits_a_phone(visits: dict[str, Visit]) -> None:
    """The widest text any input produced still fits the page's column on a 390 px phone."""
    for visit in visits.values():
        assert visit.phone_width > 300, visit.slug
        for label, reading in visit.readings:
            assert reading["drawn"] <= visit.phone_width, (visit.slug, label, reading["drawn"])
            assert not reading["cut"], (visit.slug, label, "content drawn outside the chart")
            assert reading["controlsFirst"], (visit.slug, label, "controls under the outputs")


def test_each_panel_has_eight_screenshots(visits: dict[str, Visit]) -> None:
    for visit in visits.values():
        assert len(visit.screenshots) == 8, visit.slug
        for path in visit.screenshots:
            assert path.is_file() and path.stat().st_size > 5_000, path
