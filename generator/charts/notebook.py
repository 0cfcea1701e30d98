"""Charts in notebooks, offline: the scripts travel with the output, once per notebook.

Jupyter front ends (JupyterLab, Notebook 7, classic Notebook, VS Code, and HTML made by
nbconvert) show a :class:`~attention_atlas.charts.figure.Figure` as ``text/html``: the
same snippet a page carries plus a one-line script asking the atlas renderer to draw
it. The renderer, the themes and Vega (the bundle built from ``vl-convert-python``,
about 0.9 MB) travel inside the first output that needs them in the kernel's life,
or inside the output of :func:`notebook`; later outputs only call
``window.atlasRenderAll()``, which the first one defined. No request leaves the page.

``notebook()`` also makes Altair display every chart (the builders' charts included)
the same way: Altair's own HTML renderer loads Vega from a CDN and draws nothing
offline.

marimo shows a Figure through ``_mime_`` as a Vega-Lite spec, drawn by the Vega that
marimo ships (no atlas script runs there). A chart that needs the atlas renderer (a
model view whose opened head's exact values are loaded from files beside a page)
says so in its subtitle there; in Jupyter that head's chart says "Exact values
unavailable" when the files are not beside the notebook.

Where scripts do not run (a notebook opened untrusted, a viewer that strips scripts)
the output shows a line saying that the chart is drawn when the cell runs.
"""

from __future__ import annotations

import copy
import html
import json
import re
from typing import Any

import altair as alt
from markupsafe import Markup

from attention_atlas.charts.browser import asset_texts
from attention_atlas.charts.html import snippet, spec_json, spec_title, to_spec

__all__ = [
    "OFFLINE_INSTEAD_OF",
    "RENDERER_NAME",
    "NotebookSetup",
    "altair_renderer",
    "marimo_spec",
    "mimebundle",
    "notebook",
    "scripts_html",
]

#: The name :func:`notebook` registers with ``altair.renderers``.
RENDERER_NAME = "attention-atlas"

#: Altair renderers a Figure replaces with its offline display: Altair's HTML ones (they
#: load Vega from a CDN) and this module's own.
OFFLINE_INSTEAD_OF = ("default", "html", "attention-atlas")

#: Whether this kernel has sent the scripts in an output already.
_state = {"sent": False}

#: Seconds an output waits for the scripts before saying they did not load.
WAIT_SECONDS = 20


_END_TAG = re.compile(r"</(script|style)|<!--", re.IGNORECASE)


def _inline(text: str) -> str:
    # Inside <script>/<style> only "</script", "</style" and "<!--" can end or confuse the
    # element (they occur in strings only); "<\/" means "</" there.
    return _END_TAG.sub(lambda m: "<\\" + m.group(0)[1:], text)


def scripts_html() -> str:
    """The stylesheet and scripts every chart needs, as inline HTML (about 0.9 MB).

    Running it twice in one page does nothing the second time (``atlasRenderAll``
    already exists); the renderer draws every chart of the page that is not drawn yet.
    """
    texts = asset_texts()
    scripts = "\n".join(_inline(texts[name]) for name in texts if name.endswith(".js"))
    return (
        f"<style>{_inline(texts['atlas.css'])}</style>"
        '<script>if (typeof window.atlasRenderAll !== "function") {\n'
        f"{scripts}\n}} else {{ window.atlasRenderAll(); }}</script>"
    )


def _take_scripts() -> str:
    """The scripts if this kernel has not sent them yet (then marked as sent), else ""."""
    if _state["sent"]:
        return ""
    _state["sent"] = True
    return scripts_html()


_DRAW = (
    "<script>(function (box) {"
    "if (!box) return;"
    'var note = box.querySelector(".atlas-static");'
    'var chart = box.querySelector(".atlas-chart");'
    "if (note) note.hidden = true;"
    'if (typeof window.atlasRenderAll === "function") window.atlasRenderAll();'
    "setTimeout(function () {"
    'if (chart && !chart.getAttribute("data-rendered") && note) {'
    "note.textContent = 'The chart library did not load in this page: run "
    "attention_atlas.notebook() in a cell above and run this cell again.';"
    "note.hidden = false; }"
    "}, %d);"
    "})(document.currentScript && document.currentScript.parentNode);</script>"
)


_NOSCRIPT = re.compile(r"<noscript>.*?</noscript>", re.S)


def _output_html(figure_html: str, title: str) -> str:
    # A notebook shows its own line where scripts do not run (and its sanitizer would show
    # the page's <noscript> text beside it).
    figure_html = _NOSCRIPT.sub("", figure_html)
    what = f"Interactive chart: {title}." if title else "Interactive chart."
    note = (
        f'<p class="atlas-static" style="font-style: italic">{html.escape(what)} '
        "It is drawn by the output's script, which has not run here: run the cell, "
        "or trust the notebook.</p>"
    )
    return (
        f'<div class="atlas-notebook">{_take_scripts()}{figure_html}{note}'
        f"{_DRAW % (WAIT_SECONDS * 1000)}</div>"
    )


def mimebundle(spec: dict[str, Any], figure: Markup) -> dict[str, str]:
    """A notebook's display of a chart: ``text/html`` (with the scripts the first time)
    and ``text/plain``.

    Parameters
    ----------
    spec : dict
        The chart's compact spec (:func:`~attention_atlas.charts.html.to_spec`), for its title.
    figure : Markup
        The chart's page snippet (:func:`~attention_atlas.charts.html.snippet`).
    """
    title = spec_title(spec)
    return {
        "text/html": _output_html(str(figure), title),
        "text/plain": f"<attention chart: {title}>" if title else "<attention chart>",
    }


def altair_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    """The Altair renderer :func:`notebook` enables: any Altair chart, drawn offline."""
    compact = to_spec(spec)
    return mimebundle(compact, snippet(compact, spec_json(compact), caption=""))


class NotebookSetup:
    """What :func:`notebook` returns: displayed, it carries the chart scripts (once)."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        _state["sent"] = True
        return {
            "text/html": (
                f'<div class="atlas-notebook-setup">{scripts_html()}'
                "<small>Attention Atlas: chart scripts loaded in this notebook (offline).</small>"
                "</div>"
            ),
            "text/plain": "Attention Atlas charts: ready (drawn offline in this notebook)",
        }

    def __repr__(self) -> str:
        return "<Attention Atlas notebook set-up>"


def notebook() -> NotebookSetup:
    """Set up a notebook for the atlas's charts, offline; call it once, at the top.

    Altair charts (every builder's result) then display through the atlas renderer
    instead of Altair's default, which loads Vega from a CDN. Left as a cell's last
    expression, the returned object displays the chart scripts there; otherwise the
    first chart displayed carries them. Figures need no set-up: they always display
    through the atlas renderer.

    Returns
    -------
    setup : NotebookSetup
        Displays the scripts (once) when it is a cell's result.
    """
    if RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(RENDERER_NAME, altair_renderer)
    alt.renderers.enable(RENDERER_NAME)
    return NotebookSetup()


def marimo_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` as marimo's own Vega draws it: a chart that needs the atlas renderer
    (``usermeta.atlas.heads``) says in its subtitle what is missing (a copy)."""
    meta = spec.get("usermeta", {}).get("atlas", {})
    if "heads" not in meta:
        return spec
    out = copy.deepcopy(spec)
    title = out.get("title")
    title = dict(title) if isinstance(title, dict) else {"text": title or ""}
    subtitle = title.get("subtitle") or []
    subtitle = [subtitle] if isinstance(subtitle, str) else list(subtitle)
    subtitle.append("Opened head: its thumbnail (exact values need the atlas page script)")
    title["subtitle"] = subtitle
    out["title"] = title
    return out


_SCHEMA_MAJOR = re.compile(r"/vega-lite/v(\d+)")


def marimo_mime(spec: dict[str, Any]) -> tuple[str, str]:
    """marimo's ``_mime_``: the spec under the Vega-Lite mimetype of its ``$schema``
    (``application/vnd.vegalite.v6+json``, as marimo shows an Altair 6 chart)."""
    found = _SCHEMA_MAJOR.search(str(spec.get("$schema", "")))
    mime = f"application/vnd.vegalite.v{found[1] if found else 5}+json"
    return mime, json.dumps(marimo_spec(spec), sort_keys=True)
