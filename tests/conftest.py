"""Shared fixtures: a throwaway copy of the project and one site built from it.

The suite runs on every core by default (pytest-xdist, ``-n auto --dist loadscope``,
set by :func:`pytest_cmdline_main` below), so what is expensive to make is made once
per test session and shared by the workers through a folder they all see
(:func:`shared_folder`). ``-n 0`` or ``-p no:xdist`` runs everything in one process.

``slow`` marks a test that takes more than 2 s on a quiet 2-core machine, the set-up it
triggers included (a test module whose shared fixture is slow is marked as a whole).
Slow tests run by default; ``-m "not slow"`` leaves them out for a quick look.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Default to one worker per core, a test module per worker at a time.

    Set here rather than in ``addopts`` so that ``-p no:xdist`` still works (``addopts``
    naming ``-n`` would be an unknown option then). ``--dist loadscope`` keeps each
    module on one worker, so module-scoped fixtures (a computed scenario, a browser, a
    report built once for many tests) are made once. An explicit ``-n`` (``-n 0`` for
    one process) or ``--dist`` wins.
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker must never start workers of its own (that recursion forks forever)
    if config.option.numprocesses is None:
        config.option.numprocesses = "auto"
    if config.option.dist == "no" and config.option.numprocesses != 0:
        config.option.dist = "loadscope"
        # Hand out modules in the order of pytest_collection_modifyitems (slow first),
        # not by their number of tests.
        config.option.loadscopereorder = False


def pytest_configure(config: pytest.Config) -> None:
    """Idle BLAS threads sleep at once instead of spinning (results are the same).

    OpenBLAS keeps a thread per core spinning for a while after each product. With a
    worker per core, or a machine shared with other work, those spinning threads take
    the cores the other worker needs: here they cost a third of the CPU time of the
    numerical modules. Set before the workers start, so they and every process they
    start inherit it; an explicit setting in the environment wins.
    """
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    # Every test process declines rfc3987_syntax as the command does (see
    # attention_atlas.cli._decline_slow_optional_imports): 0.8 s of each process's start,
    # for "iri" formats that no schema validated here uses.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


#: Fixtures that stand for the built site (the browser tests' ``site`` asks for
#: ``built_site`` only once Chromium is known to be there). A module's own fixture of
#: the same name counts too; that only hands the module out a little later.
SITE_FIXTURES = frozenset({"built_site", "site"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs ``built_site`` slow; run the slowest modules first.

    The site build is the slowest set-up of the suite, so its users are slow whether
    or not they are marked. Modules go in decreasing number of slow tests: starting
    the long ones first keeps a worker from being handed one at the very end while
    the other sits idle. One exception: while the first module that needs the site
    builds it (about 10 s), the other worker is handed the three slowest modules that
    do not need it, rather than a module that would wait for the build. The order
    within a module is kept.
    """
    slow: Counter[str] = Counter()
    needs_site: set[str] = set()
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "built_site" in fixtures:
            item.add_marker(pytest.mark.slow)
        if fixtures & SITE_FIXTURES:
            needs_site.add(_module(item))
        slow[_module(item)] += item.get_closest_marker("slow") is not None
    order = sorted(slow, key=lambda module: -slow[module])
    builders = [module for module in order if module in needs_site]
    if builders:
        others = [module for module in order if module not in needs_site][:3]
        first = [builders[0], *others]
        order = first + [module for module in order if module not in first]
    rank = {module: i for i, module in enumerate(order)}
    items.sort(key=lambda item: rank[_module(item)])


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def copy_project(dest: Path) -> Path:
    """Copy what a build reads (mkdocs.yml and the hand-written part of site_src/)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    ignore = shutil.ignore_patterns("tutorial", "index.md", "atlas")
    shutil.copytree(ROOT / "site_src", dest / "site_src", ignore=ignore)
    return dest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m attention_atlas ARGS`` in ``cwd``, as a user types it; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "attention_atlas", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def shared_folder(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]
) -> Path:
    """The folder ``name``, filled by ``make(folder)`` once per test session.

    Under pytest-xdist every worker of the session sees the same folder (the session's
    base temporary folder, parent of the workers' own); the first worker to ask makes
    it while holding a lock, the others wait for it and then reuse it. A ``make`` that
    fails leaves no finished folder, so a later request tries again.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    done = base / f"{name}.done"
    with FileLock(base / f"{name}.lock"):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            done.touch()
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def _build_project(folder: Path) -> None:
    from attention_atlas.build import build

    build(copy_project(folder / "project"))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole site, built once per test session; returns the project folder.

    Shared by every test and every worker: read it, never change it (copy it first,
    or start from :func:`cached_project`).
    """
    return shared_folder(tmp_path_factory, "built-site", _build_project) / "project"


@pytest.fixture
def cached_project(tmp_path: Path, built_site: Path) -> Path:
    """A fresh project (no generated page yet) whose page cache holds every page.

    The cache is ``built_site``'s, so a build or ``--check`` here reads every page
    from it instead of computing the scenarios again.
    """
    root = copy_project(tmp_path / "project")
    shutil.copytree(built_site / ".atlas-cache" / "pages", root / ".atlas-cache" / "pages")
    return root


@pytest.fixture
def counted_bundles(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Each Vega bundle made from now on (a small stand-in, made in no time), kept in a
    cache folder of this test's own, and none kept in this process yet."""
    import vl_convert

    from attention_atlas.charts import browser

    made: list[str] = []

    def bundle() -> str:
        made.append(f"var bundle{len(made)};")
        return made[-1]

    monkeypatch.setattr(vl_convert, "javascript_bundle", bundle)
    monkeypatch.setenv("ATTENTION_ATLAS_CACHE", str(tmp_path / "cache"))
    browser.vega_bundle.cache_clear()
    yield made
    browser.vega_bundle.cache_clear()
