"""Failures at the edge are one line and exit 2; files are readable as the umask says."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas import build, cli, fileio
from attention_atlas.errors import ShapeError
from attention_atlas.render import templating
from tests.conftest import run_cli
from tests.test_output_folders import assert_one_line_exit_2, tree_digest


def _dump(folder: Path) -> Path:
    path = folder / "run.npz"
    weights = np.full((2, 3, 3), 1 / 3)
    np.savez(path, attention=weights, tokens=np.array(["a", "b", "c"]))
    return path


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# --------------------------------------------------------------------------- disk full


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file opened for writing through ``os.fdopen`` fails with ENOSPC on write."""
    real = os.fdopen

    class Full:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real(fd, mode, *args, **kwargs)
        return Full(handle) if "w" in mode else handle

    monkeypatch.setattr(os, "fdopen", fdopen)


def test_a_full_disk_while_writing_assets(
    full_disk: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "assets"
    assert cli.main(["assets", str(dest)]) == 2
    line = _one_error_line(capsys)
    assert "disk is full" in line and str(dest) in line, line
    assert [p.name for p in dest.iterdir()] == []  # no temporary file left behind


def test_a_full_disk_while_building_keeps_the_site(
    built_site: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(built_site, root)
    before = tree_digest(root / "site")
    real = os.fdopen
    monkeypatch.chdir(root)
    # Full only once MkDocs has run: the site's marker cannot be written.
    monkeypatch.setattr(fileio, "manifest", _full_after(fileio.manifest, real, monkeypatch))
    assert cli.main(["build"]) == 2
    line = _one_error_line_after_progress(capsys)
    assert "disk is full" in line and "--out" in line, line
    assert tree_digest(root / "site") == before
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".site")) == [".site.lock"]


def _full_after(function: Any, real: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    def wrapped(*args: Any) -> Any:
        result = function(*args)

        def fdopen(fd: int, mode: str = "r", *a: Any, **k: Any) -> Any:
            if "w" in mode:
                os.close(fd)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(fd, mode, *a, **k)

        monkeypatch.setattr(os, "fdopen", fdopen)
        return result

    return wrapped


def _one_error_line_after_progress(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, captured.err
    assert captured.err.strip().splitlines()[-1] == lines[0]
    return lines[0]


def _mount(point: Path, options: str) -> bool:
    point.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1.5 MB tmpfs, when this machine lets the tests mount one."""
    point = tmp_path / "small"
    if not _mount(point, "size=1536k"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_is_one_line_and_keeps_the_report(
    small_disk: Path, tmp_path: Path
) -> None:
    _dump(tmp_path)
    previous = small_disk / "report"
    previous.mkdir()
    (previous / "index.html").write_text("the previous report")
    fileio.write_marker(previous, "report", source="run.npz")
    before = tree_digest(previous)
    result = run_cli("report", "run.npz", "--out", str(previous), cwd=tmp_path)
    assert_one_line_exit_2(result, "disk is full", str(previous))
    assert tree_digest(previous) == before
    assert sorted(p.name for p in small_disk.iterdir()) == [".report.lock", "report"]
    (small_disk / "filler").write_bytes(b"\0" * 1_000_000)  # leaves less than the bundle needs
    result = run_cli("assets", str(small_disk / "assets"), cwd=tmp_path)
    assert_one_line_exit_2(result, "disk is full", "vega-embed.js")
    assert sorted(p.name for p in (small_disk / "assets").iterdir()) == []


# --------------------------------------------------------------------------- read-only


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only tmpfs holding a previous report, when this machine lets us mount one."""
    point = tmp_path / "ro"
    if not _mount(point, "size=1m"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    previous = point / "report"
    previous.mkdir()
    (previous / "index.html").write_text("the previous report")
    fileio.write_marker(previous, "report")
    remount = ["mount", "-o", "remount,ro", str(point)]
    if subprocess.run(remount, capture_output=True, check=False).returncode != 0:
        subprocess.run(["umount", "-l", str(point)], check=False)
        pytest.skip("cannot remount the tmpfs read-only")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.parametrize(
    "args",
    [
        ("report", "run.npz", "--out", "{ro}/report"),
        ("report", "run.npz", "--out", "{ro}/new/report"),
        ("assets", "{ro}/assets"),
        ("export", "run.npz", "--format", "json", "--out", "{ro}/map.json"),
        ("build", "--out", "{ro}/site"),
    ],
)
def test_a_read_only_folder_is_one_line(
    read_only: Path, project: Path, args: tuple[str, ...]
) -> None:
    _dump(project)
    before = tree_digest(read_only)
    result = run_cli(*(a.format(ro=read_only) for a in args), cwd=project)
    line = assert_one_line_exit_2(result, str(read_only))
    assert "read-only" in line.lower() or "not writable" in line, line
    assert "computed" not in result.stderr  # refused before the work
    assert tree_digest(read_only) == before


def test_an_assets_folder_that_cannot_be_made_fails_before_the_bundle_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attention_atlas.charts import browser

    def never() -> str:
        raise AssertionError("the Vega bundle (over a second) was made for nothing")

    monkeypatch.setattr(browser, "vega_bundle", never)
    (tmp_path / "a-file").write_text("not a folder")
    dest = tmp_path / "a-file" / "assets"
    assert cli.main(["assets", str(dest)]) == 2
    line = _one_error_line(capsys)
    assert str(dest) in line and "not a directory" in line.lower(), line


def test_an_os_error_anywhere_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def vanished(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/srv/docs/site_src/x.md")

    monkeypatch.setattr(build, "build", vanished)
    assert cli.main(["build"]) == 2
    line = _one_error_line(capsys)
    assert line == "error: /srv/docs/site_src/x.md: the file system is read-only"


def test_missing_parent_folders_are_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["assets", "a/b/c"]) == 0
    assert (tmp_path / "a" / "b" / "c" / "atlas-charts.js").is_file()


# --------------------------------------------------------------------------- serve's port


def test_a_busy_port_is_refused_before_building(project: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "attention_atlas", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=project,
            timeout=120,
            check=False,
        )
    assert_one_line_exit_2(result, f"--port {port}", "in use")
    assert not (project / "site").exists()
    assert not (project / "site_src" / "index.md").exists()  # nothing was built


@pytest.mark.parametrize("port", ["70000", "-1", "65536", "http", "8o8o"])
def test_an_invalid_port_is_one_line(project: Path, port: str) -> None:
    result = run_cli("serve", "--port", port, cwd=project)
    assert_one_line_exit_2(result, "--port", repr(port), "1 to 65535")
    assert not (project / "site").exists()


# --------------------------------------------------------------------------- templates


@pytest.fixture
def templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An editable copy of the templates, used by the one environment."""
    folder = tmp_path / "templates"
    shutil.copytree(templating.templates_dir(), folder)
    monkeypatch.setattr(templating, "templates_dir", lambda: folder)
    templating.environment.cache_clear()
    yield folder
    templating.environment.cache_clear()


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ("line one\nline two\n{% if %}\n", ("index.md.j2:3", "template syntax error")),
        ("{% for x in y %}\nno end\n", ("index.md.j2:", "template syntax error", "endfor")),
        ("fine\n{{ no_such_name }}\n", ("index.md.j2:2", "no_such_name")),
        ('{% include "missing.md.j2" %}\n', ("missing.md.j2", "not found")),
    ],
)
def test_a_broken_template_names_its_file_and_line(
    templates: Path,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: str,
    words: tuple[str, ...],
) -> None:
    (templates / "index.md.j2").write_text(broken)
    monkeypatch.chdir(project)
    assert cli.main(["build", "--check"]) == 2
    line = _one_error_line(capsys)
    for word in words:
        assert word in line, line


# --------------------------------------------------------------------------- permissions


def _run_with_umask(mask: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attention_atlas", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        preexec_fn=lambda: os.umask(mask),
        check=False,
    )


#: Runs each command of argv[1:] (JSON lists of arguments) through the program's entry
#: point, as its console script does, in one process; exits with the first failing code.
_COMMANDS = """
import json, sys
from attention_atlas import cli
for args in sys.argv[1:]:
    sys.argv = ["attention-atlas", *json.loads(args)]
    if code := cli.main():
        sys.exit(code)
"""


def _commands_with_umask(
    mask: int, *commands: tuple[str, ...], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``commands`` in one process started with ``mask``, one after the other."""
    return subprocess.run(
        [sys.executable, "-c", _COMMANDS, *(json.dumps(c) for c in commands)],
        capture_output=True,
        text=True,
        cwd=cwd,
        preexec_fn=lambda: os.umask(mask),
        check=False,
    )


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    """This process's umask set to ``mask`` for a while (and read again by fileio, which
    reads it once a process)."""
    before = os.umask(mask)
    fileio.umask.cache_clear()
    try:
        yield
    finally:
        os.umask(before)
        fileio.umask.cache_clear()


def _wrong_modes(tree: Path, mask: int) -> list[str]:
    """Paths below ``tree`` (and itself) whose mode is not what ``mask`` gives."""
    wrong = []
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != want:
            wrong.append(f"{path.relative_to(tree)}: {mode:o} (want {want:o})")
    return wrong


@pytest.mark.slow
@pytest.mark.parametrize("mask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_reports_assets_and_exports_follow_the_umask(tmp_path: Path, mask: int) -> None:
    _dump(tmp_path)
    result = _commands_with_umask(
        mask,
        ("report", "run.npz", "--out", "deep/er/report"),
        ("assets", "assets"),
        ("export", "run.npz", "--format", "json", "--out", "map.json"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert _wrong_modes(tmp_path / "deep", mask) == []
    assert _wrong_modes(tmp_path / "assets", mask) == []
    assert _wrong_modes(tmp_path / "map.json", mask) == []


def test_unchanged_files_of_an_earlier_version_get_readable(tmp_path: Path) -> None:
    """Files an earlier version left 0600 are made readable even when their bytes stay."""
    dest = str(tmp_path / "assets")
    with _umask(0o022):
        assert cli.main(["assets", dest]) == 0
        for path in (tmp_path / "assets").iterdir():
            path.chmod(0o600)
        mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "assets").iterdir()}
        assert cli.main(["assets", dest]) == 0
    assert _wrong_modes(tmp_path / "assets", 0o022) == []
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "assets").iterdir()} == mtimes


@pytest.mark.parametrize("mask", [0o022, 0o077], ids=["umask-022", "umask-077"])
def test_the_built_site_follows_the_umask(built_site: Path, tmp_path: Path, mask: int) -> None:
    root = tmp_path / "copy"
    shutil.copytree(built_site, root, ignore=shutil.ignore_patterns("site"))
    result = _run_with_umask(mask, "build", "--out", "public/site", cwd=root)
    assert result.returncode == 0, result.stderr
    assert _wrong_modes(root / "public", mask) == []


@pytest.mark.parametrize("message", ["", "   ", "first line\nsecond line\n"])
def test_an_error_message_is_never_empty_and_always_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    def failing(*args: object, **kwargs: object) -> None:
        raise ShapeError(message)

    monkeypatch.setattr(build, "build", failing)
    assert cli.main(["build"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("error: ") and len(line) > len("error: ") + 3, line
    assert ("ShapeError" in line) == (not message.strip()), line
