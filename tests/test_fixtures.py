"""The suite's own set-up: shared fixtures made once per session, whatever the number of
workers, and the defaults that run it on every core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from attention_atlas import build
from attention_atlas.scenarios import all_scenarios
from tests import conftest
from tests.conftest import ROOT, shared_folder

#: Two of these run at once, as two xdist workers of one session would: each asks for
#: the same shared folder; ``make`` logs its call and takes a while, so an unlocked
#: second call would overlap it.
_WORKER = """
import os, sys, time
from pathlib import Path
from tests.conftest import shared_folder

class Factory:
    def getbasetemp(self):
        return Path(sys.argv[1]) / os.environ["PYTEST_XDIST_WORKER"]

def make(folder):
    with open(Path(sys.argv[1]) / "calls.log", "a") as log:
        log.write(f"start {os.environ['PYTEST_XDIST_WORKER']}\\n")
    time.sleep(1.0)
    folder.mkdir()
    (folder / "made-by").write_text(os.environ["PYTEST_XDIST_WORKER"])
    with open(Path(sys.argv[1]) / "calls.log", "a") as log:
        log.write("end\\n")

print(shared_folder(Factory(), "artefact", make))
"""


def test_shared_folder_is_made_once_for_every_worker(tmp_path: Path) -> None:
    workers = []
    for name in ("gw0", "gw1"):
        (tmp_path / name).mkdir()
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(tmp_path)],
                cwd=ROOT,
                env={**os.environ, "PYTEST_XDIST_WORKER": name},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {str(tmp_path / "artefact")}
    log = (tmp_path / "calls.log").read_text().splitlines()
    assert len(log) == 2 and log[0].startswith("start ") and log[1] == "end", log
    assert (tmp_path / "artefact" / "made-by").read_text() == log[0].split()[1]


class _Factory:
    def __init__(self, base: Path) -> None:
        self.base = base

    def getbasetemp(self) -> Path:
        return self.base


def test_a_failed_make_leaves_nothing_and_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    factory = _Factory(tmp_path)
    calls: list[Path] = []

    def broken(folder: Path) -> None:
        calls.append(folder)
        folder.mkdir()
        (folder / "half").write_text("written")
        raise RuntimeError("make failed")

    with pytest.raises(RuntimeError, match="make failed"):
        shared_folder(factory, "artefact", broken)  # type: ignore[arg-type]

    def make(folder: Path) -> None:
        calls.append(folder)
        folder.mkdir()
        (folder / "whole").write_text("written")

    for _ in range(2):
        folder = shared_folder(factory, "artefact", make)  # type: ignore[arg-type]
        assert sorted(p.name for p in folder.iterdir()) == ["whole"]
    assert calls == [tmp_path / "artefact"] * 2  # the failed call, then one good one


def test_cached_project_has_no_generated_page_but_every_page_cached(
    cached_project: Path,
) -> None:
    pages = ["index.md", *(s.page_path for s in all_scenarios())]
    assert not any((cached_project / "site_src" / page).exists() for page in pages)
    report = build.build(cached_project, check=True)
    assert {p.source for p in report.pages} == {"cached"}
    assert sorted(report.stale) == sorted(pages)


# --------------------------------------------------------------------------- the defaults


class _Plugins:
    def __init__(self, *names: str) -> None:
        self.names = names

    def hasplugin(self, name: str) -> bool:
        return name in self.names


def _options(**given: object) -> SimpleNamespace:
    """The options as pytest-xdist leaves them when none of its own were given."""
    return SimpleNamespace(
        **{"numprocesses": None, "dist": "no", "loadscopereorder": True, **given}
    )


def _defaults(options: SimpleNamespace, *plugins: str) -> SimpleNamespace:
    config = SimpleNamespace(option=options, pluginmanager=_Plugins(*plugins))
    conftest.pytest_cmdline_main(config)  # type: ignore[arg-type]
    return options


def test_the_suite_runs_on_every_core_a_module_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    options = _defaults(_options(), "xdist")
    assert (options.numprocesses, options.dist) == ("auto", "loadscope")
    assert options.loadscopereorder is False  # the slowest modules first, as collected


def test_explicit_worker_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    one = _defaults(_options(numprocesses=0), "xdist")
    assert (one.numprocesses, one.dist) == (0, "no")
    load = _defaults(_options(numprocesses=2, dist="load"), "xdist")
    assert (load.numprocesses, load.dist, load.loadscopereorder) == (2, "load", True)
    without = _defaults(_options())  # -p no:xdist
    assert (without.numprocesses, without.dist) == (None, "no")


def test_a_worker_never_starts_workers_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers run the same hook with no ``-n``; defaulting there would fork forever."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    options = _defaults(_options(), "xdist")
    assert (options.numprocesses, options.dist) == (None, "no")


def test_idle_blas_threads_sleep_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    conftest.pytest_configure(SimpleNamespace())  # type: ignore[arg-type]
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "28")
    conftest.pytest_configure(SimpleNamespace())  # type: ignore[arg-type]
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "28"
