"""Caches are checked, not trusted: damaged pages and site files are rebuilt, never published."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attention_atlas import build, fileio
from attention_atlas.errors import AtlasError
from attention_atlas.scenarios import all_scenarios
from tests.conftest import run_cli
from tests.test_output_folders import tree_digest


@given(st.text(max_size=200), st.data())
def test_a_sealed_page_opens_only_whole(text: str, data: st.DataObject) -> None:
    sealed = build.seal(text)
    assert build.unseal(sealed) == text
    cut = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    assert build.unseal(sealed[:cut]) is None  # any truncation is caught
    flip = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    damaged = sealed[:flip] + bytes([sealed[flip] ^ 0x01]) + sealed[flip + 1 :]
    assert build.unseal(damaged) is None  # any flipped bit is caught


@given(st.binary(max_size=300))
def test_random_bytes_are_never_a_cached_page(raw: bytes) -> None:
    assert build.unseal(raw) is None


@pytest.fixture
def copy(built_site: Path, tmp_path: Path) -> Path:
    """A copy of the built project, its cache and its site."""
    root = tmp_path / "copy"
    shutil.copytree(built_site, root, symlinks=True)
    return root


def _entry(root: Path, slug: str) -> Path:
    (entry,) = (root / ".atlas-cache" / "pages").glob(f"{slug}-*.md")
    return entry


def test_a_truncated_cached_page_is_recomputed_not_published(copy: Path) -> None:
    scenario = all_scenarios()[0]
    page = copy / "site_src" / scenario.page_path
    good = page.read_bytes()
    entry = _entry(copy, scenario.slug)
    half = entry.read_bytes()[: entry.stat().st_size // 2]
    entry.write_bytes(half)
    page.write_bytes(good[: len(good) // 2])  # as an earlier version published it
    report = build.build(copy, check=True)
    assert scenario.page_path in report.stale  # the half page on disk is stale
    assert entry.read_bytes() == half  # --check wrote nothing back
    report = build.build(copy)
    outcome = next(p for p in report.pages if p.path == scenario.page_path)
    assert outcome.source == "computed"
    assert page.read_bytes() == good
    assert build.unseal(entry.read_bytes()) == good.decode()  # the cache is whole again


def test_garbled_stamps_and_markers_mean_rebuild(copy: Path) -> None:
    site = copy / "site"
    (copy / ".atlas-cache" / "site-stamp").write_bytes(os.urandom(64) + b"\xff\xfe\x00")
    (site / fileio.MARKER).write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    result = run_cli("build", cwd=copy)
    assert result.returncode == 0, result.stderr
    assert fileio.read_marker(site)["kind"] == "site"  # rebuilt, with a good marker


def test_a_deleted_or_damaged_site_file_comes_back(copy: Path) -> None:
    site = copy / "site"
    build.build(copy)  # the copy's own site (its stamp names this folder)
    charts = site / "assets" / "atlas" / "atlas-charts.js"
    good = charts.read_bytes()
    index = site / "index.html"
    index_good = index.read_bytes()
    charts.unlink()
    index.write_bytes(index_good[:100])
    build.build(copy)
    assert charts.read_bytes() == good
    assert index.read_bytes() == index_good


def test_an_intact_site_is_not_rebuilt(copy: Path) -> None:
    build.build(copy)
    site = copy / "site"
    inode = site.stat().st_ino
    build.build(copy)
    assert site.stat().st_ino == inode  # the same folder: nothing was swapped


def test_check_writes_nothing_at_all(copy: Path, project: Path) -> None:
    """Not a cache entry, an asset or a folder: the whole tree hashes the same."""
    shutil.rmtree(copy / "site")
    _entry(copy, all_scenarios()[0].slug).unlink()  # one page must be computed
    (copy / "site_src" / "assets" / "atlas" / "atlas-charts.js").unlink()
    before = tree_digest(copy)
    build.build(copy, check=True)
    assert tree_digest(copy) == before, "--check wrote something"
    before = tree_digest(project)  # a fresh project, with no cache at all
    build.build(project, check=True, only=[all_scenarios()[0].slug])
    assert tree_digest(project) == before, "--check wrote something"
    assert not (project / ".atlas-cache").exists()


def test_check_exit_code_for_a_damaged_page(copy: Path) -> None:
    page = copy / "site_src" / all_scenarios()[-1].page_path
    page.write_bytes(page.read_bytes()[:-500])
    result = run_cli("build", "--check", cwd=copy)
    assert result.returncode == 1, result.stderr
    assert f"stale: site_src/{all_scenarios()[-1].page_path}" in result.stderr


@pytest.mark.parametrize("how", ["folder", "file"])
def test_an_unusable_cache_is_one_line_exit_2(copy: Path, how: str) -> None:
    scenario = all_scenarios()[0]
    entry = _entry(copy, scenario.slug)
    if how == "folder":
        entry.unlink()
        entry.mkdir()  # the entry's name is taken by a folder: it can be neither read nor written
        named = str(entry)
    else:
        shutil.rmtree(copy / ".atlas-cache")
        (copy / ".atlas-cache").write_text("not a folder")
        named = ".atlas-cache"
    before = tree_digest(copy / "site")
    result = run_cli("build", "--only", scenario.slug, "--force", cwd=copy)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert named in errors[0] and "delete .atlas-cache/" in errors[0], errors[0]
    assert tree_digest(copy / "site") == before


def test_an_unreadable_cache_entry_names_it(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _entry(copy, all_scenarios()[0].slug)
    real = Path.read_bytes

    def denied(path: Path) -> bytes:
        if path == entry:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(AtlasError, match=rf"{entry.name}: cannot use the build cache"):
        build.build(copy, check=True)


def test_the_vega_bundle_is_made_again_only_when_it_is_not_vouched_for(
    counted_bundles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write_assets as a new command runs it: the bundle comes from the user's cache
    while the cache vouches for it, and is made again when it does not."""
    from attention_atlas.charts import browser
    from attention_atlas.render import assets

    dest = tmp_path / "assets"
    bundle = dest / "vega-embed.js"

    def write(made: int, shows: int | None = None) -> str:
        """Write the assets; ``made``: how many bundles were made so far; ``shows``: the
        one written (the newest unless said)."""
        browser.vega_bundle.cache_clear()  # a new command keeps nothing in memory
        assets.write_assets(dest)
        text = bundle.read_text(encoding="utf-8")
        assert len(counted_bundles) == made
        assert counted_bundles[-1 if shows is None else shows] in text
        return text

    first = write(made=1)
    mtime = bundle.stat().st_mtime_ns
    assert write(made=1) == first  # intact: kept, not made again, file not rewritten
    assert bundle.stat().st_mtime_ns == mtime
    bundle.write_text(first.replace("bundle0", "bundle9"), encoding="utf-8")  # edited copy
    assert write(made=1) == first  # put back from the cache
    (cached,) = (tmp_path / "cache" / "vega").glob("*/vega-embed.js")
    cached.write_text(first.replace("bundle0", "bundle9"), encoding="utf-8")  # edited cache
    write(made=2)
    installed = browser._bundle_source
    monkeypatch.setattr(browser, "_bundle_source", lambda: "vl-convert-python 0.0.1")
    write(made=3)  # another release installed: its own bundle
    monkeypatch.setattr(browser, "_bundle_source", installed)
    write(made=3, shows=1)  # back to the installed release, whose bundle is still kept
    cached.unlink()
    write(made=4)  # missing
    cached.write_text(cached.read_text(encoding="utf-8") + "// more", encoding="utf-8")
    write(made=5)  # another size: not read, made again
