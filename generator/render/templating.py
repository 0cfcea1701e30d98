"""The one Jinja2 environment: strict, autoescaping, and free of computation."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from attention_atlas.errors import AtlasError
from attention_atlas.render.mathml import math


def templates_dir() -> Path:
    """The templates: ``generator/templates`` links to ``templates/`` in a checkout and
    holds copies of them in an installed wheel."""
    return Path(__file__).resolve().parents[1] / "templates"


# Characters HTML or Markdown would act on, written as entities so text shows literally.
_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]#|~"} | {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
}


def literal(value: Any) -> Any:
    """Escape a plain string for HTML *and* Markdown; leave ``Markup`` and numbers alone.

    Installed as the environment's ``finalize``, so every ``{{ value }}`` that is not
    already markup (charts, math) reaches the page as literal text, whatever it holds.
    """
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return Markup("".join(_ENTITIES.get(c, c) for c in value))


def _fmt(value: float, digits: int = 4) -> str:
    """Fixed-point formatting with ``digits`` decimals; ``-0`` is written ``0``."""
    text = f"{float(value):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def place_figure(value: Any) -> Markup:
    """The ``figure`` filter: a :class:`~attention_atlas.charts.figure.Figure` as page HTML."""
    # Imported here, not at the top: the output checks that read templates_dir() run
    # before a command loads Altair (a refusal then takes a fraction of a second).
    from attention_atlas.charts.figure import Figure

    if isinstance(value, jinja2.Undefined):
        return Markup(str(value))  # StrictUndefined: the usual error naming the variable
    if not isinstance(value, Figure):
        msg = f"the figure filter takes a Figure, got {type(value).__name__}"
        raise TypeError(msg)
    return value.html()


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=literal,
    )
    env.globals["math"] = math
    env.filters["fmt"] = _fmt
    env.filters["figure"] = place_figure
    return env


def _template_line(exc: BaseException) -> str:
    """``file:line`` of the innermost template frame in ``exc``'s traceback, if any.

    Jinja2 rewrites tracebacks so that template code shows as the template's file and line.
    """
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def render(template: str, context: dict[str, Any]) -> str:
    """Render ``template`` (a name under ``templates/``) with ``context``.

    Raises
    ------
    AtlasError
        The template is missing, does not parse (the message names its file and line),
        or uses a name the context lacks.
    """
    try:
        return environment().get_template(template).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        msg = f"{exc.filename or exc.name}:{exc.lineno}: template syntax error: {exc.message}"
        raise AtlasError(msg) from None
    except jinja2.TemplateNotFound as exc:
        msg = f"{templates_dir() / str(exc.name)}: template not found (wanted by {template})"
        raise AtlasError(msg) from None
    except jinja2.TemplateError as exc:
        where = _template_line(exc) or str(templates_dir() / template)
        msg = f"{where}: template error: {exc.message or type(exc).__name__}"
        raise AtlasError(msg) from None


def template_sources() -> list[Path]:
    """Every template file, for cache keys."""
    return sorted(p for p in templates_dir().rglob("*") if p.is_file())
