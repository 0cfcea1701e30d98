"""What a scenario is: parameters in, named arrays and facts out, then a page context.

A scenario module defines ``SCENARIO`` plus two pure functions:

- ``compute(scenario) -> Result``: runs ``attention_atlas.attention`` on the parameters.
- ``context(result) -> dict``: turns arrays into finished strings and
  :class:`~attention_atlas.charts.figure.Figure` values for its template
  ``templates/<slug>.md.j2``, which places each with the ``figure`` filter. Figures
  may sit anywhere in the context (inside lists and dicts too); their names are
  unique within a page. Templates never compute.

A scenario names its main figure (what ``attention-atlas export SLUG`` and a fence
with only ``scenario: SLUG`` show) and its main map (the attention weights a fence
or an export picks a layer and head from).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Result:
    """What ``compute`` returns: named arrays, token labels and scalar facts."""

    arrays: Mapping[str, np.ndarray]
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One page of the tutorial.

    Attributes
    ----------
    slug : str
        Kebab-case; names the page (``tutorial/<slug>.md``) and template (``<slug>.md.j2``).
    title : str
        Page title.
    question : str
        The reader's question, in their words; the page opens with it.
    summary : str
        One sentence: what the reader will be able to do after the page.
    order : int
        Position in the navigation.
    params : Mapping
        JSON-serialisable parameters; part of the cache key.
    seed : int
        Seed of every random generator the scenario uses.
    machine_dependent : bool
        The page shows measurements taken on the machine that builds it (times,
        peak memory). The build caches such a page per machine, so rebuilding on the
        same machine gives the same bytes and ``--force`` measures again.
    compute, context : callables
        See the module docstring.
    main_figure : str
        Name of the page's best-known figure (a ``Figure.name`` in the context).
    main_map : str
        Key in ``Result.arrays`` of the page's attention weights, shaped (M,) (one
        query), (N, M), (H, N, M) or (L, H, N, M).
    main_map_labels : (str, str)
        Keys in ``Result.labels`` of the main map's query (N) and key (M) labels;
        ``""`` numbers the positions instead.
    """

    slug: str
    title: str
    question: str
    summary: str
    order: int
    compute: Callable[[Scenario], Result]
    context: Callable[[Result], dict[str, Any]]
    main_figure: str
    main_map: str
    main_map_labels: tuple[str, str] = ("tokens", "tokens")
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    machine_dependent: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def template(self) -> str:
        return f"{self.slug}.md.j2"

    @property
    def page_path(self) -> str:
        """Path of the generated page inside the docs folder."""
        return f"tutorial/{self.slug}.md"
