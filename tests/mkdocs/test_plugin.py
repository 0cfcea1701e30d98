"""The ``attention-atlas`` MkDocs plugin on a third-party site (built in this process)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from mkdocs.config import load_config

from attention_atlas.errors import AtlasError
from attention_atlas.mkdocs.fence import FENCE_NAME, fence_format
from attention_atlas.mkdocs.plugin import SUPERFENCES, register_fence
from attention_atlas.publish import run_mkdocs

FIXTURE = Path(__file__).parent / "fixture_site"


def fixture_copy(tmp_path: Path) -> Path:
    site = tmp_path / "fixture_site"
    shutil.copytree(FIXTURE, site)
    return site


def scripts(page: str) -> list[str]:
    return re.findall(r'<script src="([^"]+)"', page)


def test_register_fence_adds_superfences_when_missing(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nmarkdown_extensions: [admonition]\n")
    config = load_config(str(tmp_path / "mkdocs.yml"))
    register_fence(config)
    assert SUPERFENCES in config.markdown_extensions
    fences = config.mdx_configs[SUPERFENCES]["custom_fences"]
    assert [f["name"] for f in fences] == [FENCE_NAME]
    assert fences[0]["format"] is fence_format


def test_register_fence_keeps_other_fences_and_is_idempotent() -> None:
    config = load_config(str(FIXTURE / "mkdocs.yml"))
    register_fence(config)
    register_fence(config)
    names = [f["name"] for f in config.mdx_configs[SUPERFENCES]["custom_fences"]]
    assert names == ["mermaid", "note", FENCE_NAME]
    assert config.markdown_extensions.count(SUPERFENCES) == 1


def test_fixture_site_builds_strict_with_both_fences(tmp_path: Path) -> None:
    site = fixture_copy(tmp_path)
    out = tmp_path / "built"
    run_mkdocs(site / "mkdocs.yml", out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('class="atlas-') >= 2
    assert "<code>attention" not in page and "scenario: multi-head" not in page
    assert '<div class="site-note">' in page  # the site's own fence still works
    assert "<b>the</b>" not in page  # a token label of the dump, escaped
    # assets: written into the site and loaded by the page, after Material's bundle
    atlas = [s for s in scripts(page) if s.startswith("assets/atlas/")]
    assert atlas, scripts(page)
    for src in atlas:
        assert (out / src).is_file()
    assert scripts(page).index(atlas[0]) > 0
    css = re.findall(r'<link rel="stylesheet" href="(assets/atlas/[^"]+)"', page)
    assert css and all((out / c).is_file() for c in css)
    assert not re.search(r'src="(https?:)?//', page)  # nothing loaded from elsewhere
    assert not re.search(r'<link(?![^>]*rel="canonical")[^>]+href="(https?:)?//', page)


def test_a_bad_fence_fails_the_build_naming_page_and_option(tmp_path: Path) -> None:
    site = fixture_copy(tmp_path)
    extra = site / "docs" / "more.md"
    extra.write_text("# More\n\n```attention\nfile: data/tiny.npz\nlayr: 1\n```\n")
    with pytest.raises(AtlasError) as info:
        run_mkdocs(site / "mkdocs.yml", tmp_path / "built")
    message = str(info.value)
    assert "attention fence in more.md: unknown option 'layr'" in message


def test_assets_option_off_ships_nothing(tmp_path: Path) -> None:
    site = fixture_copy(tmp_path)
    config = site / "mkdocs.yml"
    config.write_text(
        config.read_text().replace(
            "  - attention-atlas\n", "  - attention-atlas:\n      assets: false\n"
        )
    )
    out = tmp_path / "built"
    run_mkdocs(config, out)
    assert not (out / "assets" / "atlas").exists()
    assert not [s for s in scripts((out / "index.html").read_text()) if "atlas" in s]


def test_plugin_less_setup_from_the_guide_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's YAML, pasted into a site without the plugin (the Zensical set-up)."""
    from attention_atlas.cli import main

    guide = (
        Path(__file__).resolve().parents[2] / "site_src" / "guides" / "embedding.md"
    ).read_text()
    (snippet,) = [
        block
        for block in re.findall(r"^```yaml\n(.*?)^```$", guide, flags=re.S | re.M)
        if "custom_fences" in block
    ]
    snippet = re.sub(r"^  - attention-atlas\b.*\n", "", snippet, flags=re.M)  # no plugin
    site = fixture_copy(tmp_path)
    (site / "mkdocs.yml").write_text(
        "site_name: No plugin\ndocs_dir: docs\nstrict: true\n"
        "theme:\n  name: material\n  font: false\n" + snippet
    )
    shutil.rmtree(site / "docs" / "guide")
    (site / "docs" / "index.md").write_text(
        "# No plugin\n\n```attention\nfile: docs/data/tiny.npz\nhead: 1\n```\n"
    )
    monkeypatch.chdir(site)
    assert main(["assets", "docs/assets/atlas"]) == 0
    run_mkdocs(site / "mkdocs.yml", tmp_path / "built")
    page = (tmp_path / "built" / "index.html").read_text(encoding="utf-8")
    assert page.count('class="atlas-chart"') == 1
    for src in [s for s in scripts(page) if "atlas" in s]:
        assert (tmp_path / "built" / src).is_file()
    assert len([s for s in scripts(page) if "atlas" in s]) == 3
