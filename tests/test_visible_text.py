"""User text stays text: invisible and structure-changing characters are shown, never acted on.

Three layers of proof:

1. properties of :func:`attention_atlas.text.visible` (hypothesis);
2. every display surface fed the same hostile strings: chart labels, tooltips and
   titles, the report's token table and headings, the fence's caption and errors,
   and ``export`` to every format;
3. end to end, as a user runs it: ``attention-atlas report`` and ``attention-atlas
   export`` on a dump whose tokens are hostile (HTML injection is covered by
   ``tests/test_hostile_text.py``; its page parser is reused here).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from attention_atlas.text import EMPTY_MARK, hidden_marks, visible, visible_note
from tests.test_hostile_text import _Page

#: Strings that, shown as they are, hide, reorder, break a line or crash a writer.
INVISIBLE = [
    "\n",
    "\t",
    "\r\n",
    "\x00",
    "x\x00y",
    "\x01",
    "\x1b[31mred",
    "\x7f",
    "\x85",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\ufdd0",
    "\ud800",
    "\udcff",
    "\u202e",
    "abc\u202edef",
    "\u2066x\u2069",
    "\u200e",
    "\u061c",
    "\u200b",
    "a\u200cb",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\u00ad",
    "\U000e0041",
    "",
]

#: Strings that would change a Markdown or HTML page's structure if read as markup.
MARKUP = ["<script>", "|", "!!! note", "---", "```", "- item", "# h", "    code", "> q", "1. x"]

#: The hostile tokens of the end-to-end report and export.
HOSTILE = [
    "\n",
    "\t",
    "\x00",
    "\x01",
    "\x1b",
    "\ufffe",
    "\ud800",
    "\u202e",
    "\u200b",
    "<script>",
    "|",
    "!!! note",
    "---",
    "```",
    "a\n\n!!! note\n    inside\n\n---\n\n- item\n\n```\ncode\n```",
]

#: The tokens as a ``.npz`` holds them (a NumPy string array drops trailing NULs).
STORED = [t.rstrip("\x00") for t in HOSTILE]

HOSTILE_TITLE = "x\n!!! note\n\n---\n- item\u202e"

#: Text that must come through unchanged.
ORDINARY = [
    "Hello",
    "naïve café",
    "שלום",
    "مرحبا",
    "Ελληνικά",
    "日本語のテキスト",
    "한국어",
    "🙂👍🏽🇫🇷",
    "[CLS]",
    "##ing",
    "▁the",
    " the",
    "  ",
    "\u00a0",
    "a\\nb",
    "C:\\path",
    "<script>",
    "|",
    "␀␊",
]


def _is_hidden(char: str) -> bool:
    """The characters ``visible`` must never let through, defined from Unicode itself."""
    code = ord(char)
    noncharacter = 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE
    return noncharacter or unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}


def _shows_nothing_hidden(text: str) -> bool:
    return not any(_is_hidden(c) for c in text)


#: Any code point, surrogates and unassigned ones included.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)

#: Letters, marks, digits, punctuation, symbols and spaces: text people write.
ORDINARY_TEXT = st.text(
    st.characters(categories=["L", "M", "N", "P", "S", "Zs"]).filter(lambda c: not _is_hidden(c)),
    min_size=1,
    max_size=40,
)

#: One character that ``visible`` must escape.
HIDDEN_CHAR = st.one_of(
    st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp"]),
    st.sampled_from(["\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\U0001fffe"]),
)


# --------------------------------------------------------------------------- the function


@given(ANY_TEXT)
def test_output_holds_no_control_bidi_zero_width_or_surrogate_character(text: str) -> None:
    shown = visible(text)
    assert shown, "an empty text must show as something"
    assert _shows_nothing_hidden(shown), ascii(shown)
    shown.encode("utf-8")  # strict: no lone surrogate survives
    assert len(shown.splitlines()) == 1


@given(ANY_TEXT)
def test_visible_is_idempotent(text: str) -> None:
    assert visible(visible(text)) == visible(text)


@given(ORDINARY_TEXT)
def test_visible_is_the_identity_on_ordinary_text(text: str) -> None:
    assert visible(text) == text
    assert hidden_marks([text]) == frozenset()
    assert visible_note(hidden_marks([text])) is None


@given(ORDINARY_TEXT, ORDINARY_TEXT, HIDDEN_CHAR, HIDDEN_CHAR)
def test_texts_differing_only_in_invisible_characters_display_differently(
    before: str, after: str, one: str, other: str
) -> None:
    assume(one != other)
    plain = visible(before + after)
    with_one, with_other = visible(before + one + after), visible(before + other + after)
    assert len({plain, with_one, with_other}) == 3, (plain, with_one, with_other)


@given(st.lists(HIDDEN_CHAR, min_size=1, max_size=6), st.lists(HIDDEN_CHAR, min_size=1, max_size=6))
def test_distinct_invisible_sequences_display_differently(a: list[str], b: list[str]) -> None:
    assume(a != b)
    assert visible("x" + "".join(a) + "y") != visible("x" + "".join(b) + "y")


@pytest.mark.parametrize("text", ORDINARY)
def test_words_in_any_script_and_emoji_stay_as_they_are(text: str) -> None:
    assert visible(text) == text


@pytest.mark.parametrize("text", INVISIBLE)
def test_each_invisible_string_becomes_a_visible_escape(text: str) -> None:
    shown = visible(text)
    assert shown != text and _shows_nothing_hidden(shown)
    assert hidden_marks([text])


def test_the_escape_convention() -> None:
    assert visible("a\nb") == r"a\nb"
    assert visible("\t\r") == r"\t\r"
    assert visible("\x01\x1b\x7f\x85") == r"\x01\x1b\x7f\x85"
    assert visible("abc\u202edef") == r"abc\u202edef"
    assert visible("\ud800") == r"\ud800"
    assert visible("\ufffe") == r"\ufffe"
    assert visible("\U000e0041") == r"\U000e0041"
    assert visible("") == EMPTY_MARK


def test_the_note_names_what_it_escaped_once() -> None:
    note = visible_note(hidden_marks(["a\nb", "c\n", "\u202e", ""]), where=" in tokens")
    assert note == (
        r"Invisible characters in tokens shown as escapes: \n newline, "
        r"\u202e right-to-left override; ∅ an empty token."
    )
    assert note.count(r"\n") == 1
    many = visible_note(hidden_marks([chr(c) for c in range(1, 9)]))
    assert many is not None and "4 others" in many
    assert visible_note(hidden_marks(["\ud800"])) == (
        r"Invisible characters shown as escapes: \ud800 lone surrogate."
    )


# --------------------------------------------------------------------------- chart surfaces


def _strings(value: Any) -> list[str]:
    """Every string inside a spec (keys and values)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _params(spec: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in spec.get("params", []) if "value" in p}


def _title_lines(spec: dict[str, Any]) -> list[str]:
    title = spec.get("title", {})
    sub = title.get("subtitle", [])
    return [title.get("text", ""), *([sub] if isinstance(sub, str) else sub)]


LABELS = [*INVISIBLE, *MARKUP]


def _spec(chart: Any) -> dict[str, Any]:
    from attention_atlas.charts import to_spec

    return dict(to_spec(chart))


def _check_labels(spec: dict[str, Any], labels: list[str], rows: str, cols: str) -> None:
    params = _params(spec)
    assert params[rows] == [visible(t) for t in labels]
    assert params[cols] == [visible(t) for t in labels]
    bad = [s for s in _strings(spec) if not _shows_nothing_hidden(s)]
    assert not bad, [ascii(s)[:80] for s in bad]


def test_heatmap_labels_tooltips_and_title_are_visible() -> None:
    from attention_atlas.charts import heatmap_chart

    n = len(LABELS)
    chart = heatmap_chart(
        np.full((n, n), 1 / n),
        LABELS,
        LABELS,
        title=HOSTILE_TITLE,
        subtitle="sub\u200b",
        x_title="keys\n",
        y_title="\u202equeries",
        value_title="w\x01",
    )
    spec = _spec(chart)
    _check_labels(spec, LABELS, "hm_rl", "hm_cl")
    lines = _title_lines(spec)
    assert lines[0] == visible(HOSTILE_TITLE)
    assert lines[1] == visible("sub\u200b")
    assert lines[-1].startswith("Invisible characters shown as escapes:")
    assert lines[-1].endswith("others; ∅ an empty token."), lines[-1]
    assert sum(line.startswith("Invisible") for line in lines) == 1
    tooltips = {t["title"] for layer in spec["layer"] for t in layer["encoding"]["tooltip"]}
    assert tooltips == {r"keys\n", r"\u202equeries", r"w\x01"}
    # Tooltips show labels through the params, as "position: label".
    calc = {t["as"]: t["calculate"] for t in spec["transform"] if "calculate" in t}
    assert calc["q"].endswith("hm_rl[datum.r]") and calc["k"].endswith("hm_cl[datum.c]")


def test_ordinary_charts_carry_no_note() -> None:
    from attention_atlas.charts import heatmap_chart

    spec = _spec(heatmap_chart(np.eye(len(ORDINARY)), ORDINARY, ORDINARY, title="Plain"))
    assert _params(spec)["hm_rl"] == ORDINARY
    assert spec["title"] == {"text": "Plain"}


@pytest.mark.parametrize("kind", ["explorer", "bars", "vector", "grid", "pooled", "dump-grid"])
def test_every_builder_shows_labels_visibly_and_says_so(kind: str) -> None:
    from attention_atlas import charts
    from attention_atlas.dumps import charts as dump_charts
    from attention_atlas.dumps.read import validate_dump

    n = len(LABELS)
    w = np.random.default_rng(0).dirichlet(np.ones(n), size=n)
    if kind == "explorer":
        spec = _spec(charts.row_explorer_chart(w, LABELS, LABELS, title=HOSTILE_TITLE))
        _check_labels(spec, LABELS, "rx_rl", "rx_cl")
    elif kind == "bars":
        spec = _spec(charts.bar_chart(w[0], LABELS, title=HOSTILE_TITLE, x_title="\x1b"))
        assert _params(spec)["bar_l"] == [visible(t) for t in LABELS]
    elif kind == "vector":
        spec = _spec(charts.vector_chart(w[0], LABELS, title=HOSTILE_TITLE))
        assert _params(spec)["vec_rl"] == [visible(t) for t in LABELS]
        assert _params(spec)["vec_cl"] == [""]  # the blank axis across the vector stays blank
    elif kind == "grid":
        stack = np.stack([w, w])[None]
        spec = _spec(charts.head_grid_chart(stack, LABELS, LABELS, title=HOSTILE_TITLE))
        rows = [v for k, v in _params(spec).items() if k.endswith("_rl")]
        assert rows == [[visible(t) for t in LABELS]]
    else:
        tokens = [f"{t}" for t in LABELS] * 9  # long enough to be pooled
        m = len(tokens)
        weights = np.full((1, 1, m, m), 1 / m)
        dump = validate_dump(weights, tokens, None, source="hostile.npz")
        name = "pooled-mean" if kind == "pooled" else "grid"
        spec = _spec(dump_charts.dump_chart(dump, name))
        labels = [v for k, v in _params(spec).items() if k.endswith(("_rl", "_cl"))]
        assert labels and all(_shows_nothing_hidden(s) for group in labels for s in group)
    lines = _title_lines(spec)
    if kind not in ("pooled", "dump-grid"):
        assert lines[0] == visible(HOSTILE_TITLE)
    assert any(line.startswith("Invisible characters shown as escapes") for line in lines)
    bad = [s for s in _strings(spec) if not _shows_nothing_hidden(s)]
    assert not bad, [ascii(s)[:80] for s in bad]


def test_tokens_in_the_data_model_stay_as_they_were() -> None:
    """Only the display changes: a dump's tokens (what "it" is matched against) do not."""
    from attention_atlas.dumps import charts as dump_charts
    from attention_atlas.dumps.read import validate_dump

    tokens = ["it", "\n", "\u202eit", ""]
    dump = validate_dump(np.full((4, 4), 0.25), tokens, None, source="t.npz")
    spec = _spec(dump_charts.head_chart(dump))
    assert list(dump.tokens) == tokens
    assert _params(spec)["head_rl"] == ["it", r"\n", r"\u202eit", "∅"]


# --------------------------------------------------------------------------- export


def test_renderable_replaces_what_the_renderer_aborts_on() -> None:
    from attention_atlas.export import renderable

    spec = {
        "data": {"values": [{"a": "x\x01y\ufffe\ud800\u202e"}]},
        "transform": [{"calculate": "'\x01' + datum.a", "as": "b"}],
        "title": "t\x00",
    }
    safe = renderable(spec)
    assert safe["data"]["values"][0]["a"] == "x\\x01y\\ufffe\\ud800\u202e"  # bidi is XML-valid
    assert safe["transform"][0]["calculate"] == "'\ufffd' + datum.a"
    assert safe["title"] == "t\\x00"
    assert spec["title"] == "t\x00"  # the input is left as it was


def test_raw_specs_with_control_characters_render_in_every_format(tmp_path: Path) -> None:
    """A spec built by hand (not through the builders) is made safe too: in a child
    process, since vl-convert aborts the whole process on such characters."""
    script = textwrap.dedent(
        """
        import json, sys
        sys.modules.setdefault("rfc3987_syntax", None)  # as every test process does
        from attention_atlas.export import render_spec
        labels = [chr(c) for c in range(32) if chr(c) not in "\\t\\n\\r"]
        labels += ["\\ufffe", "\\uffff", "\\ud800", "\\u202e\\u200b"]
        spec = {
            "data": {"values": [{"a": s, "i": i} for i, s in enumerate(labels)]},
            "mark": "text",
            "encoding": {"text": {"field": "a"}, "y": {"field": "i", "type": "ordinal"}},
            "title": "".join(labels),
        }
        for fmt in ("svg", "png", "pdf", "json"):
            data = render_spec(spec, fmt)
            assert data, fmt
            if fmt == "json":
                back = json.loads(data.decode("utf-8"))
                assert back["data"]["values"] == spec["data"]["values"]
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            "Vega-Lite to SVG conversion failed:\nError: boom\n    at l (https://cdn.example/x)",
            "Vega-Lite to SVG conversion failed: Error: boom",
        ),
        ("Vega-Lite to SVG conversion failed:", "vl-convert raised ValueError with no message"),
        ("", "vl-convert raised ValueError with no message"),
    ],
)
def test_renderer_errors_are_never_empty(
    monkeypatch: pytest.MonkeyPatch, raised: str, expected: str
) -> None:
    import vl_convert

    from attention_atlas.errors import AtlasError
    from attention_atlas.export import render_spec

    def fail(*args: Any, **kwargs: Any) -> str:
        raise ValueError(raised)

    monkeypatch.setattr(vl_convert, "vegalite_to_svg", fail)
    with pytest.raises(AtlasError) as caught:
        render_spec({"mark": "point", "title": "My\nchart"}, "svg")
    message = str(caught.value)
    assert expected in message
    assert message.startswith(r"the chart “My chart” could not be drawn as svg: ")
    assert "\n" not in message and "https://" not in message


def _hostile_dump(path: Path, tokens: list[str], layers: int = 1, heads: int = 2) -> Path:
    n = len(tokens)
    weights = np.random.default_rng(3).dirichlet(np.ones(n), size=(layers, heads, n))
    np.savez(path, attention=weights, tokens=np.array(tokens))
    return path


def _atlas(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attention_atlas", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf", "json"])
def test_export_of_a_dump_of_every_hostile_token_exits_0(tmp_path: Path, fmt: str) -> None:
    dump = _hostile_dump(tmp_path / "hostile.npz", HOSTILE)
    out = tmp_path / f"chart.{fmt}"
    done = _atlas("export", str(dump), "--format", fmt, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 0
    if fmt == "json":
        spec = json.loads(out.read_text(encoding="utf-8"))
        assert _params(spec)["head_rl"] == [visible(t) for t in STORED]
    if fmt == "svg":
        text = out.read_text(encoding="utf-8")
        assert "\\u202e" in text and "\\x01" in text and "\u202e" not in text


@pytest.mark.slow
def test_export_of_each_hostile_token_alone_exits_0_in_every_format(tmp_path: Path) -> None:
    """One dump a token, four formats each, through the command's own entry point as its
    console script runs it (one child process: an abort would end it with 134)."""
    for i, token in enumerate(HOSTILE):
        _hostile_dump(tmp_path / f"t{i}.npz", ["a", token, "b"], heads=1)
    script = textwrap.dedent(
        f"""
        import sys
        from attention_atlas.cli import main
        codes = []
        for i in range({len(HOSTILE)}):
            for fmt in ("png", "svg", "pdf", "json"):
                sys.argv = ["attention-atlas", "export", f"t{{i}}.npz", "--format", fmt,
                            "--out", f"t{{i}}.{{fmt}}"]
                codes.append(main())
        print(codes)
        sys.exit(max(codes))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    assert done.stdout.strip() == str([0] * 4 * len(HOSTILE))


# --------------------------------------------------------------------------- report


def _article(page: str) -> str:
    """The page's content (its ``<article>``), where the Markdown landed."""
    match = re.search(r"<article[^>]*>(.*)</article>", page, flags=re.S)
    assert match is not None
    return match.group(1)


def _structure(page: str) -> list[str]:
    """The content's start tags in order, then the admonitions' classes."""
    article = _article(page)
    return re.findall(r"<([a-z][a-z0-9]*)\b", article) + re.findall(
        r'class="(admonition[^"]*)"', article
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report of the hostile dump, as a user runs the command, and of a tame one of
    the same size and notes (the yardstick, built in this process)."""
    from attention_atlas import cli

    folder = tmp_path_factory.mktemp("visible")
    dump = _hostile_dump(folder / "hostile.npz", HOSTILE)
    done = _atlas("report", dump.name, "--out", "hostile", "--title", HOSTILE_TITLE, cwd=folder)
    assert done.returncode == 0, done.stderr[-2000:]
    tame = ["\u200b"] + [f"t{i}" for i in range(len(HOSTILE) - 1)]
    dump = _hostile_dump(folder / "tame.npz", tame)
    args = ["report", str(dump), "--out", str(folder / "tame"), "--title", "x\u200b title"]
    assert cli.main(args) == 0
    return folder / "hostile", folder / "tame"


@pytest.mark.slow
def test_report_token_table_has_one_row_per_token_shown_visibly(reports: tuple[Path, Path]) -> None:
    hostile, _ = reports
    page = (hostile / "index.html").read_text(encoding="utf-8")
    table = re.search(r"<summary>The tokens, by position</summary>(.*?)</details>", page, re.S)
    assert table is not None
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*</tr>", table.group(1), re.S)
    assert [int(p) for p, _ in rows] == list(range(len(HOSTILE)))
    shown = [html.unescape(cell) for _, cell in rows]
    assert shown == [visible(t) for t in STORED]
    notes = [p for p in _Page(table.group(1)).texts["p"] if p.startswith("Invisible")]
    assert len(notes) == 1 and r"\n newline" in notes[0] and "∅ an empty token" in notes[0]


@pytest.mark.slow
def test_report_title_is_one_heading_shown_visibly(reports: tuple[Path, Path]) -> None:
    hostile, _ = reports
    parsed = _Page((hostile / "index.html").read_text(encoding="utf-8"))
    assert parsed.texts["h1"] == [visible(HOSTILE_TITLE)]
    assert any(p.startswith("Invisible characters in the title") for p in parsed.texts["p"])


@pytest.mark.slow
def test_report_pages_have_the_structure_of_a_tame_report(reports: tuple[Path, Path]) -> None:
    """No admonition, rule, list, code block or table cell was added by a token or title."""
    hostile, tame = reports
    pages = sorted(p.relative_to(tame).as_posix() for p in tame.rglob("*.html"))
    assert "index.html" in pages and "heads/layer-0.html" in pages
    for rel in pages:
        text = (hostile / rel).read_text(encoding="utf-8")  # strict UTF-8: no surrogate
        assert _structure(text) == _structure((tame / rel).read_text(encoding="utf-8")), rel
        leaked = sorted({f"U+{ord(c):04X}" for c in text if _is_hidden(c) and c not in "\n\t"})
        assert not leaked, (rel, leaked)
        article = _article(text)
        assert "<hr" not in article and "<pre" not in article, rel
        assert not re.search(r'class="admonition note"', article), rel


# --------------------------------------------------------------------------- fence

ALIAS_BOMB = (
    "scenario: self-attention\n"
    "layer: [&a [1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a],"
    " &c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c],"
    " &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], [*e,*e,*e,*e,*e,*e,*e,*e,*e]]\n"
)


def _fence_error(body: str, page: str = "guide/\nhostile.md") -> str:
    from attention_atlas.mkdocs.fence import FenceError, parse_options, set_context

    set_context(page=page)
    try:
        with pytest.raises(FenceError) as caught:
            parse_options(body)
    finally:
        set_context()
    return str(caught.value)


def test_a_fence_of_nested_aliases_is_refused_in_a_short_message() -> None:
    assert len(ALIAS_BOMB) < 400
    message = _fence_error(ALIAS_BOMB)
    assert len(message) <= 400
    assert message.startswith(r"attention fence in guide/\nhostile.md: ")
    assert "aliases" in message and "\n" not in message


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("scenario: x\ncaption: " + "[" * 3000 + "]" * 3000, "nest more than"),
        ("scenario: x\ncaption: '" + "a" * 70_000 + "'", "at most 64 KiB"),
        ("scenario: x\ncaption: &c text\nchart: *c", "aliases"),
        ("scenario: x\nlayer: '" + "x\u202e\n" * 5000 + "'", "layer: expected a whole number"),
        ("scenario: x\n? " + "k" * 5000 + "\u200b\n: 1", "unknown option"),
        ('scenario: x\nrenderer: "' + "\\e[31m" * 500 + '"', "renderer: expected"),
        ("- " + "a" * 5000, "expected 'key: value' lines"),
    ],
)
def test_fence_errors_quoting_user_input_are_short_and_one_line(body: str, said: str) -> None:
    message = _fence_error(body)
    assert said in message
    assert len(message) <= 400, len(message)
    assert _shows_nothing_hidden(message) and "\n" not in message


def test_fence_caption_is_shown_visibly() -> None:
    from attention_atlas.mkdocs.fence import parse_options, render_fence

    options = parse_options('scenario: self-attention\ncaption: "x\\n\\n!!! note\\u202e"')
    figure = str(render_fence(options))
    caption = re.search(r"<figcaption>(.*?)</figcaption>", figure)
    assert caption is not None
    assert html.unescape(caption.group(1)) == r"x\n\n!!! note\u202e"
