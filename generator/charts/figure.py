"""A chart as a value: the Altair chart plus what a page needs beside it.

A :class:`Figure` leaves a scenario's ``context()``, a report or the Python API and
travels as it is: templates place it with the ``figure`` filter, export renders
its spec, the Markdown fence embeds it and a notebook displays it. It has the
three ways out of an Altair chart: :meth:`Figure.to_dict` (the spec),
:meth:`Figure._repr_mimebundle_` (notebooks, offline; ``_mime_`` for marimo) and
:meth:`Figure.html` (the snippet a page carries). Nothing downstream parses HTML to get
the chart back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import KW_ONLY, dataclass
from functools import cached_property
from typing import Any, get_args

import altair as alt
from markupsafe import Markup

from attention_atlas.charts.html import Renderer, snippet, spec_json, to_spec

__all__ = ["Figure", "figures_in"]


@dataclass(frozen=True)
class Figure:
    """One chart of a page, with its caption and name.

    Attributes
    ----------
    chart : altair chart or dict
        The chart, or its Vega-Lite spec.
    caption : str
        One line saying how to read the chart (plain text).
    name : str
        What export (``--chart``) and the fence (``chart:``) call it; unique within
        a page.
    alt_text : str, optional
        What the chart shows, in one line, for readers without scripts; defaults to
        the chart's title.
    renderer : {"svg", "canvas"}, optional
        Default: the chart's own hint, else canvas above
        :data:`~attention_atlas.charts.html.CANVAS_CELLS` cells.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_atlas.charts import heatmap_chart
    >>> chart = heatmap_chart(np.eye(2), ["a", "b"], ["a", "b"], title="Identity")
    >>> fig = Figure(chart, caption="Each row sums to 1.", name="identity")
    >>> fig.to_dict()["title"]["text"]
    'Identity'
    >>> str(fig.html()).startswith('<figure class="atlas-figure"')
    True
    """

    chart: alt.TopLevelMixin | Mapping[str, Any]
    _: KW_ONLY
    caption: str
    name: str = ""
    alt_text: str | None = None
    renderer: Renderer | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.chart, alt.TopLevelMixin | Mapping):
            msg = f"chart must be an Altair chart or a spec dict, got {type(self.chart).__name__}"
            raise TypeError(msg)
        for field in ("caption", "name"):
            value = getattr(self, field)
            if not isinstance(value, str):
                msg = f"{field} must be a string, got {type(value).__name__}"
                raise TypeError(msg)
        if self.renderer is not None and self.renderer not in get_args(Renderer):
            msg = f"renderer must be 'svg' or 'canvas', got {self.renderer!r}"
            raise ValueError(msg)

    @cached_property
    def _spec(self) -> dict[str, Any]:
        # Computed once: the page, the budget and export all read it.
        chart = self.chart if isinstance(self.chart, alt.TopLevelMixin) else dict(self.chart)
        return to_spec(chart)

    @cached_property
    def _payload(self) -> str:
        return spec_json(self._spec)

    def to_dict(self) -> dict[str, Any]:
        """The Vega-Lite spec as a page carries it (a copy: keys sorted, floats rounded)."""
        return copy.deepcopy(self._spec)

    def spec(self) -> dict[str, Any]:
        """The same as :meth:`to_dict`."""
        return self.to_dict()

    @property
    def spec_bytes(self) -> int:
        """Bytes of chart data the figure adds to a page (its spec as the page writes it)."""
        return len(self._payload.encode("utf-8"))

    def html(self) -> Markup:
        """The one-line HTML snippet a page carries (see
        :func:`~attention_atlas.charts.html.figure_html`)."""
        return snippet(
            self._spec,
            self._payload,
            caption=self.caption,
            renderer=self.renderer,
            alt_text=self.alt_text,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """Display in Jupyter, VS Code or nbconvert's HTML, offline: the page's snippet,
        with the chart scripts in the first output of the kernel's life (see
        :mod:`attention_atlas.charts.notebook`).

        A renderer chosen with ``alt.renderers.enable`` (``"json"``, ``"png"``,
        ``"mimetype"``, ...) is followed, except Altair's HTML ones, which load Vega
        from a CDN and draw nothing offline.
        """
        from attention_atlas.charts.notebook import OFFLINE_INSTEAD_OF, mimebundle

        if alt.renderers.active not in OFFLINE_INSTEAD_OF:
            renderer = alt.renderers.get()
            return renderer(self.to_dict()) if renderer else {}
        return mimebundle(self._spec, self.html())

    def _mime_(self) -> tuple[str, str]:
        """Display in marimo: the Vega-Lite spec, drawn by marimo's own Vega."""
        from attention_atlas.charts.notebook import marimo_mime

        return marimo_mime(self._spec)

    def __html__(self) -> str:
        # Jinja2 and MarkupSafe call this for ``{{ fig }}``: place a figure with the
        # ``figure`` filter instead, so every figure goes through one path.
        msg = f"place Figure {self.name!r} with the figure filter: {{{{ fig | figure }}}}"
        raise TypeError(msg)


def figures_in(value: Any) -> Iterator[Figure]:
    """Every :class:`Figure` inside ``value`` (mappings and lists, depth first, in order).

    A figure reached twice (the same object under two keys) is given once.
    """
    seen: set[int] = set()

    def walk(item: Any) -> Iterator[Figure]:
        if isinstance(item, Figure):
            if id(item) not in seen:
                seen.add(id(item))
                yield item
        elif isinstance(item, Mapping):
            for child in item.values():
                yield from walk(child)
        elif isinstance(item, list | tuple):
            for child in item:
                yield from walk(child)

    yield from walk(value)
