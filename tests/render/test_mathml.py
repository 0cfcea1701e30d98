"""Maths at build time: inline maths stays in its sentence, display maths is a block."""

from __future__ import annotations

import markdown

from attention_atlas.render.mathml import math


def test_inline_maths_opening_a_line_stays_in_its_paragraph() -> None:
    text = f"The score and\n{math('e^{x}')} in the browser.\n\n{math('e^{x}')} too."
    html = markdown.markdown(text)
    assert html.count("<p>") == 2
    assert html.startswith("<p>The score and\n<span><math")


def test_display_maths_is_a_block_of_its_own() -> None:
    html = markdown.markdown(f"Before.\n\n{math('a = b', display=True)}\n\nAfter.")
    assert '<div class="atlas-math"><math' in html
    assert "<p><div" not in html
