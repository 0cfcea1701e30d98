"""What a screen reader hears of a chart: the tooltip in words, once, not field names."""

from __future__ import annotations

from typing import Any

from attention_atlas.charts.bars import bar_chart
from attention_atlas.charts.heatmap import heatmap_chart
from attention_atlas.charts.html import DESCRIPTION_FIELD, described, to_spec


def _units(spec: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(spec, dict):
        if "mark" in spec:
            found.append(spec)
        for key, value in spec.items():
            if key not in ("data", "params", "transform", "encoding"):
                found += _units(value)
    elif isinstance(spec, list):
        for child in spec:
            found += _units(child)
    return found


def test_heatmap_cells_are_described_by_query_key_and_weight() -> None:
    spec = to_spec(heatmap_chart([[0.25, 0.75], [0.5, 0.5]], ["a", "b"], ["c", "d"], title="t"))
    cells, text = _units(spec)
    assert cells["encoding"]["description"] == {"field": DESCRIPTION_FIELD, "type": "nominal"}
    (calc,) = [t for t in cells["transform"] if t.get("as") == DESCRIPTION_FIELD]
    expr = calc["calculate"]
    for words in ('"Query (attending) "', '"Key (attended to) "', '"weight "', '".4f"'):
        assert words in expr
    # The numbers written in the cells repeat the cells' descriptions: not read twice.
    assert text["mark"]["aria"] is False
    assert "description" not in text["encoding"]


def test_every_unit_with_a_tooltip_of_a_bar_chart_is_described() -> None:
    spec = to_spec(bar_chart([0.2, 0.8], ["x", "y"], title="bars"))
    speaking = [u for u in _units(spec) if "tooltip" in u.get("encoding", {})]
    assert speaking
    for unit in speaking:
        kind = unit["mark"]["type"] if isinstance(unit["mark"], dict) else unit["mark"]
        assert "description" in unit["encoding"] or kind == "text", unit


def test_describing_twice_changes_nothing_and_keeps_an_own_description() -> None:
    own = {"mark": "rect", "encoding": {"tooltip": [{"field": "v"}], "description": {"value": "x"}}}
    once = described({"layer": [own]})
    assert once["layer"][0]["encoding"]["description"] == {"value": "x"}
    spec = to_spec(heatmap_chart([[1.0]], ["a"], ["b"], title="t"))
    assert to_spec(spec) == spec


def test_text_on_its_own_is_read_as_written() -> None:
    table = {
        "mark": {"type": "text"},
        "encoding": {
            "text": {"field": "t", "type": "quantitative", "format": ".1f"},
            "x": {"field": "c", "type": "ordinal"},
            "y": {"field": "r", "type": "ordinal"},
        },
    }
    spec = described(table)
    assert spec["encoding"]["description"]["field"] == DESCRIPTION_FIELD
    (calc,) = spec["transform"]
    assert calc["calculate"] == 'format(datum["t"], ".1f")'
