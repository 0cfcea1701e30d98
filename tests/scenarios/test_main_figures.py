"""Every scenario declares a main figure and a main map that exist; each slug exports and
fences on its own.

Each scenario is computed once for the whole test session (the export module's cache,
which the fence and export tests share).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas import export
from attention_atlas.charts import Figure
from attention_atlas.errors import AtlasError, ResourceUnavailable
from attention_atlas.mkdocs.fence import fence_format
from attention_atlas.scenarios import all_scenarios
from attention_atlas.scenarios.base import Result, Scenario

SCENARIOS = all_scenarios()

#: Scenarios whose main map is not attention weights (rows do not sum to 1).
NOT_WEIGHTS = {"single-annotation": "products", "long-sequences": "mean"}


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda s: s.slug)
def computed(request: pytest.FixtureRequest) -> tuple[Scenario, Result, dict[str, Figure]]:
    scenario: Scenario = request.param
    try:
        result, _ = export._computed(scenario.slug)
    except ResourceUnavailable as exc:
        pytest.skip(f"{scenario.slug}: {exc}")
    return scenario, result, export.scenario_figures(scenario.slug)


def test_main_figure_is_one_of_the_page_figures(
    computed: tuple[Scenario, Result, dict[str, Figure]],
) -> None:
    scenario, _, figures = computed
    assert scenario.main_figure in figures, (scenario.slug, list(figures))
    for name, figure in figures.items():
        assert isinstance(figure, Figure) and figure.name == name
        assert figure.caption.strip(), name


def test_main_map_and_its_labels_exist(
    computed: tuple[Scenario, Result, dict[str, Figure]],
) -> None:
    scenario, result, _ = computed
    assert scenario.main_map in result.arrays, (scenario.slug, list(result.arrays))
    weights = np.asarray(result.arrays[scenario.main_map])
    assert 1 <= weights.ndim <= 4
    n = 1 if weights.ndim == 1 else weights.shape[-2]
    for key, size in zip(scenario.main_map_labels, (n, weights.shape[-1]), strict=True):
        if key:
            assert len(result.labels[key]) == size, (scenario.slug, key)


def test_main_map_gives_a_head_or_says_why_not(
    computed: tuple[Scenario, Result, dict[str, Figure]],
) -> None:
    scenario = computed[0]
    if scenario.slug in NOT_WEIGHTS:
        with pytest.raises(AtlasError, match=rf"main map '{NOT_WEIGHTS[scenario.slug]}' is not"):
            export.scenario_dump(scenario.slug)
        return
    dump = export.scenario_dump(scenario.slug)
    figure = export.scenario_head_figure(scenario.slug, layer=dump.layers - 1, head=dump.heads - 1)
    assert figure.to_dict()["title"]


def test_main_figure_exports_as_json(
    computed: tuple[Scenario, Result, dict[str, Figure]], tmp_path: Path
) -> None:
    scenario, _, figures = computed
    out = export.export(scenario.slug, fmt="json", out=tmp_path / "chart.json")
    written: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert written == export.themed(figures[scenario.main_figure].to_dict())


def test_a_fence_with_only_the_slug_shows_the_main_figure(
    computed: tuple[Scenario, Result, dict[str, Figure]],
) -> None:
    scenario, _, figures = computed
    page = fence_format(f"scenario: {scenario.slug}", "attention", "attention", {}, None)
    assert page == str(figures[scenario.main_figure].html())


def test_no_context_value_is_figure_html(
    computed: tuple[Scenario, Result, dict[str, Figure]],
) -> None:
    """Figures travel as values: no string in a context is a chart's markup."""
    _, _, figures = computed
    _, context = export._computed(computed[0].slug)

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list | tuple):
            return [s for v in value for s in strings(v)]
        return []

    assert not [s for s in strings(context) if "atlas-figure" in s or "data-spec" in s]
    assert figures


def test_export_list_names_every_chart_of_every_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from attention_atlas.cli import main

    assert main(["export", "--list"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    for scenario in SCENARIOS:
        listed = [row[1:] for row in rows if row[0] == scenario.slug]
        try:
            names = list(export.scenario_figures(scenario.slug))
        except ResourceUnavailable:
            continue
        assert sorted(name for name, *_ in listed) == sorted(names), scenario.slug
        assert [name for name, *flag in listed if flag == ["(default)"]] == [scenario.main_figure]
    assert {row[0] for row in rows} == {s.slug for s in SCENARIOS}


def test_export_list_of_a_dump_names_its_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from attention_atlas.cli import main
    from attention_atlas.dumps.charts import chart_names
    from attention_atlas.dumps.read import load_dump

    path = tmp_path / "run.npz"
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 2, 4))
    np.savez(path, attention=weights, tokens=np.array(["[CLS]", "a", "b", "[SEP]"]))
    assert main(["export", str(path), "--list"]) == 0
    names = [line.split("\t")[1] for line in capsys.readouterr().out.splitlines()]
    assert names == chart_names(load_dump(path))


def test_export_without_list_still_needs_format_and_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from attention_atlas.cli import main

    with pytest.raises(SystemExit) as info:
        main(["export", "self-attention"])
    assert info.value.code == 2
    assert "--format, --out" in capsys.readouterr().err
