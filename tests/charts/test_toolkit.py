"""The charts' shared toolkit: top-level params set in place match Altair's own lifting."""

from __future__ import annotations

import altair as alt
import pytest

from attention_atlas.charts.toolkit import add_top_level
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
