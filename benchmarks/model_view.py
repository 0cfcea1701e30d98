"""How fast a report's model view (every head of MiniLM) paints in Chromium.

Usage: ``python benchmarks/model_view.py [--loads N] [--tokens 16 128 500] [--keep DIR]``.
For each size, runs MiniLM (``attention_atlas.models.load_minilm``) on a text of about that
many tokens, saves the attention as an ``.npz``, builds a report with
:func:`attention_atlas.dumps.report.build_report`, serves it on 127.0.0.1 and loads its overview
page in headless Chromium. Prints one row per size:

* page weight: the HTML and every file loaded until the model view was painted
  (first, cold load; Resource Timing's encoded body sizes), and the per-head data;
* paint: model view painted (``data-rendered="true"``), from navigation start,
  median / min / max of N warm loads (after one warm-up load);
* render: the chart's own time, vegaEmbed called to painted (``data-render-ms``);
* exact: from picking another head in the menus to its cells drawn with their values
  (``data-head`` for heads loaded on demand; the view's next run for inline ones).

Needs the ``playwright`` package, Debian's ``chromium`` and the MiniLM weights.
The measuring functions are importable (``measure_report``, ``make_dump``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser._browser import LAUNCH_ARGS, chromium_path, serve  # noqa: E402

#: Repeated until the tokenizer gives the wanted length, then cut to it.
TEXT = (
    "The animal didn't cross the street because it was too tired. "
    "Attention lets every token look at every other token and decide how much of "
    "each it needs; a head is one such way of looking, and a layer holds several. "
)

#: The model view is the first chart of the overview page.
CHART = ".atlas-chart[data-spec]"

#: Records, relative to navigation start, when the first chart is drawn.
PAINT_CLOCK = """(() => {
  const check = () => {
    const el = document.querySelector('.atlas-chart[data-spec]');
    if (el && el.getAttribute('data-rendered') === 'true' && window.__mvPainted === undefined) {
      window.__mvPainted = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, attributes: true, attributeFilter: ['data-rendered'],
  });
})();"""

PAINTED = """() => { const el = document.querySelector('.atlas-chart[data-spec]');
  return el && ['true', 'error'].includes(el.getAttribute('data-rendered')); }"""

#: Bytes of the page and of every resource that finished before the model view painted.
WEIGHT = """() => {
  const painted = window.__mvPainted;
  const nav = performance.getEntriesByType('navigation')[0];
  let total = nav.encodedBodySize;
  for (const r of performance.getEntriesByType('resource')) {
    if (r.responseEnd <= painted) total += r.encodedBodySize;
  }
  return [total, nav.encodedBodySize];
}"""

#: Picks head ``index`` with the chart's menus; resolves to the milliseconds until its
#: cells are drawn with their values.
PICK = """async ([index, heads]) => {
  const el = document.querySelector('.atlas-chart[data-spec]');
  const view = el.__atlasEmbed.view;
  const onDemand = !!JSON.parse(el.getAttribute('data-spec')).usermeta.atlas.heads;
  const selects = el.querySelectorAll('.vega-bind select');
  const byName = {};
  selects.forEach((s) => { byName[s.closest('.vega-bind').textContent.trim()[0]] = s; });
  const start = performance.now();
  const done = onDemand
    ? new Promise((resolve) => {
        const obs = new MutationObserver(() => {
          if (el.getAttribute('data-head') === String(index)) { obs.disconnect(); resolve(); }
        });
        obs.observe(el, { attributes: true, attributeFilter: ['data-head'] });
      })
    : new Promise((resolve) => {
        const at = view.getState({ signals: (n) => n.endsWith('_at'), data: () => false });
        const name = Object.keys(at.signals)[0];
        view.addSignalListener(name, function go(_, v) {
          if (v === index) { view.removeSignalListener(name, go); view.runAsync().then(resolve); }
        });
      });
  for (const [key, value] of [['L', Math.floor(index / heads)], ['H', index % heads]]) {
    const select = byName[key];
    select.selectedIndex = value;
    select.dispatchEvent(new Event('change'));
    select.dispatchEvent(new Event('input'));
  }
  await done;
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - start;
}"""


@dataclass
class ViewCost:
    """What one report's model view costs (times in milliseconds)."""

    tokens: int
    page_bytes: int = 0
    html_bytes: int = 0
    head_file_bytes: int = 0
    on_demand: bool = False
    paint_ms: list[float] = field(default_factory=list)
    render_ms: list[float] = field(default_factory=list)
    exact_ms: list[float] = field(default_factory=list)


def make_dump(tokens: int, dest: Path) -> Path:
    """MiniLM's attention on a text of about ``tokens`` tokens, saved as ``dest`` (.npz)."""
    from attention_atlas.models import load_minilm

    model = load_minilm()
    words = TEXT.split()
    text = " ".join(words[: max(1, tokens - 2)])
    while len(model.tokenize(text)) < tokens and len(words) < 10 * tokens:
        words = words + TEXT.split()
        text = " ".join(words)
    ids = model.tokenize(text)
    while len(ids) > tokens and len(words) > 1:
        words = words[:-1]
        text = " ".join(words)
        ids = model.tokenize(text)
    enc = model.encode(text)
    attention = np.asarray(enc.attentions, dtype=np.float32)
    np.savez(dest, attention=attention, tokens=np.array(list(enc.tokens)))
    return dest


def build(npz: Path, out: Path) -> Path:
    """The report of ``npz`` built into ``out``."""
    from attention_atlas.dumps.report import build_report

    return build_report(npz, out=out).out


def _median(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def measure_report(site: Path, tokens: int, loads: int = 5, browser: Any = None) -> ViewCost:
    """Load the overview of the report in ``site`` ``loads`` times; see the module docstring."""
    cost = ViewCost(tokens=tokens)
    data = sorted(p for p in site.rglob("*.js") if p.parent.name == "model-view")
    cost.head_file_bytes = sum(p.stat().st_size for p in data)
    cost.on_demand = bool(data)
    if browser is None:
        from playwright.sync_api import sync_playwright

        path = chromium_path()
        if path is None:
            sys.exit("Chromium is not installed: apt-get install chromium")
        with sync_playwright() as playwright:
            own = playwright.chromium.launch(executable_path=path, args=LAUNCH_ARGS)
            try:
                return measure_report(site, tokens, loads, own)
            finally:
                own.close()
    with serve(site) as base_url:
        url = base_url + "index.html"
        cold = browser.new_context(viewport={"width": 1280, "height": 900})
        cold.add_init_script(PAINT_CLOCK)
        page = cold.new_page()
        page.goto(url)
        page.wait_for_function(PAINTED, timeout=300_000)
        cost.page_bytes, cost.html_bytes = page.evaluate(WEIGHT)
        cold.close()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(PAINT_CLOCK)
        page = context.new_page()
        heads = None
        for load in range(loads + 1):
            page.goto(url)
            page.wait_for_function(PAINTED, timeout=300_000)
            painted, render = page.evaluate(
                "() => [window.__mvPainted, document.querySelector("
                "'.atlas-chart[data-spec]').getAttribute('data-render-ms')]"
            )
            if heads is None:
                heads = page.evaluate(
                    "() => { const s = JSON.parse(document.querySelector("
                    "'.atlas-chart[data-spec]').getAttribute('data-spec'));"
                    " return s.params.find((p) => p.name.endsWith('_hn')).value.length; }"
                )
            if load == 0:
                continue  # warm-up: the browser cache now holds the shared assets
            cost.paint_ms.append(float(painted))
            cost.render_ms.append(float(render))
            # A head not opened before in this load (its file not yet loaded).
            last = page.evaluate(
                "() => { const s = JSON.parse(document.querySelector("
                "'.atlas-chart[data-spec]').getAttribute('data-spec'));"
                " return s.params.find((p) => p.name.endsWith('_ln')).value.length; }"
            )
            index = (last * heads - 1 - load) % (last * heads)
            cost.exact_ms.append(float(page.evaluate(PICK, [index, heads])))
        context.close()
    return cost


def table(costs: list[ViewCost]) -> str:
    """The measurements as a Markdown table."""
    lines = [
        "| tokens | page weight KB (HTML) | head files KB | paint ms from nav start "
        "| chart render ms | pick-to-exact ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c in costs:
        files = f"{c.head_file_bytes / 1024:,.0f}" if c.on_demand else "inline"
        lines.append(
            f"| {c.tokens} | {c.page_bytes / 1024:,.0f} ({c.html_bytes / 1024:,.0f}) | {files} "
            f"| {_median(c.paint_ms)} | {_median(c.render_ms)} | {_median(c.exact_ms)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--tokens", type=int, nargs="+", default=[16, 128, 500])
    parser.add_argument("--keep", type=Path, help="build the reports here and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="model-view-bench-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        costs = []
        for tokens in args.tokens:
            npz = make_dump(tokens, work / f"minilm-{tokens}.npz")
            print(f"building the report of {npz.name} ...", file=sys.stderr)
            site = build(npz, work / f"minilm-{tokens}-report")
            costs.append(measure_report(site, tokens, args.loads))
            print(table(costs[-1:]), file=sys.stderr)
    try:
        import threadpoolctl

        arch = {i.get("architecture") for i in threadpoolctl.threadpool_info()}
        print(f"BLAS architecture: {sorted(a for a in arch if a)}")
    except ImportError:
        pass
    print(table(costs))


if __name__ == "__main__":
    main()
