"""The charts' shared toolkit: what it builds without Altair's checks and lifting writes the
spec Altair's own calls write."""

from __future__ import annotations

from typing import Any

import altair as alt
import altair.utils.schemapi as schemapi
import pytest

from attention_atlas.charts.html import schema_validation, to_spec
from attention_atlas.charts.toolkit import (
    add_selection,
    add_top_level,
    condition_channel,
    restrict_views,
    unchecked,
    value_channel,
)
from attention_atlas.errors import AtlasError


def _concat() -> alt.VConcatChart:
    pick = alt.selection_point(name="pick", fields=["r"])
    top = alt.Chart(alt.sequence(0, 4, as_="r"), name="top").mark_rect().encode(y="r:O")
    bottom = alt.Chart(alt.sequence(0, 4, as_="r"), name="bottom").mark_bar().encode(x="r:O")
    return alt.vconcat(top.add_params(pick), bottom)


def test_variable_params_and_properties_give_the_spec_of_the_chained_calls() -> None:
    data = [alt.param(name="codes", value="00ff"), alt.param(name="step", value=[0.5])]
    chained = _concat().add_params(*data).properties(title="T", usermeta={"k": 1})
    in_place = add_top_level(_concat(), data, title="T", usermeta={"k": 1})
    assert in_place.to_dict() == chained.to_dict()


def test_a_selection_is_refused_by_name() -> None:
    with pytest.raises(AtlasError, match="variable params only, got SelectionParameter"):
        add_top_level(_concat(), [alt.selection_point(name="other")])


def _heat(name: str, stroke: object = alt.Undefined) -> alt.LayerChart:
    cells = alt.Chart(name=f"{name}_cells").mark_rect().encode(x=alt.X("r:O"), stroke=stroke)
    text = alt.Chart(name=f"{name}_text").mark_text().encode(x=alt.X("r:O"), text=alt.Text("r:N"))
    return alt.LayerChart(layer=[cells, text], data=alt.sequence(0, 4, as_="r"))


def test_a_selection_added_to_the_composed_chart_gives_the_spec_of_altairs_lifting() -> None:
    pick = alt.selection_point(name="pick", fields=["r"], on="click", value=[{"r": 1}])
    heat = _heat("a")
    heat.layer[0] = heat.layer[0].add_params(pick)
    lifted = alt.hconcat(heat, _heat("b"))
    restrict_views(lifted, "pick", ("a_cells",))
    composed = alt.hconcat(_heat("a"), _heat("b"))
    add_selection(composed, pick, ("a_cells",))
    assert composed.to_dict() == lifted.to_dict()
    assert composed.to_dict()["params"][0]["views"] == ["a_cells_0"]  # renamed by the concat


def test_add_selection_takes_a_selection_on_a_view_the_chart_has() -> None:
    with pytest.raises(AtlasError, match="takes a selection, got VariableParameter"):
        add_selection(alt.hconcat(_heat("a")), alt.param(name="v", value=1), ("a_cells",))
    with pytest.raises(AtlasError, match="no view named"):
        add_selection(alt.hconcat(_heat("a")), alt.selection_point(name="p"), ("z_",))


@pytest.mark.parametrize("test", ["datum.r > 1", alt.selection_point(name="pick")])
def test_channel_objects_write_what_encode_makes_of_altairs_dicts(test: Any) -> None:
    plain = (
        alt.Chart(name="c")
        .mark_rect()
        .encode(
            color=alt.condition(test, alt.value("red"), alt.value("blue")),
            strokeWidth=alt.value(2),
        )
    )
    built = (
        alt.Chart(name="c")
        .mark_rect()
        .encode(
            color=condition_channel(alt.ColorValue, test, "red", "blue"),
            strokeWidth=value_channel(alt.StrokeWidthValue, 2),
        )
    )
    assert built.to_dict(validate=False) == plain.to_dict(validate=False)


def test_unchecked_objects_are_validated_with_the_finished_spec() -> None:
    with pytest.raises(schemapi.SchemaValidationError):
        alt.Axis(labelAngle="steep")  # type: ignore[arg-type]
    axis = unchecked(alt.Axis, labelAngle="steep")
    assert schemapi.DEBUG_MODE  # Altair's own checks are back on afterwards
    assert unchecked(alt.Axis, labelAngle=45) == alt.Axis(labelAngle=45)
    chart = alt.Chart(alt.sequence(0, 2, as_="r")).mark_rect().encode(x=alt.X("r:O", axis=axis))
    with schema_validation(True), pytest.raises(schemapi.SchemaValidationError):
        to_spec(chart)
