"""Figures kept as raw HTML by the Markdown extension, in tabs and admonitions too."""

from __future__ import annotations

import textwrap

import markdown
import pytest

from attention_atlas.charts.html import figure_html

#: A caption Markdown would rewrite if it read the figure as text.
CAPTION = "Weights *not emphasis*, _not either_, [not a link](x) and `not code`."

SPEC = {"mark": "bar", "data": {"values": [{"a": [1, 2]}]}, "title": "t [1] *2*"}

EXTENSIONS = ["admonition", "md_in_html", "pymdownx.superfences"]


def _page(figure: str, where: str) -> str:
    """Markdown holding ``figure`` at the left margin, in a tab, or in an admonition."""
    if where == "margin":
        return f"Before.\n\n{figure}\n\nAfter.\n"
    if where == "tab":
        return f'=== "One"\n\n    {figure}\n\n=== "Two"\n\n    Text.\n'
    return f'!!! note "Look"\n\n    Above.\n\n    {figure}\n'


@pytest.mark.parametrize("where", ["margin", "tab", "admonition"])
def test_a_figure_comes_out_byte_for_byte_and_never_inside_a_paragraph(where: str) -> None:
    figure = str(figure_html(SPEC, caption=CAPTION))
    extensions = [*EXTENSIONS, "pymdownx.tabbed", "attention_atlas.render.markdown_figures"]
    out = markdown.markdown(_page(figure, where), extensions=extensions)
    assert out.count(figure) == 1, out
    assert "<p><figure" not in out and "<em>" not in out and "<a " not in out


def test_without_it_a_figure_in_a_tab_is_read_as_text() -> None:
    """What the extension is for: Markdown's inline patterns reach the figure's text."""
    figure = str(figure_html(SPEC, caption=CAPTION))
    out = markdown.markdown(_page(figure, "tab"), extensions=[*EXTENSIONS, "pymdownx.tabbed"])
    assert figure not in out


def test_lines_that_are_not_one_whole_figure_are_left_to_markdown() -> None:
    figure = str(figure_html(SPEC, caption="c"))
    source = textwrap.dedent(
        f"""\
        Text around {figure} a figure.

        {figure}{figure}

        *kept*
        """
    )
    extensions = [*EXTENSIONS, "attention_atlas.render.markdown_figures"]
    plain = markdown.markdown(source, extensions=EXTENSIONS)
    assert markdown.markdown(source, extensions=extensions) == plain


def test_a_figure_shown_as_fenced_code_stays_code() -> None:
    figure = str(figure_html(SPEC, caption="c"))
    source = f"```html\n{figure}\n```\n"
    extensions = [*EXTENSIONS, "attention_atlas.render.markdown_figures"]
    out = markdown.markdown(source, extensions=extensions)
    assert "<figure" not in out and "figure" in out
