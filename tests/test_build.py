"""The build: pages from scenarios, cache, --check, determinism and atomic output."""

from __future__ import annotations

import gzip
import html
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from attention_atlas import build, fileio, publish
from attention_atlas.errors import AtlasError
from attention_atlas.scenarios import all_scenarios
from tests.conftest import copy_project


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_every_scenario_has_a_page_in_the_built_site(built_site: Path) -> None:
    site = built_site / "site"
    assert (site / "index.html").is_file()
    for scenario in all_scenarios():
        page = site / "tutorial" / f"{scenario.slug}.html"
        assert page.is_file(), f"{scenario.slug}: no page in the built site"
        assert scenario.title in html.unescape(page.read_text(encoding="utf-8"))


def _nav_pages(entries: object) -> list[str]:
    """Every page path in a MkDocs nav, in order."""
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return []


def test_nav_lists_every_scenario_in_order() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).parents[1] / "mkdocs.yml").read_text())
    tutorial = [p for p in _nav_pages(config["nav"]) if p.startswith("tutorial/")]
    assert tutorial == [s.page_path for s in all_scenarios()]


def test_unchanged_rebuild_comes_from_the_cache(built_site: Path) -> None:
    report = build.build(built_site, check=True)
    assert {p.source for p in report.pages} == {"cached"}
    assert report.stale == []


def test_check_finds_a_stale_page_and_writes_nothing(tmp_path: Path, built_site: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(built_site, root, ignore=shutil.ignore_patterns("site"))
    page = root / "site_src" / all_scenarios()[0].page_path
    page.write_text(page.read_text(encoding="utf-8") + "\nedited by hand\n", encoding="utf-8")
    before = _tree(root / "site_src")
    report = build.build(root, check=True)
    assert report.stale == [all_scenarios()[0].page_path]
    assert _tree(root / "site_src") == before


_INDEX_SCRIPT = "search/search_index.js"


def _without_measured(tree: dict[str, bytes]) -> dict[str, bytes]:
    """``tree`` without what machine-dependent pages hold (times measured by the build).

    Their Markdown and HTML are dropped, and their entries of the search index.
    """
    slugs = [s.slug for s in all_scenarios() if s.machine_dependent]
    kept = {name: data for name, data in tree.items() if not any(x in name for x in slugs)}
    index = "search/search_index.json"
    if index in kept and slugs:
        docs = json.loads(kept[index])
        docs["docs"] = [
            d
            for d in docs["docs"]
            if not any(d["location"].startswith(f"tutorial/{x}.html") for x in slugs)
        ]
        kept[index] = json.dumps(docs, sort_keys=True).encode()
        kept.pop(_INDEX_SCRIPT, None)  # the same index as a script
    if fileio.MARKER in kept and slugs:
        # The marker holds every file's hash and the inputs' stamp, measured pages included.
        marker = json.loads(kept[fileio.MARKER])
        marker["files"] = {
            name: value
            for name, value in marker["files"].items()
            if not any(x in name for x in slugs) and name not in (index, _INDEX_SCRIPT)
        }
        marker.pop("stamp")
        kept[fileio.MARKER] = json.dumps(marker, sort_keys=True).encode()
    return kept


_SITEMAP = "sitemap.xml"


def _undated(tree: dict[str, bytes]) -> dict[str, bytes]:
    """``tree`` without the build's date, which MkDocs writes into the sitemap (each
    page's ``lastmod``, and the gzip header's time), so builds a day apart compare."""
    kept = dict(tree)
    if _SITEMAP in kept:
        kept[_SITEMAP] = re.sub(rb"<lastmod>[^<]*</lastmod>", b"", kept[_SITEMAP])
    if f"{_SITEMAP}.gz" in kept:
        kept[f"{_SITEMAP}.gz"] = re.sub(
            rb"<lastmod>[^<]*</lastmod>", b"", gzip.decompress(kept[f"{_SITEMAP}.gz"])
        )
    if fileio.MARKER in kept:
        marker = json.loads(kept[fileio.MARKER])
        for name in (_SITEMAP, f"{_SITEMAP}.gz"):
            marker["files"].pop(name, None)
        kept[fileio.MARKER] = json.dumps(marker, sort_keys=True).encode()
    return kept


@pytest.mark.slow  # a second build of every page, computed again
def test_two_builds_give_identical_bytes(
    tmp_path: Path, built_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte for byte, but for the pages that show measurements (each build measures anew)
    and the build's date in the sitemap: the second build runs a day later."""
    root = copy_project(tmp_path / "again")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(time.time()) + 86_400))
    build.build(root, force=True)
    for folder in ("site_src", "site"):
        first = _undated(_without_measured(_tree(built_site / folder)))
        second = _undated(_without_measured(_tree(root / folder)))
        assert first.keys() == second.keys()
        differing = [name for name in first if first[name] != second[name]]
        assert differing == [], f"{folder}: these files differ between builds: {differing}"


def test_a_measured_page_is_rebuilt_from_the_cache_with_the_same_bytes(
    built_site: Path, tmp_path: Path
) -> None:
    measured = [s for s in all_scenarios() if s.machine_dependent]
    if not measured:
        pytest.skip("built with ATLAS_MEASURE=0: no page measures")
    assert [s.slug for s in measured] == ["efficient-attention"]
    page = built_site / "site_src" / measured[0].page_path
    before = page.read_bytes()
    assert b"Measured on the build machine" in before
    root = tmp_path / "copy"
    shutil.copytree(built_site, root, ignore=shutil.ignore_patterns("site"))
    report = build.build(root, only=[measured[0].slug])
    assert [p.source for p in report.pages] == ["cached"]
    assert (root / "site_src" / measured[0].page_path).read_bytes() == before


def test_failing_build_leaves_the_previous_site_intact(
    tmp_path: Path, built_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(built_site, root)
    before = _tree(root / "site")

    def broken(config_file: Path, site_dir: Path, **options: object) -> None:
        (site_dir / "half-written.html").write_text("partial", encoding="utf-8")
        raise AtlasError(f"{config_file}: mkdocs build --strict failed: simulated")

    monkeypatch.setattr(publish, "run_mkdocs", broken)
    with pytest.raises(AtlasError, match="simulated"):
        build.build(root)
    assert _tree(root / "site") == before
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".site")]
    assert leftovers == [".site.lock"]  # the lock file stays; no staging folder does


def test_missing_project_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match=r"mkdocs\.yml"):
        build.build(tmp_path)


def test_only_builds_the_named_scenario_and_fills_missing_pages(cached_project: Path) -> None:
    """The missing pages come from the cache (as they do for a user who built before)."""
    slug = all_scenarios()[0].slug
    report = build.build(cached_project, only=[slug])
    assert {p.path for p in report.pages} == {s.page_path for s in all_scenarios()}
    for scenario in all_scenarios():
        assert (cached_project / "site_src" / scenario.page_path).is_file(), scenario.slug
        assert (cached_project / "site" / "tutorial" / f"{scenario.slug}.html").is_file()
    report = build.build(cached_project, only=[slug], force=True)
    assert [(p.path, p.source) for p in report.pages] == [
        (all_scenarios()[0].page_path, "computed")
    ]


def test_page_over_the_budget_is_an_error_naming_it() -> None:
    from attention_atlas.charts import Figure

    # The budget counts the figures' specs as the page writes them, not the page text.
    figures = [Figure({"mark": "rect", "description": "x" * 980}, caption=c) for c in "ab"]
    size = 2 * len('{"description":"' + "x" * 980 + '","mark":"rect"}')
    assert build.inline_chart_bytes(figures) == size
    build.check_budget("tutorial/small.md", figures, limit=size)
    with pytest.raises(AtlasError, match=r"tutorial/big\.md: carries 0\.00 MB"):
        build.check_budget("tutorial/big.md", figures, limit=size - 1)


def test_unwritable_out_fails_before_any_page_is_computed(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    seen: list[str] = []
    with pytest.raises(AtlasError, match=r"a-file is a file, not a folder"):
        build.build(project, out=blocker / "site", progress=lambda o: seen.append(o.path))
    assert seen == []
    with pytest.raises(AtlasError, match="exists and is not a folder"):
        build.build(project, out=blocker)
