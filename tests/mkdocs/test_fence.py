"""The ``attention`` fence: options, errors naming the page, and escaped output."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markdown
import numpy as np
import pytest

from attention_atlas.mkdocs.fence import (
    FenceError,
    custom_fence,
    fence_format,
    parse_options,
    set_context,
)

HOSTILE = "</script><script>window.__pwned=1</script>"


@pytest.fixture(autouse=True)
def _reset_context() -> Iterator[None]:
    set_context()
    yield
    set_context()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A docs folder with a small dump whose tokens are hostile."""
    folder = tmp_path / "docs"
    (folder / "data").mkdir(parents=True)
    tokens = np.array(["[CLS]", HOSTILE, "<img src=x onerror=alert(1)>", "cat", "[SEP]"])
    weights = np.random.default_rng(1).dirichlet(np.ones(5), size=(2, 3, 5))
    np.savez(folder / "data" / "run.npz", attention=weights, tokens=tokens)
    return folder


def render(text: str) -> str:
    md = markdown.Markdown(
        extensions=["pymdownx.superfences"],
        extension_configs={"pymdownx.superfences": {"custom_fences": [custom_fence()]}},
    )
    return md.convert(text)


def specs_in(page: str) -> list[dict[str, Any]]:
    """Every JSON object held in a data-* attribute of the page."""
    found = []
    for raw in re.findall(r"data-[a-z-]+='([^']*)'", page) + re.findall(
        r'data-[a-z-]+="([^"]*)"', page
    ):
        value = html.unescape(raw)
        if value.startswith("{"):
            found.append(json.loads(value))
    return found


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("file: a.npz\nheads: 2", "unknown option 'heads'"),
        ("file: a.npz\nlayer: two", "layer: expected a whole number"),
        ("file: a.npz\nlayer: -1", "layer: expected a whole number"),
        ("file: a.npz\nhead: true", "head: expected a whole number"),
        ("file: a.npz\nhide_special: maybe", "hide_special: expected true or false"),
        ("file: a.npz\nrenderer: webgl", "renderer: expected 'svg' or 'canvas'"),
        ("layer: 1", "exactly one of 'scenario: SLUG' or 'file: PATH.npz'"),
        ("scenario: x\nfile: a.npz", "exactly one of"),
        ("file: a.npz\nfile: b.npz", "'file' is given twice"),
        ("just some words", "expected 'key: value' lines"),
        ("file: [unclosed", "cannot read the options"),
    ],
)
def test_bad_options_raise_a_fence_error_naming_the_option(body: str, expected: str) -> None:
    with pytest.raises(FenceError) as info:
        parse_options(body)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_options_accept_comments_and_defaults() -> None:
    options = parse_options("scenario: self-attention   # the slug\nrenderer: canvas\n")
    assert options.scenario == "self-attention"
    assert options.renderer == "canvas"
    assert options.layer is None
    assert options.hide_special is False


def test_errors_name_the_page_when_known(docs: Path) -> None:
    set_context(docs_dir=docs, page="guide/model.md")
    with pytest.raises(FenceError, match=r"^attention fence in guide/model.md: unknown option"):
        parse_options("file: a.npz\nbogus: 1")


def test_missing_file_says_where_it_looked(docs: Path) -> None:
    set_context(docs_dir=docs, page="index.md")
    with pytest.raises(FenceError) as info:
        fence_format("file: data/missing.npz", "attention", "attention", {}, None)
    message = str(info.value)
    assert "data/missing.npz not found" in message
    assert str(docs) in message


def test_dump_errors_come_through_with_page_and_field(docs: Path) -> None:
    set_context(docs_dir=docs, page="index.md")
    with pytest.raises(FenceError, match=r"index.md: .*run.npz: head 7 does not exist"):
        fence_format("file: data/run.npz\nhead: 7", "attention", "attention", {}, None)


def test_file_fence_renders_a_figure_with_escaped_labels(docs: Path) -> None:
    set_context(docs_dir=docs, page="index.md")
    page = render("Text.\n\n```attention\nfile: data/run.npz\nlayer: 1\nhead: 2\n```\n")
    assert "<code>" not in page  # rendered as a chart, not left as code
    assert HOSTILE not in page
    assert "<img src=x" not in page
    (spec, *_) = specs_in(page)
    assert HOSTILE in json.dumps(spec)  # the label travels, as data
    assert "Layer 1, head 2" in json.dumps(spec)


def test_hide_special_says_so_on_the_chart(docs: Path) -> None:
    set_context(docs_dir=docs)
    page = fence_format(
        "file: data/run.npz\nhide_special: true", "attention", "attention", {}, None
    )
    (spec,) = specs_in(page)
    assert "renormalised" in json.dumps(spec)
    labels = [
        p["value"]
        for p in spec.get("params", [])
        if isinstance(p.get("value"), list) and all(isinstance(v, str) for v in p["value"])
    ]
    assert labels, spec
    assert all("[CLS]" not in lab and "[SEP]" not in lab for lab in labels)
    assert any(HOSTILE in lab for lab in labels)


def test_caption_option_is_escaped(docs: Path) -> None:
    set_context(docs_dir=docs)
    page = fence_format(
        "file: data/run.npz\ncaption: '<b>bold</b> claim'", "attention", "attention", {}, None
    )
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; claim" in page


def test_scenario_fence_shows_its_main_chart() -> None:
    from attention_atlas.export import scenario_figures
    from attention_atlas.scenarios import get

    figures = scenario_figures("self-attention")
    page = fence_format("scenario: self-attention", "attention", "attention", {}, None)
    main = figures[get("self-attention").main_figure]
    # The same figure as on the page: spec, caption and renderer.
    assert page == str(main.html())
    named = fence_format("scenario: self-attention\nchart: z", "attention", "attention", {}, None)
    assert specs_in(named) == [figures["z"].to_dict()]


def test_scenario_fence_by_layer_and_head() -> None:
    page = fence_format(
        "scenario: multi-head\nlayer: 1\nhead: 0", "attention", "attention", {}, None
    )
    (spec, *_) = specs_in(page)
    assert "Layer 1, head 0" in json.dumps(spec)


def test_unknown_scenario_lists_the_slugs() -> None:
    with pytest.raises(
        FenceError, match=r"unknown scenario 'nope': expected one of .*self-attention"
    ):
        fence_format("scenario: nope", "attention", "attention", {}, None)


def test_unexpected_failures_stop_the_build_instead_of_showing_the_fence(
    docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import attention_atlas.dumps.charts

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(attention_atlas.dumps.charts, "dump_chart", broken)
    set_context(docs_dir=docs)
    with pytest.raises(FenceError, match="RuntimeError: boom"):
        fence_format("file: data/run.npz", "attention", "attention", {}, None)


def test_header_options_are_refused() -> None:
    page = "```{.attention layer=2}\nfile: a.npz\n```\n"
    with pytest.raises(FenceError, match="header options"):
        render(page)


class _ZensicalContext:
    """What Zensical registers on each Markdown instance (its ``rendering_context``)."""

    name = "rendering_context"

    def __init__(self, path: str, root: Path) -> None:
        self.page = type("Page", (), {"path": path})()
        self.config = {"docs_dir": "docs", "root_dir": str(root)}


def test_under_zensical_file_is_relative_to_the_docs_folder_and_errors_name_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    from types import SimpleNamespace

    import numpy as np

    from attention_atlas.mkdocs.fence import fence_format

    (tmp_path / "docs" / "data").mkdir(parents=True)
    weights = np.random.default_rng(0).dirichlet(np.ones(3), size=(1, 1, 3))
    tokens = np.array(list("abc"))
    np.savez(tmp_path / "docs" / "data" / "run.npz", attention=weights, tokens=tokens)
    md = SimpleNamespace(preprocessors=[object(), _ZensicalContext("guide/page.md", tmp_path)])
    monkeypatch.chdir(tmp_path / "docs" / "data")  # not the docs folder: must not matter
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    html = fence_format("file: data/run.npz\n", "attention", "attention", {}, md)
    assert html.count('class="atlas-chart"') == 1
    with pytest.raises(FenceError, match=r"^attention fence in guide/page\.md: unknown option"):
        fence_format("file: data/run.npz\nlayr: 1\n", "attention", "attention", {}, md)
    # The build's end is one line naming the page, not Zensical's traceback.
    assert getattr(sys.excepthook, "__atlas__", False)
