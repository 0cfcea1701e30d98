"""Output folders the package did not make are never touched (refused with exit 2, one line)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from attention_atlas import build, fileio, publish
from attention_atlas.dumps import report as report_module
from attention_atlas.errors import AtlasError
from attention_atlas.render import assets, templating
from tests.conftest import ROOT, copy_project, run_cli


def tree_digest(folder: Path) -> str:
    """One hash of every path, file mode and byte below ``folder`` (and of ``folder``)."""
    hashed = hashlib.sha256()
    for path in sorted([folder, *folder.rglob("*")]):
        hashed.update(str(path.relative_to(folder)).encode())
        if path.is_symlink():
            hashed.update(b"->" + str(path.readlink()).encode())
        elif path.is_file():
            hashed.update(path.read_bytes())
    return hashed.hexdigest()


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A project as a contributor has it: a git repository with pyproject.toml and sources."""
    root = copy_project(tmp_path / "clone")
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "generator").mkdir()
    (root / "generator" / "precious.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_build_out_dot_in_a_clone_exits_2_and_deletes_nothing(clone: Path) -> None:
    before = tree_digest(clone)
    line = assert_one_line_exit_2(
        run_cli("build", "--out", ".", cwd=clone), "project folder", ".git", "pyproject.toml"
    )
    assert "choose" in line  # says what to do
    assert tree_digest(clone) == before


@pytest.mark.parametrize(
    ("out", "words"),
    [
        ("site_src", ("docs folder",)),
        ("templates", ("templates folder",)),
        ("..", ("contains the project folder",)),
        ("generator", ("not an attention-atlas site", "precious.py")),
        (".git", ("not an attention-atlas site",)),
        ("site_src/built", ("inside the docs folder",)),
        ("/", ("filesystem root",)),
    ],
)
def test_build_refuses_the_project_and_its_parts(
    clone: Path, out: str, words: tuple[str, ...]
) -> None:
    before = tree_digest(clone)
    result = run_cli("build", "--out", out, cwd=clone)
    assert_one_line_exit_2(result, "--out", *words)
    assert "computed" not in result.stderr  # refused before any page is computed
    assert tree_digest(clone) == before


def test_home_folder_is_refused_even_when_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(AtlasError, match="your home folder"):
        publish.check_out(home)
    with pytest.raises(AtlasError, match="your home folder"):
        assets.write_assets(home)
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("source", [".git", "pyproject.toml"])
def test_a_source_tree_is_refused_even_with_a_marker(tmp_path: Path, source: str) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / source).write_text("")
    fileio.write_marker(folder, "site")
    with pytest.raises(AtlasError, match=rf"holds .*{source}.*source tree"):
        publish.check_out(folder)
    with pytest.raises(AtlasError, match="source tree"):
        assets.write_assets(folder)


def test_a_foreign_folder_is_described_and_the_fix_named(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "d.txt", "README.md"):
        (folder / name).write_text("keep")
    with pytest.raises(AtlasError) as caught:
        publish.check_out(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert "holds 5 entries, among them README.md" in message
    assert "choose a new or empty folder" in message
    assert all(p.read_text() == "keep" for p in folder.iterdir())


def test_symlinks_are_resolved_before_deciding(clone: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent"
    link.symlink_to(clone)
    before = tree_digest(clone)
    assert_one_line_exit_2(run_cli("build", "--out", str(link), cwd=clone), "project folder")
    assert_one_line_exit_2(run_cli("assets", str(link), cwd=tmp_path), "source tree")
    assert tree_digest(clone) == before


def test_new_empty_and_marked_folders_are_accepted(tmp_path: Path) -> None:
    assert publish.check_out(tmp_path / "new") == "absent"
    (tmp_path / "empty").mkdir()
    assert publish.check_out(tmp_path / "empty") == "empty"
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / "index.html").write_text("old site")
    fileio.write_marker(marked, "site")
    assert publish.check_out(marked) == "ours"
    legacy_report = tmp_path / "legacy-report"
    legacy_report.mkdir()
    (legacy_report / "index.html").write_text("report of an earlier version")
    (legacy_report / ".attention-atlas-report").write_text('{"source": "run.npz"}\n')
    assert publish.check_out(legacy_report, kind="report", looks_ours=None) == "ours"


def test_every_whole_folder_gets_the_marker(built_site: Path, tmp_path: Path) -> None:
    site = fileio.read_marker(built_site / "site")
    assert (site["tool"], site["kind"]) == ("attention-atlas", "site")
    docs_assets = fileio.read_marker(built_site / "site_src" / "assets" / "atlas")
    assert docs_assets["kind"] == "assets"
    assets.write_assets(tmp_path / "assets")
    assert fileio.read_marker(tmp_path / "assets")["kind"] == "assets"
    assert report_module.MARKER == fileio.MARKER  # one marker scheme


def _legacy_site(built_site: Path, dest: Path) -> Path:
    """The built site as an earlier version left it: the same files, no marker."""
    shutil.copytree(built_site / "site", dest)
    (dest / fileio.MARKER).unlink()
    return dest


def test_a_site_built_before_markers_is_recognised(built_site: Path, tmp_path: Path) -> None:
    legacy = _legacy_site(built_site, tmp_path / "site")
    assert publish.looks_like_our_site(legacy)
    assert publish.check_out(legacy) == "legacy"


@pytest.mark.parametrize(
    "foreign", [".git/HEAD", "thesis.docx", "notes/draft.odt", ".env", "bin/run.sh"]
)
def test_a_legacy_site_with_foreign_content_is_refused(
    built_site: Path, tmp_path: Path, foreign: str
) -> None:
    legacy = _legacy_site(built_site, tmp_path / "site")
    (legacy / foreign).parent.mkdir(parents=True, exist_ok=True)
    (legacy / foreign).write_text("mine")
    assert not publish.looks_like_our_site(legacy)
    before = tree_digest(legacy)
    with pytest.raises(AtlasError, match=r"holds \d+ entries.*choose a new or empty folder"):
        publish.check_out(legacy)
    assert tree_digest(legacy) == before


def test_a_legacy_site_is_adopted_and_replaced(
    built_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _legacy_site(built_site, tmp_path / "site")

    def tiny_site(config_file: Path, site_dir: Path) -> None:
        (site_dir / "index.html").write_text("new")

    monkeypatch.setattr(publish, "run_mkdocs", tiny_site)
    with publish.publishing(out) as staging:
        publish.run_mkdocs(Path("mkdocs.yml"), staging)
    assert (out / "index.html").read_text() == "new"
    assert fileio.read_marker(out)["files"].keys() == {"index.html"}


def test_assets_refuse_a_foreign_folder_and_adopt_an_earlier_one(tmp_path: Path) -> None:
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "index.md").write_text("# mine")
    before = tree_digest(foreign)
    assert_one_line_exit_2(run_cli("assets", "docs", cwd=tmp_path), "docs", "index.md")
    assert tree_digest(foreign) == before
    earlier = tmp_path / "atlas"
    earlier.mkdir()
    (earlier / "atlas.css").write_text("/* an earlier version's */")
    assert assets.write_assets(earlier)[-1] == "atlas.css"
    assert (earlier / "atlas.css").read_text() == assets.asset_texts()["atlas.css"]
    assert fileio.read_marker(earlier)["kind"] == "assets"


def test_report_out_is_guarded_like_the_site(clone: Path) -> None:
    weights = np.full((2, 3, 3), 1 / 3)
    np.savez(clone / "run.npz", attention=weights, tokens=np.array(["a", "b", "c"]))
    before = tree_digest(clone)
    cases = {
        ".": "the current folder",
        "site_src": "not an attention-atlas report",
        str(Path.home()): "your home folder",
    }
    for out, words in cases.items():
        assert_one_line_exit_2(run_cli("report", "run.npz", "--out", out, cwd=clone), words)
    assert tree_digest(clone) == before


def test_templates_dir_of_the_package_is_protected(project: Path) -> None:
    with pytest.raises(AtlasError, match="templates folder"):
        build.build(project, out=templating.templates_dir())


def test_marker_is_json_naming_the_tool(tmp_path: Path) -> None:
    fileio.write_marker(tmp_path, "report", source="run.npz")
    data = json.loads((tmp_path / fileio.MARKER).read_text())
    assert data["tool"] == "attention-atlas"
    assert data["kind"] == "report"
    assert data["source"] == "run.npz"
    (tmp_path / fileio.MARKER).write_bytes(b"\xff\xfe garbage \x00")
    assert fileio.read_marker(tmp_path) == {}  # garbled: not trusted, never a crash
    assert fileio.has_marker(tmp_path)  # but the folder is still ours
