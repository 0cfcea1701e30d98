"""CPU time of drawing charts: every scenario page, and a 72-head report's layer pages.

Usage: ``python benchmarks/charts.py [--repeats 5] [--json FILE]``. Each scenario page is
rendered (:func:`attention_atlas.build.render_scenario`: compute, charts, template) with
schema validation off, as the build does, and on, as the tests do; the report draws the
six layer pages of a (6, 12, 24, 24) dump in this process. Prints the median CPU seconds
of each and the share validation adds, measured in one run. Run it on two versions of
the code in turn (several runs each) to compare them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from attention_atlas import scenarios
from attention_atlas.build import render_scenario
from attention_atlas.charts.html import schema_validation
from attention_atlas.dumps import workers
from attention_atlas.dumps.read import validate_dump
from attention_atlas.dumps.report import render_report

#: The report's dump: L layers, H heads, N tokens.
REPORT_SHAPE = (6, 12, 24)


def cpu_median(run: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of this process over ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return statistics.median(times)


def report_pages() -> Callable[[], object]:
    layers, heads, n = REPORT_SHAPE
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(n), size=(layers, heads, n))
    dump = validate_dump(weights, np.array([f"tok{i}" for i in range(n)]), source="r.npz")
    return lambda: render_report(dump, title="Report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    workers.PARALLEL_FROM_HEADS = 10**9  # every page in this process: its CPU time counts
    jobs: dict[str, Callable[[], object]] = {
        s.slug: (lambda s=s: render_scenario(s)) for s in scenarios.all_scenarios()
    }
    jobs["report (6 x 12 heads)"] = report_pages()
    for job in jobs.values():
        job()  # warm: models loaded, caches filled
    medians: dict[str, dict[str, float]] = {}
    print(f"{'page':<24}{'no validation s':>16}{'validation s':>14}{'ratio':>8}")
    for name, job in jobs.items():
        row = {}
        for validate in (False, True):
            with schema_validation(validate):
                row["validated" if validate else "plain"] = cpu_median(job, args.repeats)
        medians[name] = row
        ratio = row["validated"] / row["plain"]
        print(f"{name:<24}{row['plain']:>16.3f}{row['validated']:>14.3f}{ratio:>8.2f}")
    plain = sum(r["plain"] for r in medians.values())
    checked = sum(r["validated"] for r in medians.values())
    print(f"{'total':<24}{plain:>16.3f}{checked:>14.3f}{checked / plain:>8.2f}")
    if args.json:
        args.json.write_text(json.dumps(medians, indent=1))


if __name__ == "__main__":
    main()
