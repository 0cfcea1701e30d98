"""The code behind each number: every block a tutorial page shows runs, and prints its numbers.

The blocks live once, in ``templates/code/<page>/<step>.py``; the page template places
each one in a collapsed "Code" block (``m.code``), and this test runs them, a page's
blocks in order in one namespace as a reader would, then checks that the built page
shows every block and every number the block prints.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
from pathlib import Path

import pytest

from attention_atlas.render.templating import templates_dir
from attention_atlas.scenarios import get

pytestmark = pytest.mark.slow  # runs the pages' computations (the real model among them)

CODE = templates_dir() / "code"
PAGES = sorted(p.name for p in CODE.iterdir() if p.is_dir())

#: A number as the blocks print it: 927, -2, 0.8808, 1.2e-07, 268,435,456, 23.7%.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")
#: The fenced code of a page's "Code" blocks (left out when looking for its numbers).
FENCE = re.compile(r"^ *```python\n.*?^ *```$", re.S | re.M)


def blocks(page: str) -> list[Path]:
    return sorted((CODE / page).glob("*.py"))


def run_blocks(page: str) -> list[tuple[Path, str]]:
    """Run a page's blocks in order in one namespace; each block's printed output."""
    namespace: dict[str, object] = {"__name__": f"code_{page.replace('-', '_')}"}
    printed = []
    for path in blocks(page):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        printed.append((path, out.getvalue()))
    return printed


def page_text(markdown: str) -> str:
    """The page as a reader reads it: entities decoded, code left out, one minus sign."""
    return html.unescape(FENCE.sub("", markdown)).replace("\N{MINUS SIGN}", "-")


def missing_numbers(output: str, text: str) -> list[str]:
    return [
        number
        for number in NUMBER.findall(output)
        if not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text)
    ]


def test_every_tutorial_page_has_code_and_every_block_is_placed(built_site: Path) -> None:
    tutorial = built_site / "site_src" / "tutorial"
    for page in PAGES:
        get(page)  # a folder per page, named by its slug
        markdown = (tutorial / f"{page}.md").read_text(encoding="utf-8")
        shown = markdown.count('??? example "Code')
        assert shown == len(blocks(page)), (page, shown)
        # Each block is shown whole, and in file order: the order the blocks run in.
        places = []
        for path in blocks(page):
            shown_code = "\n".join(
                f"    {line}" if line else ""
                for line in path.read_text(encoding="utf-8").splitlines()
            )
            assert shown_code in markdown, path.name
            places.append(markdown.index(shown_code))
        assert places == sorted(places), (page, [p.name for p in blocks(page)])
    pages = sorted(p.stem for p in tutorial.glob("*.md"))
    assert pages == PAGES, "every tutorial page shows the code behind its numbers"


@pytest.mark.parametrize("page", PAGES)
def test_each_block_runs_and_prints_numbers_its_page_states(page: str, built_site: Path) -> None:
    markdown = (built_site / "site_src" / "tutorial" / f"{page}.md").read_text(encoding="utf-8")
    text = page_text(markdown)
    for path, output in run_blocks(page):
        numbers = NUMBER.findall(output)
        assert numbers, f"{path.name} prints no number"
        assert not missing_numbers(output, text), (path.name, missing_numbers(output, text))


def test_the_number_check_catches_a_number_the_page_does_not_state() -> None:
    text = page_text(
        "The weights are **[0.1192, 0.8808]**.\n\n    ```python\n    print(0.5)\n    ```\n"
    )
    assert missing_numbers("0.1192 0.8808", text) == []
    assert missing_numbers("0.119 0.5", text) == ["0.119", "0.5"]  # inside code only: missing
    assert missing_numbers("-2 -7", page_text("shifted scores **[−2, 0]**")) == ["-7"]
