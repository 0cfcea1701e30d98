"""Hostile text through every path that takes a user's words, checked in the HTML and in
Chromium: no script runs, and the text shows exactly as written.

The three paths, each built into a real MkDocs-Material site:

1. a page whose Markdown comes from the project's Jinja environment, with a
   ``figure_html(heatmap_chart(...))`` whose labels, titles and caption are hostile;
2. ``attention-atlas report FILE.npz`` on a dump with hostile tokens and a hostile
   file name (which also becomes the report's title);
3. the ``attention`` fence reading that dump, with a hostile caption (and, on a second
   page, a caption of newlines, Markdown blocks and invisible characters).

Invisible characters in tokens and titles are covered by ``tests/test_visible_text.py``.
"""

from __future__ import annotations

import html
import html.parser
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

SCRIPT = "</script><script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
QUOTES = "\"double\" 'single' `tick`"
JINJA = "{{ 7*7 }} {% if 1 %}x{% endif %}"
MARKDOWN = "*a* _b_ [x](javascript:alert(1)) # h | c |"
RTL = "שלום עולם مرحبا"
EMOJI = "🙂👍🏽🇫🇷"
LONG = "L" + "o" * 498 + "g"
ENTITIES = "&amp; &lt;b&gt; &#42;"

#: Token labels: every kind of hostile text, one a position.
TOKENS = [SCRIPT, IMG, QUOTES, JINJA, MARKDOWN, RTL, EMOJI, LONG, ENTITIES]

#: A title and caption mixing them.
TITLE = f"{SCRIPT} {IMG} {{{{ 7*7 }}}} *a* [x](javascript:alert(1)) “q” 's' {RTL} {EMOJI}"

#: A caption that would end its HTML block and open an admonition, a rule and a list,
#: with bidi, zero-width and control characters.
BLOCKS_CAPTION = 'x\n\n!!! note "boxed"\n\n---\n\n- item \u202eevil\u200b\x01'

#: A dump's file name (no "/" possible), which the report also uses as its title.
FILE_NAME = f"{IMG} {{{{ 7*7 }}}} *a* [x](javascript:alert(1)) 'q' {RTL} {EMOJI}.npz"

#: The Markdown page of path 1, rendered by the project's Jinja environment.
PAGE_TEMPLATE = """# {{ title }}

Tokens: {{ tokens | join(", ") }}

{{ figure }}

| Position | Token |
|---|---|
{% for token in tokens %}
| {{ loop.index0 }} | {{ token }} |
{% endfor %}
"""


def weights(*shape: int) -> np.ndarray:
    """Deterministic attention weights: rows on the last axis sum to 1."""
    return np.random.default_rng(0).dirichlet(np.ones(shape[-1]), size=shape[:-1])


@dataclass(frozen=True)
class Site:
    """A built site: its folder and the pages (relative paths) to check."""

    name: str
    folder: Path

    @property
    def pages(self) -> list[str]:
        found = sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*.html"))
        return [p for p in found if p != "404.html"]


def _mkdocs_config(dest: Path, **extra: Any) -> Path:
    config = {
        "site_name": "Hostile text",
        "docs_dir": "docs",
        "use_directory_urls": False,
        "theme": {"name": "material", "font": False},
        "markdown_extensions": ["attr_list", "md_in_html", "tables", "admonition"],
        **extra,
    }
    path = dest / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def build_templated_site(dest: Path) -> Site:
    """Path 1: Jinja-rendered Markdown with a hostile heatmap, built by MkDocs."""
    from attention_atlas.charts import figure_html, heatmap_chart
    from attention_atlas.publish import run_mkdocs
    from attention_atlas.render import templating
    from attention_atlas.render.assets import write_assets

    docs = dest / "docs"
    docs.mkdir(parents=True)
    chart = heatmap_chart(
        weights(len(TOKENS), len(TOKENS)),
        TOKENS,
        TOKENS,
        title=TITLE,
        x_title=IMG,
        y_title=SCRIPT,
        value_title=JINJA,
    )
    figure = figure_html(chart, caption=TITLE)
    template = templating.environment().from_string(PAGE_TEMPLATE)
    page = template.render(title=TITLE, tokens=TOKENS, figure=figure)
    (docs / "index.md").write_text(page, encoding="utf-8")
    names = write_assets(docs / "assets" / "atlas")
    config = _mkdocs_config(
        dest,
        extra_javascript=[f"assets/atlas/{n}" for n in names if n.endswith(".js")],
        extra_css=[f"assets/atlas/{n}" for n in names if n.endswith(".css")],
    )
    run_mkdocs(config, dest / "site")
    return Site("templated", dest / "site")


def write_dump(path: Path) -> Path:
    np.savez(path, attention=weights(1, 2, len(TOKENS), len(TOKENS)), tokens=np.array(TOKENS))
    return path


def build_report_site(dest: Path) -> Site:
    """Path 2: ``attention-atlas report`` on a hostile dump, run as a command."""
    dest.mkdir(parents=True)
    write_dump(dest / FILE_NAME)
    result = subprocess.run(
        [sys.executable, "-m", "attention_atlas", "report", FILE_NAME, "--out", "report"],
        cwd=dest,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Site("report", dest / "report")


def build_fence_site(dest: Path) -> Site:
    """Path 3: the ``attention`` fence reading the hostile dump, with a hostile caption."""
    from attention_atlas.publish import run_mkdocs

    docs = dest / "docs"
    (docs / "data").mkdir(parents=True)
    write_dump(docs / "data" / FILE_NAME)
    option = {"file": f"data/{FILE_NAME}", "caption": TITLE}
    body = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in option.items())
    (docs / "index.md").write_text(f"# Fence\n\n```attention\n{body}\n```\n", encoding="utf-8")
    option = {"file": f"data/{FILE_NAME}", "caption": BLOCKS_CAPTION}
    body = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in option.items())
    (docs / "blocks.md").write_text(f"# Blocks\n\n```attention\n{body}\n```\n", encoding="utf-8")
    config = _mkdocs_config(dest, plugins=["attention-atlas"])
    run_mkdocs(config, dest / "site")
    return Site("fence", dest / "site")


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.fixture(scope="module")
def templated(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return build_templated_site(tmp_path_factory.mktemp("hostile") / "templated")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Site:
    if not _available("attention_atlas.dumps.report"):
        pytest.skip("report command not available")
    return build_report_site(tmp_path_factory.mktemp("hostile") / "report")


@pytest.fixture(scope="module")
def fence(tmp_path_factory: pytest.TempPathFactory) -> Site:
    if not _available("attention_atlas.mkdocs.fence"):
        pytest.skip("embed fence not available")
    return build_fence_site(tmp_path_factory.mktemp("hostile") / "fence")


@pytest.fixture(params=["templated", "report", "fence"])
def site(request: pytest.FixtureRequest) -> Site:
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- the HTML


class _Page(html.parser.HTMLParser):
    """Tags, inline script bodies and the text of selected elements, as a browser parses them."""

    TEXT_TAGS = ("h1", "td", "figcaption", "code", "p", "em")

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.texts: dict[str, list[str]] = {t: [] for t in self.TEXT_TAGS}
        self._open: list[tuple[str, list[str]]] = []
        self._script: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script" and not dict(attrs).get("src"):
            self._script = []
        if tag in self.TEXT_TAGS:
            self._open.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                name, parts = self._open.pop(i)
                self.texts[name].append("".join(parts).replace("¶", "").strip())
                break

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        for _, parts in self._open:
            parts.append(data)


def read(site: Site, page: str) -> str:
    return (site.folder / page).read_text(encoding="utf-8")


def specs(text: str) -> list[dict[str, Any]]:
    return [json.loads(html.unescape(raw)) for raw in re.findall(r"data-spec='([^']*)'", text)]


@pytest.mark.slow
def test_no_user_text_becomes_markup(site: Site) -> None:
    assert site.pages, f"{site.name}: no pages built"
    for page in site.pages:
        parsed = _Page(read(site, page))
        for tag, attrs in parsed.tags:
            handlers = [name for name in attrs if name.startswith("on")]
            assert not handlers, (site.name, page, tag, attrs)
            assert not (tag == "img" and attrs.get("src") == "x"), (site.name, page, attrs)
            href = (attrs.get("href") or "").strip().lower()
            assert not href.startswith("javascript:"), (site.name, page, tag, attrs)
        for body in parsed.scripts:
            assert "__pwned" not in body, (site.name, page, body[:200])
        # "*a* _b_" from a token must not turn into emphasis
        assert not {"a", "b"} & set(parsed.texts["em"]), (site.name, page, parsed.texts["em"])


@pytest.mark.slow
def test_chart_specs_carry_every_label_exactly_and_escaped(site: Site) -> None:
    labelled = 0
    for page in site.pages:
        text = read(site, page)
        for raw in re.findall(r"data-spec='([^']*)'", text):
            assert not set("<>'") & set(raw), (site.name, page, "unescaped character in spec")
        for spec in specs(text):
            params = {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}
            for name, value in params.items():
                if name.endswith(("_rl", "_cl")) and len(value) == len(TOKENS):
                    assert value == TOKENS, (site.name, page, name)
                    labelled += 1
    assert labelled >= 2, f"{site.name}: no chart carries the token labels"


@pytest.mark.slow
def test_templated_page_shows_title_tokens_and_caption_literally(templated: Site) -> None:
    parsed = _Page(read(templated, "index.html"))
    assert parsed.texts["h1"] == [TITLE]
    assert f"Tokens: {', '.join(TOKENS)}" in parsed.texts["p"]
    assert parsed.texts["figcaption"] == [TITLE]
    cells = parsed.texts["td"]
    assert cells[1::2] == TOKENS
    (spec,) = specs(read(templated, "index.html"))
    assert spec["title"]["text"] == TITLE


@pytest.mark.slow
def test_report_shows_the_file_name_and_tokens_literally(report: Site) -> None:
    parsed = _Page(read(report, "index.html"))
    assert parsed.texts["h1"] == [f"Attention report: {FILE_NAME}"]
    assert FILE_NAME in parsed.texts["td"]
    for token in TOKENS:
        assert token in parsed.texts["td"], token
    # The sentence that names the file, in a code span, must show it as written too.
    assert FILE_NAME in parsed.texts["code"], [c[:80] for c in parsed.texts["code"]]


@pytest.mark.slow
def test_fence_caption_shows_literally(fence: Site) -> None:
    parsed = _Page(read(fence, "index.html"))
    assert parsed.texts["figcaption"] == [TITLE]


@pytest.mark.slow
def test_fence_caption_of_blocks_and_invisible_characters_stays_one_caption(fence: Site) -> None:
    from attention_atlas.text import visible

    text = read(fence, "blocks.html")
    parsed = _Page(text)
    assert parsed.texts["figcaption"] == [visible(BLOCKS_CAPTION)]
    article = text[text.index("<article") : text.index("</article>")]
    for injected in ("admonition", "<hr", "<li", "\u202e", "\u200b", "\x01"):
        assert injected not in article, injected


# --------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from tests.browser._browser import launch_chromium

    with launch_chromium() as browser:
        yield browser


PWNED = "() => [typeof window.__pwned, document.querySelectorAll('img[src=\"x\"]').length]"


@pytest.mark.browser
@pytest.mark.slow
def test_in_chromium_no_script_runs_and_every_label_shows_as_written(
    chromium: Any, site: Site
) -> None:
    from tests.browser._browser import (
        Watch,
        chart_problems,
        chart_states,
        hover_tooltip,
        local_origins,
        serve,
        wait_for_charts,
    )

    problems: list[str] = []
    hovered = 0
    with serve(site.folder) as base_url:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            watch = Watch.attach(page)
            for rel in site.pages:
                where = f"{site.name}/{rel}"
                page.goto(base_url + rel)
                wait_for_charts(page)
                states = chart_states(page)
                heatmaps = []
                for state in states:
                    problems += chart_problems(state, where=f"{where}: ")
                    spec = json.loads(state["spec"])
                    params = {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}
                    if any(v == TOKENS for k, v in params.items() if k.endswith("_rl")):
                        missing = [t[:40] for t in TOKENS if t not in state["axisLabels"]]
                        if missing:
                            problems.append(f"{where}: axis labels lack {missing}")
                        if state["renderer"] == "svg":
                            heatmaps.append(state["index"])
                    if site.name == "templated" and TITLE not in state["titles"]:
                        problems.append(f"{where}: chart title drawn as {state['titles']}")
                if site.name == "templated" and page.inner_text("h1") != TITLE:
                    problems.append(f"{where}: h1 shows {page.inner_text('h1')!r}")
                for index in heatmaps[:1]:
                    for r, c in ((0, 1), (7, 7)):
                        shown = list(hover_tooltip(page, index, r, c).values())
                        wanted = [f"{r}: {TOKENS[r]}", f"{c}: {TOKENS[c]}"]
                        if shown[:2] != wanted:
                            problems.append(f"{where}: tooltip of ({r}, {c}) shows {shown}")
                        hovered += 1
                pwned = page.evaluate(PWNED)
                if pwned != ["undefined", 0]:
                    problems.append(f"{where}: hostile markup ran or was parsed: {pwned}")
            problems += watch.problems(*local_origins(base_url))
        finally:
            context.close()
    assert hovered >= 2, f"{site.name}: no heatmap to hover"
    assert not problems, "\n".join(problems)
