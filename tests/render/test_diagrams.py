"""SVG flow diagrams: valid XML, the page's shapes in the labels, escaped, no script."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attention_atlas.render import diagrams
from attention_atlas.render.diagrams import Edge, Node, flow_svg

SVG = "{http://www.w3.org/2000/svg}"
sizes = st.integers(min_value=1, max_value=4096)


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_self_attention_is_labelled_with_the_pages_shapes() -> None:
    root = parse(diagrams.self_attention_diagram(3, 4, 2))
    labels = texts(root)
    assert "Q = X · W_Q" in labels
    assert "(3×4) · (4×2) → (3×2)" in labels  # X (3×4) · W_Q (4×2) → Q (3×2)
    assert "(3×2) · (2×3) → (3×3)" in labels  # Q · Kᵀ
    assert "(3×3) · (3×2) → (3×2)" in labels  # Z = A · V
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert "from X (3×4) to Z (3×2)" in (root.find(f"{SVG}title").text or "")


@given(n=sizes, d_model=sizes, d_k=sizes, d_v=sizes)
def test_self_attention_shapes_follow_any_parameters(n: int, d_model: int, d_k: int, d_v: int):
    labels = texts(parse(diagrams.self_attention_diagram(n, d_model, d_k, d_v)))
    assert f"({n}×{d_model}) · ({d_model}×{d_v}) → ({n}×{d_v})" in labels
    assert f"({n}×{n}) · ({n}×{d_v}) → ({n}×{d_v})" in labels


@given(n=sizes, d_model=sizes, heads=st.integers(1, 64), d_k=sizes)
def test_multi_head_draws_its_heads_and_the_concatenation(
    n: int, d_model: int, heads: int, d_k: int
) -> None:
    root = parse(diagrams.multi_head_diagram(n, d_model, heads, d_k))
    labels = texts(root)
    assert f"split into {heads} heads" in labels
    assert f"{heads} × ({n}×{d_k}) → ({n}×{heads * d_k})" in labels
    assert f"({n}×{heads * d_k}) · ({heads * d_k}×{d_model}) → ({n}×{d_model})" in labels
    drawn = [t for t in labels if t.startswith("head ")]
    assert drawn == [f"head {h}: A_{h} ({n}×{n})" for h in range(heads)][:3] or (
        heads > 3
        and drawn == [f"head 0: A_0 ({n}×{n})", f"head {heads - 1}: A_{heads - 1} ({n}×{n})"]
    )


def test_linformer_projects_keys_and_values_to_p_rows() -> None:
    labels = texts(parse(diagrams.linformer_diagram(16, 4, 8)))
    assert "E (4×16) · (16×8) → (4×8)" in labels
    assert "F (4×16) · (16×8) → (4×8)" in labels
    assert "(16×8) · (8×4) → (16×4)" in labels  # the weights are N × P


def test_additive_net_scores_one_pair() -> None:
    root = parse(diagrams.additive_diagram(2, 2, 5, 4, 3))
    labels = texts(root)
    assert "score s_ij = v · tanh(…)" in labels
    assert "(2) · (2×5) → (5)" in labels
    assert "all pairs: (4×3), rows sum to 1" in labels


def test_labels_are_escaped_and_the_drawing_carries_no_script() -> None:
    hostile = '<script>alert("x")</script> & \x00\x1f'
    svg = flow_svg(
        [Node("a", hostile, "(1×1)", 0, 0), Node("b", "b", hostile, 0, 1, "output")],
        [Edge("a", "b")],
        title=hostile,
        description=hostile,
    )
    root = parse(svg)  # no XML-forbidden character survives
    assert "<script" not in svg
    assert not list(root.iter(f"{SVG}script"))
    assert '<script>alert("x")</script> & \ufffd\ufffd' in texts(root)
    assert "href" not in svg.replace("url(#", "")  # nothing loaded from elsewhere


def test_colours_follow_the_theme() -> None:
    svg = diagrams.self_attention_diagram(3, 4, 2)
    assert "currentColor" in svg
    assert "var(--md-default-fg-color" in svg and "var(--md-default-bg-color" in svg
    root = parse(svg)
    for el in root.iter():
        assert "fill" not in el.attrib and "stroke" not in el.attrib  # styles use variables


def test_marker_ids_differ_between_diagrams() -> None:
    a = parse(diagrams.self_attention_diagram(3, 4, 2)).find(f"{SVG}defs/{SVG}marker")
    b = parse(diagrams.linformer_diagram(16, 4, 8)).find(f"{SVG}defs/{SVG}marker")
    assert a is not None and b is not None and a.get("id") != b.get("id")


def test_boxes_are_wide_enough_for_their_longest_label() -> None:
    root = parse(diagrams.self_attention_diagram(4096, 4096, 4096))
    width = float(root.find(f"{SVG}g/{SVG}rect").get("width"))  # type: ignore[union-attr]
    longest = max(len(t) for t in texts(root))
    assert width >= longest * diagrams.SHAPE_CHAR
    assert float(root.get("width")) >= 3 * width  # type: ignore[arg-type]


def test_bad_diagrams_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unique"):
        flow_svg([Node("a", "", "", 0, 0), Node("a", "", "", 1, 0)], [], title="", description="")
    with pytest.raises(ValueError, match="'c', which is not a node"):
        flow_svg([Node("a", "", "", 0, 0)], [Edge("a", "c")], title="", description="")
    with pytest.raises(ValueError, match="at least one node"):
        flow_svg([], [], title="", description="")
    with pytest.raises(ValueError, match="positive"):
        diagrams.self_attention_diagram(0, 4, 2)


def test_the_figure_escapes_its_caption() -> None:
    html = diagrams.diagram_figure(diagrams.linformer_diagram(16, 4, 8), "<b>E</b> & F")
    assert html.startswith('<figure class="atlas-diagram-figure"')
    assert "<figcaption>&lt;b&gt;E&lt;/b&gt; &amp; F</figcaption>" in html
    assert "\n\n" not in html  # one Markdown block
