"""Every scenario: computes, gives valid charts, renders a page that opens with its question."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable

import pytest

from attention_atlas.errors import ResourceUnavailable
from attention_atlas.scenarios import all_scenarios, get
from attention_atlas.scenarios.base import Scenario

SCENARIOS = all_scenarios()
SPEC = re.compile(r"data-spec='([^']*)'")


def test_slugs_are_unique_kebab_case_and_match_templates() -> None:
    from attention_atlas.render.templating import templates_dir

    slugs = [s.slug for s in SCENARIOS]
    assert len(slugs) == len(set(slugs))
    for slug in slugs:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug), slug
        assert (templates_dir() / f"{slug}.md.j2").is_file(), f"{slug}: no template"


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda s: s.slug)
def page(
    request: pytest.FixtureRequest, scenario_page: Callable[[str], str]
) -> tuple[Scenario, str]:
    """A scenario and its page (``render_scenario``, every chart validated; once a session)."""
    scenario = request.param
    try:
        return scenario, scenario_page(scenario.slug)
    except ResourceUnavailable as exc:
        pytest.skip(f"{scenario.slug}: {exc}")


@pytest.mark.slow  # computes and renders every scenario
def test_page_opens_with_the_question_and_has_charts(page: tuple[Scenario, str]) -> None:
    scenario, text = page
    assert f"# {scenario.title}" in html.unescape(text).split("\n", 3)[1]
    assert "The question" in text
    specs = SPEC.findall(text)
    assert specs, f"{scenario.slug}: page has no chart"
    for raw in specs:
        spec = json.loads(html.unescape(raw))
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
        assert '"title"' in json.dumps(spec), f"{scenario.slug}: a chart has no title"


def test_get_unknown_slug_lists_the_known_ones() -> None:
    from attention_atlas.errors import AtlasError

    with pytest.raises(AtlasError, match="single-annotation"):
        get("nope")
