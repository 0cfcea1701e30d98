"""The fixture site, a third-party MkDocs-Material site, in headless Chromium: built by
MkDocs with the plugin and by Zensical with the embedding guide's plugin-less set-up.

The site has its own nav, Mermaid through superfences, admonitions, content tabs,
instant navigation and the light/dark toggle. Every chart of every page must be drawn
with the marks its spec asks for, in light and in dark, after an instant navigation
and in the Zensical build, with no request leaving 127.0.0.1 (the browser resolves
no other host).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas.publish import run_mkdocs
from tests.browser._browser import (
    DESKTOP,
    DRAW_TIMEOUT_MS,
    Watch,
    chart_problems,
    chart_states,
    hover_tooltip,
    in_ci,
    launch_chromium,
    local_origins,
    route_origin,
    serve,
    toggle_scheme,
    wait_for_charts,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURE = Path(__file__).parent / "fixture_site"
GUIDE = Path(__file__).resolve().parents[2] / "site_src" / "guides" / "embedding.md"

#: The fixture's ``site_url`` origin: pages opened there get Material's instant navigation.
ORIGIN = "http://127.0.0.1:8000"

SCHEME = "() => document.body.getAttribute('data-md-color-scheme')"
MARK_DOCUMENT = "() => { window.__atlasSameDocument = true; }"
SAME_DOCUMENT = "() => window.__atlasSameDocument === true"


def zensical_config(site: Path) -> str:
    """The fixture's ``mkdocs.yml`` with the guide's plugin-less set-up pasted in.

    The fence entry goes under the site's own ``custom_fences`` and the asset paths
    the guide lists under ``extra_javascript``/``extra_css``; the plugin line stays
    (MkDocs runs it, Zensical skips it).
    """
    guide = GUIDE.read_text(encoding="utf-8")
    (snippet,) = [
        block
        for block in re.findall(r"^```yaml\n(.*?)^```$", guide, flags=re.S | re.M)
        if "custom_fences" in block and "extra_javascript" in block
    ]
    fence = re.search(r"^(( *)- name: attention\n(?:\2  .*\n)*)", snippet, flags=re.M)
    assert fence is not None, snippet
    scripts = re.findall(r"assets/atlas/[\w.-]+\.js", snippet)
    styles = re.findall(r"assets/atlas/[\w.-]+\.css", snippet)
    text = (site / "mkdocs.yml").read_text(encoding="utf-8")
    indent = re.search(r"^( *)custom_fences:\n( *)-", text, flags=re.M)
    assert indent is not None
    lines = fence.group(1).splitlines()
    shift = len(indent.group(2)) - (len(lines[0]) - len(lines[0].lstrip()))
    entry = "".join(" " * shift + line + "\n" for line in lines)
    text = text.replace("custom_fences:\n", "custom_fences:\n" + entry, 1)
    text = text.replace(
        "extra_javascript:\n", "extra_javascript:\n" + "".join(f"  - {s}\n" for s in scripts), 1
    )
    return text + "extra_css:\n" + "".join(f"  - {s}\n" for s in styles)


def zensical_build(site: Path) -> subprocess.CompletedProcess[str]:
    """``zensical build --clean`` of ``site`` (its ``zensical.yml``), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "zensical", "build", "--clean", "-f", "zensical.yml"],
        cwd=site,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def have_zensical() -> None:
    """Skip when Zensical is not installed; under CI, which installs it, fail instead."""
    try:
        import zensical  # noqa: F401
    except ImportError:
        reason = "zensical is not installed (pip install -e '.[test]' pins it)"
        if in_ci():
            pytest.fail(f"{reason}; CI is set, so the Zensical tests must run", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def mkdocs_site(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture built by MkDocs (the plugin ships the assets)."""
    root = tmp_path_factory.mktemp("third-party")
    shutil.copytree(FIXTURE, root / "src")
    run_mkdocs(root / "src" / "mkdocs.yml", root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def zensical_site(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture built by Zensical with the guide's set-up (assets written first)."""
    have_zensical()
    from attention_atlas.cli import main

    src = tmp_path_factory.mktemp("zensical") / "src"
    shutil.copytree(FIXTURE, src)
    (src / "zensical.yml").write_text(zensical_config(src), encoding="utf-8")
    with contextlib.chdir(src):
        assert main(["assets", "docs/assets/atlas"]) == 0
    done = zensical_build(src)
    assert done.returncode == 0, done.stdout + done.stderr
    return src / "site"


@contextlib.contextmanager
def open_page(browser: Any, site: Path) -> Iterator[tuple[Any, Watch, str]]:
    """A fresh page answering ``ORIGIN`` from a server of ``site``; no scheme remembered."""
    with serve(site) as base_url:
        context = browser.new_context(viewport=DESKTOP)
        try:
            context.add_init_script("try { localStorage.clear(); } catch (e) {}")
            route_origin(context, ORIGIN, base_url)
            page = context.new_page()
            yield page, Watch.attach(page), base_url
        finally:
            context.close()


def problems_of(page: Any, theme: str | None, where: str) -> tuple[list[str], int]:
    """Every chart's problems once all have settled (in ``theme``), and the chart count."""
    wait_for_charts(page, theme)
    states = chart_states(page)
    found = []
    for state in states:
        found += chart_problems(state, theme=theme, where=f"{where}: ")
    return found, len(states)


def toggled(page: Any, theme: str, where: str) -> tuple[list[str], int]:
    toggle_scheme(page)
    scheme = "slate" if theme == "dark" else "default"
    page.wait_for_function(f"() => ({SCHEME})() === {json.dumps(scheme)}", timeout=DRAW_TIMEOUT_MS)
    return problems_of(page, theme, where)


def hover_exact_weight(page: Any) -> None:
    """The home page's dump chart (head 1, special tokens hidden) shows the exact weight."""
    weights = np.load(FIXTURE / "docs" / "data" / "tiny.npz")["attention"]  # (1, 2, 5, 5)
    # [CLS] and [SEP] are gone and rows renormalised, so cell (0, 0) is "<b>the</b>" ->
    # "<b>the</b>" divided by that row's weight on the kept tokens.
    row = weights[0, 1, 1, 1:4]
    tip = hover_tooltip(page, 1, 0, 0)
    assert abs(float(tip["weight"]) - row[0] / row.sum()) < 5e-4, tip
    assert "<b>the</b>" in " ".join(tip.values())  # shown as text, not markup


def test_a_third_party_site_draws_every_chart_light_dark_and_after_instant_navigation(
    chromium: Any, mkdocs_site: Path
) -> None:
    with open_page(chromium, mkdocs_site) as (page, watch, _):
        page.goto(f"{ORIGIN}/")
        problems, home = problems_of(page, "light", "home")
        hover_exact_weight(page)
        more, _ = toggled(page, "dark", "home, dark")
        problems += more
        # Instant navigation: the nav link swaps the content in the same document.
        page.evaluate(MARK_DOCUMENT)
        page.locator("article a[href$='guide/reading/']").first.click()  # the page's own link
        page.wait_for_url(f"{ORIGIN}/guide/reading/")
        page.wait_for_selector("article h1:has-text('Reading a head')")
        more, guide = problems_of(page, "dark", "guide after instant navigation, dark")
        problems += more
        assert page.evaluate(SAME_DOCUMENT), "the guide was a full page load, not instant"
        more, _ = toggled(page, "light", "guide, light")
        problems += more
        # The site's own Mermaid fence and tabs still work beside the charts.
        assert page.locator("div.mermaid").count() == 1
        assert page.locator(".tabbed-set .atlas-chart").count() == 2
        assert page.locator(".admonition .atlas-chart").count() == 1
        problems += watch.problems(f"{ORIGIN}/")
    assert (home, guide) == (2, 3)
    assert not problems, "\n".join(problems)


def test_zensical_builds_the_site_and_its_charts_draw(chromium: Any, zensical_site: Path) -> None:
    index = (zensical_site / "index.html").read_text(encoding="utf-8")
    assert index.count('class="atlas-chart"') == 2
    assert not re.search(r'<script[^>]+src="(https?:)?//', index)
    assert not re.search(r'<link rel="stylesheet"[^>]+href="(https?:)?//', index)
    problems: list[str] = []
    with open_page(chromium, zensical_site) as (page, watch, base_url):
        for path, expected in (("", 2), ("guide/reading/", 3)):
            page.goto(base_url + path)
            found, count = problems_of(page, None, f"zensical /{path}")
            problems += found
            assert count == expected, path
        problems += watch.problems(*local_origins(base_url))
    assert not problems, "\n".join(problems)


def test_a_bad_fence_ends_a_zensical_build_with_one_line(
    zensical_site: Path, tmp_path: Path
) -> None:
    """Exactly the lines the embedding guide shows, and no traceback."""
    (shown,) = [
        block
        for block in re.findall(r"^```text\n(.*?)^```$", GUIDE.read_text(), flags=re.S | re.M)
        if "No issues found" in block
    ]
    src = tmp_path / "src"
    shutil.copytree(zensical_site.parent, src, ignore=shutil.ignore_patterns("site", ".cache"))
    shutil.rmtree(src / "docs" / "guide")  # one page only: the build stops at the bad fence
    (src / "docs" / "index.md").write_text("# Home\n")
    bad = "# Model\n\n```attention\nfile: data/tiny.npz\nheads: 1\n```\n"
    (src / "docs" / "model.md").write_text(bad)
    done = zensical_build(src)
    assert done.returncode != 0
    # Zensical's own "No issues found" (its configuration check) comes first.
    assert done.stderr.split() == shown.split(), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
