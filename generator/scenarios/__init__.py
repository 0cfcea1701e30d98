"""The registry of scenarios: every module in this package that defines ``SCENARIO``."""

from __future__ import annotations

import importlib
import pkgutil

from attention_atlas.errors import AtlasError
from attention_atlas.scenarios.base import Result, Scenario

__all__ = ["Result", "Scenario", "all_scenarios", "get", "select"]


def all_scenarios() -> tuple[Scenario, ...]:
    """Every scenario, in navigation order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        scenario = getattr(module, "SCENARIO", None)
        if isinstance(scenario, Scenario):
            found.append(scenario)
    return tuple(sorted(found, key=lambda s: (s.order, s.slug)))


def get(slug: str) -> Scenario:
    """The scenario named ``slug``; an ``AtlasError`` listing the known slugs otherwise."""
    scenarios = {s.slug: s for s in all_scenarios()}
    if slug not in scenarios:
        known = ", ".join(scenarios)
        msg = f"unknown scenario {slug!r}: expected one of {known}"
        raise AtlasError(msg)
    return scenarios[slug]


def select(slugs: list[str] | None) -> tuple[Scenario, ...]:
    """The named scenarios in navigation order (all of them when ``slugs`` is empty)."""
    if not slugs:
        return all_scenarios()
    wanted = {get(slug).slug for slug in slugs}
    return tuple(s for s in all_scenarios() if s.slug in wanted)
