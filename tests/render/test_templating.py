"""The template environment: strict, escaping user text for HTML and Markdown alike."""

from __future__ import annotations

import jinja2
import markdown
import pytest
from markupsafe import Markup

from attention_atlas.render.mathml import math
from attention_atlas.render.templating import environment, literal

HOSTILE = [
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "*emphasis* _under_ `code` [link](http://x) {: .attr} # heading | pipe",
    "{{ 7 * 7 }} {% raw %}",
    "שלום 🙂 \"quotes\" 'single'",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_user_text_shows_literally_after_markdown(text: str) -> None:
    rendered = environment().from_string("Token: {{ t }}").render(t=text)
    out = markdown.markdown(rendered)
    assert "<script" not in out and "<img" not in out and "<em>" not in out and "<a " not in out
    assert out.startswith("<p>Token: ")
    import html

    assert html.unescape(out.removeprefix("<p>Token: ").removesuffix("</p>")) == text


def test_markup_passes_through_unchanged() -> None:
    assert literal(Markup("<b>x</b>")) == "<b>x</b>"
    assert literal(3) == 3


def test_undefined_names_fail_loudly() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ missing }}").render()


def test_math_gives_mathml_without_scripts() -> None:
    out = math(r"\frac{a}{b}", display=True)
    assert "<math" in out and "<mfrac>" in out and "<script" not in out
