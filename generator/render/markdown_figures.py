"""A Markdown extension that passes the package's figures through untouched, at any depth.

Python-Markdown keeps raw HTML as it is only when the block starts at the left margin.
A figure inside a tab or an admonition is indented, so it is read as a paragraph: every
inline pattern scans its spec (tens of kB of JSON, full of brackets), which took about a
quarter of the tutorial's MkDocs build, and the figure lands inside a ``<p>``, which
HTML does not allow. This extension sets each line that is one whole figure (as
:func:`~attention_atlas.charts.html.figure_html` writes it: its opening, then the rest
of the figure, then ``</figure>``) aside before the blocks are parsed; the figure comes
back in place of its paragraph, byte for byte. Nothing is read out of the figure.

Use it in ``mkdocs.yml``::

    markdown_extensions:
      - attention_atlas.render.markdown_figures
"""

from __future__ import annotations

from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

from attention_atlas.charts.html import FIGURE_OPENING

__all__ = ["FigureExtension", "makeExtension"]


def _whole_figure(text: str) -> bool:
    """Whether ``text`` is one figure of the package, from its opening to its end."""
    return (
        text.startswith(FIGURE_OPENING)
        and text.endswith("</figure>")
        and text.count("<figure") == 1
    )


class _SetFiguresAside(Preprocessor):
    """Replace each figure line by a placeholder of the Markdown's raw-HTML stash."""

    def run(self, lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            figure = line.strip(" \t")
            if not _whole_figure(figure):
                out.append(line)
                continue
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            # A placeholder alone in its paragraph is put back without the <p> around it.
            out.append(indent + self.md.htmlStash.store(figure))
        return out


class FigureExtension(Extension):
    """Figures of the package kept as raw HTML wherever they stand."""

    def extendMarkdown(self, md: Markdown) -> None:
        # After fenced code is set aside (25: a figure shown as code stays code), before
        # the raw-HTML block reader (20), which sees only the left margin.
        md.preprocessors.register(_SetFiguresAside(md), "atlas_figures", 24)


def makeExtension(**kwargs: Any) -> FigureExtension:
    """What Markdown calls when the extension is named by its module."""
    return FigureExtension(**kwargs)
