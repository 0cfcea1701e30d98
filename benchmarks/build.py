"""Cold build against an unchanged rebuild, measured side by side in one run.

Usage: ``python benchmarks/build.py``. Prints seconds and the ratio of the
unchanged rebuild to the cold build (target: at most 0.25), plus the cold build
against the 20 s budget. Builds a throwaway copy of the project; the user's
model cache is left warm, so the cold build measures computing, not downloading.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attention_atlas.build import build  # noqa: E402


def fresh_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    ignore = shutil.ignore_patterns("tutorial", "index.md", "atlas")
    shutil.copytree(ROOT / "site_src", dest / "site_src", ignore=ignore)
    return dest


def timed(root: Path, **kwargs: object) -> float:
    started = time.perf_counter()
    build(root, **kwargs)  # type: ignore[arg-type]
    return time.perf_counter() - started


def main(repeats: int = 3) -> None:
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            root = fresh_copy(Path(tmp) / f"p{i}")
            cold.append(timed(root))
            warm.append(timed(root))
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"{'build':<22}{'median s':>10}")
    print(f"{'cold (empty cache)':<22}{c:>10.2f}")
    print(f"{'unchanged rebuild':<22}{w:>10.2f}")
    print(f"unchanged / cold = {w / c:.2f}  (target <= 0.25)")
    print(f"cold / 20 s budget = {c / 20:.2f}  (target <= 1.00)")


if __name__ == "__main__":
    main()
