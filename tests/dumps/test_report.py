"""``attention-atlas report``: pages, escaping of user text, atomic output, exit codes."""

from __future__ import annotations

import hashlib
import html
import html.parser
import json
import re
from pathlib import Path

import numpy as np
import pytest

import attention_atlas.publish
from attention_atlas.dumps.read import load_dump, validate_dump
from attention_atlas.dumps.report import MARKER, build_report, render_report
from attention_atlas.errors import AtlasError
from tests.conftest import run_cli

HOSTILE = [
    "[CLS]",
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=2>",
    "\"double\" and 'single' quotes",
    "{{ 7 * 7 }}",
    "{% raw %}",
    "*md* _em_ `code` |pipe| [link](http://x) #hash",
    "שלום עולם",
    "🙂👍🏽",
    "x" * 400,
    "&amp; &lt;",
    "[SEP]",
]
TITLE = '<b>Run</b> {{ 6*7 }} *bold* " onmouseover="window.__pwned=3'


def dump_file(path: Path, tokens: list[str], shape: tuple[int, ...], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    np.savez(path, attention=weights, tokens=np.array(tokens))
    return path


@pytest.fixture(scope="module")
def hostile_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    return dump_file(folder / "hostile.npz", HOSTILE, (2, 3, len(HOSTILE), len(HOSTILE)))


@pytest.fixture(scope="module")
def hostile_pages(hostile_npz: Path) -> dict[str, str]:
    return render_report(load_dump(hostile_npz), title=TITLE)


@pytest.fixture(scope="module")
def hostile_report(hostile_npz: Path) -> Path:
    out = hostile_npz.parent / "report"
    build_report(hostile_npz, out=out, title=TITLE)
    return out


def chart_text(page: str) -> str:
    """Every chart spec held in a data-* attribute of ``page``, as one JSON text."""
    specs = []
    for raw in re.findall(r"data-[a-z-]+='([^']*)'", page) + re.findall(
        r'data-[a-z-]+="([^"]*)"', page
    ):
        value = html.unescape(raw)
        if value.startswith("{"):
            specs.append(json.loads(value))
    return json.dumps(specs, ensure_ascii=False)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- pages


def test_pages_of_a_small_dump(hostile_pages: dict[str, str]) -> None:
    pages = hostile_pages
    assert sorted(pages) == [
        "ask.md",
        "heads/layer-0.md",
        "heads/layer-1.md",
        "index.md",
        "summaries.md",
    ]
    index = pages["index.md"]
    assert "(2, 3, 12, 12)" in index
    assert index.count("](heads/layer-1.md#head-") == 3  # one table row per head of layer 1
    assert pages["heads/layer-1.md"].count("## Head ") == 3


@pytest.mark.parametrize("token", HOSTILE[1:-1])
def test_every_hostile_token_is_escaped_in_the_markdown(
    hostile_pages: dict[str, str], token: str
) -> None:
    pages = hostile_pages
    # Charts carry labels as JSON inside an attribute (checked on the built site below).
    text = re.sub(r"data-[a-z-]+='[^']*'", "", "\n".join(pages.values()))
    if any(c in token for c in "<>&*_`|[]{}#\\"):
        assert token not in text, token  # never raw: Markdown or HTML would act on it
    assert "<script>" not in text
    assert "<img" not in text
    assert "<b>Run</b>" not in text


def test_token_table_escapes_markdown_and_html(hostile_pages: dict[str, str]) -> None:
    index = hostile_pages["index.md"]
    assert "&lt;/script&gt;&lt;script&gt;window.&#95;&#95;pwned=1&lt;/script&gt;" in index
    assert "&#123;&#123; 7 &#42; 7 &#125;&#125;" in index  # not evaluated, not emphasis
    assert "&#124;pipe&#124;" in index  # cannot break the table
    assert "שלום עולם" in index and "🙂👍🏽" in index


def test_row_sum_warning_is_on_every_page(tmp_path: Path) -> None:
    weights = np.full((1, 2, 4, 4), 0.25)
    weights[0, 1, 2, 0] = 0.75
    dump = validate_dump(weights, np.array(list("abcd")), source="off.npz")
    pages = render_report(dump, title="T")
    for text in pages.values():
        assert "L0 H1 row 2 sums to 1.5" in text
        assert "not renormalised" in text


def test_single_map_and_cross_attention(tmp_path: Path) -> None:
    weights = np.random.default_rng(2).dirichlet(np.ones(6), size=4)
    dump = validate_dump(
        weights, np.array(list("abcd")), np.array(list("uvwxyz")), source="cross.npz"
    )
    pages = render_report(dump, title="T")
    index = pages["index.md"]
    assert "Key token" in index and "The map" in index
    assert "Previous" not in index  # previous/next-token scores need self-attention
    assert "Previous- and next-token scores need self-attention" in pages["summaries.md"]


def test_long_maps_get_a_pooled_page_stating_the_block_size(tmp_path: Path) -> None:
    tokens = [f"t{i}" for i in range(300)]
    dump = load_dump(dump_file(tmp_path / "long.npz", tokens, (1, 2, 300, 300)))
    pages = render_report(dump, title="T")
    assert "pooled.md" in pages
    assert "blocks of 3 queries × 3 keys" in " ".join(pages["pooled.md"].split())
    assert "Block means" in pages["pooled.md"] and "Block maxima" in pages["pooled.md"]
    charts = chart_text(pages["pooled.md"] + pages["heads/layer-0.md"])
    assert "each cell is the mean of a block of 3 query × 3 key positions" in charts
    assert "each cell is the maximum of a block of" in charts


# --------------------------------------------------------------------------- built site


class _Tags(html.parser.HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.slow
def test_built_report_has_no_injected_markup(hostile_report: Path) -> None:
    pages = sorted(hostile_report.rglob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "summaries.html", "layer-0.html"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script>window.__pwned" not in text, page
        assert "<img src=x" not in text, page
        assert "<b>Run</b>" not in text, page
        parser = _Tags()
        parser.feed(text)
        for tag, attrs in parser.tags:
            assert not any(name.startswith("on") for name in attrs), (page, tag, attrs)
            assert tag != "img" or attrs.get("src") != "x", page
            if tag == "script" and "src" not in attrs:
                assert attrs.get("type") in (None, "application/json"), page
        # inline scripts are Material's own: none mentions a token
        for body in re.findall(r"<script[^>]*>(.*?)</script>", text, flags=re.S):
            assert "__pwned" not in body, page


class _Cells(html.parser.HTMLParser):
    """Text of every table cell, as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.mark.slow
def test_built_report_shows_every_token_exactly(hostile_report: Path) -> None:
    parser = _Cells()
    parser.feed((hostile_report / "index.html").read_text(encoding="utf-8"))
    for token in HOSTILE:
        assert token in parser.cells, token


@pytest.mark.slow
def test_built_report_carries_labels_as_escaped_json(hostile_report: Path) -> None:
    text = (hostile_report / "heads" / "layer-0.html").read_text(encoding="utf-8")
    assert "\\u003c/script\\u003e\\u003cscript\\u003ewindow.__pwned=1" in text
    assert (hostile_report / MARKER).is_file()
    assert json.loads((hostile_report / MARKER).read_text())["source"] == "hostile.npz"


@pytest.mark.slow
def test_built_report_is_offline(hostile_report: Path) -> None:
    for page in hostile_report.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'src="(https?:)?//', text), page
        assert not re.search(r'<link[^>]+href="(https?:)?//', text), page


@pytest.mark.slow
def test_failed_build_leaves_an_existing_report_byte_for_byte(
    hostile_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    build_report(hostile_npz, out=out)
    before = tree_digest(out)

    def failing(config: Path, site_dir: Path) -> None:
        (site_dir / "index.html").write_text("half-written")
        msg = f"{config}: mkdocs build --strict failed: simulated"
        raise AtlasError(msg)

    monkeypatch.setattr(attention_atlas.publish, "run_mkdocs", failing)
    with pytest.raises(AtlasError, match="simulated"):
        build_report(hostile_npz, out=out, title="new title")
    assert tree_digest(out) == before
    left = [p.name for p in tmp_path.iterdir() if p.name != ".report.lock"]  # lock file stays
    assert left == ["report"]  # no staging folder left


def test_bad_file_leaves_an_existing_report_alone(hostile_report: Path, tmp_path: Path) -> None:
    before = tree_digest(hostile_report)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(AtlasError, match=r"bad\.npz: is not a \.npz archive"):
        build_report(bad, out=hostile_report)
    assert tree_digest(hostile_report) == before


def test_refuses_to_replace_a_folder_that_is_not_a_report(
    hostile_npz: Path, tmp_path: Path
) -> None:
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "notes.md").write_text("keep me")
    with pytest.raises(AtlasError, match="not an attention-atlas report"):
        build_report(hostile_npz, out=precious)
    assert (precious / "notes.md").read_text() == "keep me"


# --------------------------------------------------------------------------- command line


def test_cli_bad_file_is_exit_2_with_one_line(tmp_path: Path) -> None:
    np.savez(tmp_path / "run.npz", attention=np.full((3, 3), 1 / 3), tokens=np.array(["a", "b"]))
    result = run_cli("report", "run.npz", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "run.npz" in lines[0] and "'tokens'" in lines[0]
    assert not (tmp_path / "run-report").exists()


@pytest.mark.slow
def test_cli_builds_into_the_default_folder_and_prints_row_warnings(tmp_path: Path) -> None:
    weights = np.full((2, 4, 4), 0.25)
    weights[1, 3, 3] = 0.5
    np.savez(tmp_path / "run.npz", attention=weights, tokens=np.array(list("abcd")))
    result = run_cli("report", "run.npz", "--title", "Mine", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "L0 H1 row 3 sums to 1.25" in result.stderr
    index = (tmp_path / "run-report" / "index.html").read_text(encoding="utf-8")
    assert "Mine" in index


@pytest.mark.parametrize(
    ("layers", "heads", "folded"),
    [(2, 3, False), pytest.param(6, 12, True, marks=pytest.mark.slow)],
)
def test_a_long_head_table_is_folded_so_it_does_not_delay_the_charts(
    layers: int, heads: int, folded: bool
) -> None:
    weights = np.full((layers, heads, 4, 4), 0.25)
    dump = validate_dump(weights, np.array(["[CLS]", "a", "b", "[SEP]"]))
    overview = render_report(dump)["index.md"]
    fold = f'??? note "All {layers * heads} heads, one row each"'
    assert (fold in overview) is folded
    row = "| 1 | [2](heads/layer-1.md#head-2) |"
    assert (f"    {row}" if folded else f"\n{row}") in overview
