"""The swap cannot lose a site: one lock per folder, kills at any instant, recovery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import filelock
import numpy as np
import pytest

from attention_atlas import fileio, publish
from attention_atlas.errors import AtlasError

#: Publishes a small site into argv[2] holding argv[3] in every page; kills itself
#: (``os._exit``, no clean-up runs) at the checkpoint named argv[1].
SCRIPT = """
import os, sys, time
from pathlib import Path
from attention_atlas import publish

kill_at, out, content = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if os.environ.get("NO_EXCHANGE"):
    publish._exchange = lambda a, b: False

def checkpoint(name):
    if name == kill_at:
        os._exit(9)

publish.checkpoint = checkpoint
with publish.publishing(out) as staging:
    for i in range(int(os.environ.get("PAGES", "3"))):
        (staging / f"page-{i}.html").write_text(content)
    (staging / "index.html").write_text(content)
    time.sleep(float(os.environ.get("SLOW", "0")))
    publish.checkpoint("building")
"""


def publish_in_subprocess(
    out: Path, content: str, kill_at: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, kill_at, str(out), content],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def site_content(out: Path) -> str:
    """What a whole site at ``out`` holds; fails when it is missing or half of two."""
    pages = sorted(out.glob("*.html"))
    assert pages, f"{out}: no site there"
    texts = {p.read_text() for p in pages}
    assert len(texts) == 1, f"{out}: pages of different builds {texts}"
    return texts.pop()


def leftovers(out: Path) -> list[str]:
    return sorted(
        p.name
        for p in out.parent.iterdir()
        if p.name.startswith(f".{out.name}.") and not p.name.endswith(".lock")
    )


@pytest.fixture
def old_site(tmp_path: Path) -> Path:
    out = tmp_path / "site"
    assert publish_in_subprocess(out, "old").returncode == 0
    assert site_content(out) == "old"
    return out


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
@pytest.mark.parametrize("kill_at", ["building", "staged", "exchanged", "replaced"])
def test_a_kill_leaves_the_old_or_the_new_site(
    old_site: Path, kill_at: str, exchange: bool
) -> None:
    env = {} if exchange else {"NO_EXCHANGE": "1"}
    killed = publish_in_subprocess(old_site, "new", kill_at, **env)
    reached = kill_at in ("building", "staged") or (kill_at == "exchanged") == exchange
    assert killed.returncode == (9 if reached else 0), killed.stderr
    assert site_content(old_site) in ("old", "new")
    again = publish_in_subprocess(old_site, "third")
    assert again.returncode == 0, again.stderr
    assert site_content(old_site) == "third"
    assert leftovers(old_site) == []  # the killed run's staging or old folder is gone


def test_a_kill_between_the_two_renames_is_undone_by_the_next_run(old_site: Path) -> None:
    """Where no one-step exchange exists, the next run puts the stranded site back."""
    killed = publish_in_subprocess(old_site, "new", "between-renames", NO_EXCHANGE="1")
    assert killed.returncode == 9
    assert not old_site.exists()
    stranded = [name for name in leftovers(old_site) if name.startswith(".site.old-")]
    assert len(stranded) == 1, leftovers(old_site)
    with pytest.raises(RuntimeError, match="boom"), publish.publishing(old_site):
        raise RuntimeError("boom")  # even a run that fails restores the previous site
    assert site_content(old_site) == "old"
    assert leftovers(old_site) == []


@pytest.mark.slow  # eight runs killed at random instants, up to 0.9 s each
def test_the_exchange_leaves_no_instant_without_a_site(old_site: Path) -> None:
    """Kill real runs with SIGKILL at seeded random instants; the site is always whole."""
    rng = random.Random(12)
    for attempt in range(8):
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, "", str(old_site), f"run {attempt}"],
            env={**os.environ, "PAGES": "300"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.9))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert site_content(old_site) in ("old", *(f"run {i}" for i in range(attempt + 1)))
    assert publish_in_subprocess(old_site, "last").returncode == 0
    assert site_content(old_site) == "last"
    assert leftovers(old_site) == []


def test_a_stranded_site_of_an_earlier_version_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "site"
    stranded = tmp_path / ".site.old-4242"
    stranded.mkdir()
    (stranded / "index.html").write_text("old")  # no marker: earlier versions wrote none
    publish.recover(out)
    assert site_content(out) == "old"
    assert leftovers(out) == []


def test_only_our_leftovers_are_removed(old_site: Path) -> None:
    parent = old_site.parent
    ours = parent / ".site.build-dead1"
    ours.mkdir()
    (ours / "index.html").write_text("half")
    fileio.write_marker(ours, "site", state="staging")
    empty = parent / ".site.build-dead2"
    empty.mkdir()
    half = parent / ".site.build-dead3"  # killed while writing its first marker
    half.mkdir()
    (half / f".{fileio.MARKER}.k1ll3d.tmp").write_text('{"kind": "si')
    mixed = parent / ".site.build-notes2"
    mixed.mkdir()
    (mixed / f".{fileio.MARKER}.k1ll3d.tmp").write_text("")
    (mixed / "draft.md").write_text("someone else's")
    foreign = parent / ".site.build-notes"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone else's")
    other = parent / ".other.build-x"
    other.mkdir()
    fileio.write_marker(other, "site")
    assert publish_in_subprocess(old_site, "new").returncode == 0
    assert not ours.exists() and not empty.exists() and not half.exists()
    assert (foreign / "notes.txt").read_text() == "someone else's"
    assert (mixed / "draft.md").read_text() == "someone else's"
    assert other.exists()


def test_a_second_writer_waits_then_exits_2_naming_the_folder(old_site: Path) -> None:
    staging = old_site.parent / ".site.build-live"
    staging.mkdir()
    fileio.write_marker(staging, "site", state="staging")  # a live run's staging folder
    lock = filelock.FileLock(old_site.parent / ".site.lock")
    with lock:
        started = time.monotonic()
        result = publish_in_subprocess(old_site, "new", ATLAS_LOCK_WAIT="0.5")
        waited = time.monotonic() - started
    assert result.returncode != 0
    assert f"another build is writing {old_site}" in result.stderr
    assert waited >= 0.5
    assert staging.exists(), "a live run's staging folder was removed"
    assert site_content(old_site) == "old"


def test_cli_reports_a_busy_folder_in_one_line(tmp_path: Path) -> None:
    weights = np.full((2, 3, 3), 1 / 3)
    np.savez(tmp_path / "run.npz", attention=weights, tokens=np.array(["a", "b", "c"]))
    with filelock.FileLock(tmp_path / ".report.lock"):
        result = subprocess.run(
            [sys.executable, "-m", "attention_atlas", "report", "run.npz", "--out", "report"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "ATLAS_LOCK_WAIT": "0"},
            check=False,
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another build is writing" in lines[0], result.stderr
    assert not (tmp_path / "report").exists()


def test_two_writers_take_turns(tmp_path: Path) -> None:
    out = tmp_path / "site"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, "", str(out), name],
            env={**os.environ, "SLOW": "0.7"},
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
    assert site_content(out) in ("first", "second")
    assert leftovers(out) == []


def test_a_failing_build_keeps_the_site_and_leaves_nothing(old_site: Path) -> None:
    before = {p.name: p.read_bytes() for p in old_site.iterdir()}
    with pytest.raises(AtlasError, match="simulated"), publish.publishing(old_site) as staging:
        (staging / "index.html").write_text("half")
        raise AtlasError("simulated")
    assert {p.name: p.read_bytes() for p in old_site.iterdir()} == before
    assert leftovers(old_site) == []


def test_the_lock_wait_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_LOCK_WAIT", "soon")
    with pytest.raises(AtlasError, match="ATLAS_LOCK_WAIT"):
        publish.lock_wait()
    monkeypatch.setenv("ATLAS_LOCK_WAIT", "2.5")
    assert publish.lock_wait() == 2.5
