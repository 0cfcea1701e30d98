"""Shared fixtures of the scenario tests: each scenario computed once a process, each page
rendered once a test session.

The registry, the figure and export tests and each scenario's own module read the same
scenarios. ``export``'s per-process cache (:func:`attention_atlas.export._computed`)
holds each computed scenario and its context; :func:`scenario_page` renders each page
once for every worker of the session. Both are read, never changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import shared_folder


def _render(slug: str) -> str:
    """``render_scenario(get(slug))``, from the result ``export`` computed in this process.

    The page is rendered by :func:`~attention_atlas.build.render_scenario` as the build
    renders it (context, figures with every chart validated, budget, template); only the
    computation is the one the figure and export tests share.
    """
    from attention_atlas import export
    from attention_atlas.build import render_scenario
    from attention_atlas.scenarios import get

    scenario = get(slug)
    computed_once = dataclasses.replace(scenario, compute=lambda s: export._computed(s.slug)[0])
    return render_scenario(computed_once)


@pytest.fixture(scope="session")
def scenario_page(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """The page text of a scenario (``render_scenario(get(slug))``), rendered once per
    test session: the first worker to ask renders it, the others read it.

    A scenario that cannot be computed (``ResourceUnavailable``) raises on every call.
    """
    pages: dict[str, str] = {}

    def page(slug: str) -> str:
        if slug not in pages:

            def make(folder: Path) -> None:
                text = _render(slug)
                folder.mkdir(parents=True)
                (folder / "page.md").write_text(text, encoding="utf-8")

            folder = shared_folder(tmp_path_factory, f"scenario-page-{slug}", make)
            pages[slug] = (folder / "page.md").read_text(encoding="utf-8")
        return pages[slug]

    return page
