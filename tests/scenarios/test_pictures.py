"""Pictures on the pages: the home page's real map and each flow diagram with its shapes."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from attention_atlas import export
from attention_atlas.build import render_index
from attention_atlas.scenarios import all_scenarios, get

pytestmark = pytest.mark.slow  # computes five pages

SPEC = re.compile(r"data-spec='([^']*)'")
SVG = re.compile(r"<svg .*?</svg>", re.S)


def test_the_home_page_shows_the_self_attention_map_it_links_to() -> None:
    page = render_index(all_scenarios())
    scenario = get("self-attention")
    ctx = export._computed(scenario.slug)[1]  # its context, made once a process
    specs = [json.loads(html.unescape(s)) for s in SPEC.findall(page)]
    assert len(specs) == 1
    spec = json.dumps(specs[0], ensure_ascii=False)
    tokens = scenario.params["tokens"]
    assert all(f'"{t}"' in spec for t in tokens)
    assert f"“{' '.join(tokens)}”: row {ctx['focus']} gives" in html.unescape(page)
    # The sentence under it states the page's own number and links to that page.
    assert f"**{ctx['focus_top_weight']}** of its attention on {ctx['top']}" in page
    assert f"]({scenario.page_path})" in page
    body = page.split("## At a glance", 1)[1].split("## ", 1)[0]
    assert "[the pages](#the-pages)" in body


@pytest.mark.parametrize(
    ("slug", "shapes"),
    [
        ("self-attention", ["(6×8) · (8×4) → (6×4)", "(6×6) · (6×4) → (6×4)"]),
        ("sequence-attention", ["all pairs: (4×3), rows sum to 1"]),
        ("multi-head", ["split into 4 heads", "(6×16) · (16×16) → (6×16)"]),
        ("linformer", ["E (4×16) · (16×16) → (4×16)"]),
    ],
)
def test_each_flow_page_draws_its_own_shapes(
    slug: str, shapes: list[str], scenario_page: Callable[[str], str]
) -> None:
    page = scenario_page(slug)  # render_scenario(get(slug)), once a session
    drawings = SVG.findall(page)
    assert len(drawings) == 1, slug
    root = ET.fromstring(drawings[0])  # valid XML inside the Markdown page
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for shape in shapes:
        assert shape in labels, (slug, shape)
    # One Markdown block, blank lines around it, so it reaches the HTML whole.
    start = page.index('<figure class="atlas-diagram-figure"')
    assert page[start - 2 : start] == "\n\n"
    assert page[page.index("</figure>", start) + len("</figure>") :].startswith("\n\n")
