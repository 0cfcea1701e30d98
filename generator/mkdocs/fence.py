"""The ``attention`` fence: an interactive attention chart from a few lines of Markdown.

In any MkDocs (or Zensical) site that loads the chart assets::

    ```attention
    scenario: self-attention     # or: file: data/run.npz (a .npz dump)
    layer: 0
    head: 0
    hide_special: true
    renderer: canvas
    ```

Options (a small YAML mapping; layers and heads are 0-based):

``scenario``
    A scenario slug (``attention-atlas list``). Without ``layer``/``head``/
    ``hide_special``/``chart`` the fence shows the scenario's main figure; with
    ``layer``/``head``/``hide_special``, one head of its main map.
``file``
    A ``.npz`` dump (see the report guide), relative to the docs folder when the
    ``attention-atlas`` plugin is on, else to the folder MkDocs runs in.
``chart``
    A named chart: a scenario's figure name, or for a file one of ``map`` (default),
    ``rows``, ``grid``, ``entropy``, ``special-share``, ``previous-token``,
    ``next-token``, ``pooled-mean``, ``pooled-max``.
``layer``, ``head``
    Which head to draw (default 0).
``hide_special``
    Hide [CLS]/[SEP]-like tokens and renormalise rows (self-attention maps only).
``renderer``
    ``svg`` or ``canvas`` (use canvas for large maps).
``caption``
    The line under the chart (a default says how to read it).

Bad options raise :class:`FenceError`, which stops the build with one line naming
the page (when known), the option and what was expected. The options are plain
``key: value`` lines: a body over :data:`MAX_FENCE_BYTES`, YAML anchors and aliases,
and nesting deeper than :data:`MAX_DEPTH` are refused before anything is built, and
any user text a message quotes is cut to a few dozen characters.

In a Zensical build (which runs no MkDocs plugin) the fence reads the page and the
docs folder from the rendering context Zensical gives each Markdown instance, so
``file:`` is relative to the docs folder and errors name the page there too; a bad
fence ends the build with one line instead of Zensical's traceback.

Register it with ``pymdownx.superfences``::

    custom_fences:
      - name: attention
        class: attention
        format: !!python/name:attention_atlas.mkdocs.fence.fence_format
        validator: !!python/name:attention_atlas.mkdocs.fence.fence_validator

or let the ``attention-atlas`` MkDocs plugin do it (and ship the assets).
"""

from __future__ import annotations

import functools
import os
import reprlib
import sys
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from markupsafe import Markup
from mkdocs.exceptions import BuildError
from pymdownx.superfences import SuperFencesException

from attention_atlas.errors import AtlasError
from attention_atlas.text import bytes_text, visible

if TYPE_CHECKING:
    from attention_atlas.charts.figure import Figure

__all__ = [
    "FENCE_NAME",
    "OPTIONS",
    "FenceError",
    "FenceOptions",
    "custom_fence",
    "fence_format",
    "fence_validator",
    "parse_options",
    "render_fence",
    "set_context",
]

FENCE_NAME = "attention"

Renderer = Literal["svg", "canvas"]

#: Every option a fence accepts.
OPTIONS = ("scenario", "file", "chart", "layer", "head", "hide_special", "renderer", "caption")

#: Largest fence body read (UTF-8 bytes): options take a few lines.
MAX_FENCE_BYTES = 64 * 1024

#: Deepest nesting of lists and mappings read (the options mapping itself is 1).
MAX_DEPTH = 4

#: Longest quotation of user input in a message, in characters.
QUOTE_CHARS = 60

#: Longest message a fence raises, in characters (the page and what went wrong).
MESSAGE_CHARS = 400

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = QUOTE_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4
_repr.maxlevel = 2


class FenceError(AtlasError, SuperFencesException, BuildError):
    """A fence's options are wrong; raised so that the build stops (and says where)."""

    def __init__(self, message: str) -> None:
        AtlasError.__init__(self, message)
        BuildError.__init__(self, message)  # MkDocs prints its ``message``

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class _Context:
    """Where fences are being rendered: set by the plugin, empty without it."""

    docs_dir: Path | None = None
    page: str | None = None


_context = _Context()

#: The page being rendered by Zensical in this thread (it may render pages in threads).
_host: ContextVar[_Context | None] = ContextVar("atlas_fence_host", default=None)


def set_context(*, docs_dir: str | os.PathLike[str] | None = None, page: str | None = None) -> None:
    """Tell fences the docs folder (for ``file:``) and the page (for errors); both reset.

    The MkDocs plugin calls this; without it, ``file:`` is resolved against the
    current folder and errors do not name the page.
    """
    _context.docs_dir = None if docs_dir is None else Path(docs_dir)
    _context.page = page


def _current() -> _Context:
    return _host.get() or _context


def _where() -> str:
    page = _current().page
    return f"attention fence in {page}" if page else "attention fence"


def _fail(what: str) -> FenceError:
    where = visible(_where())  # a page's path may hold a newline too
    room = max(QUOTE_CHARS, MESSAGE_CHARS - len(where) - 2)
    return FenceError(f"{where}: {_cut(what, room)}")


def _cut(text: str, limit: int) -> str:
    """``text`` shown visibly (one line, see :func:`visible`), at most ``limit`` characters."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _quote(value: Any) -> str:
    """A short ``repr`` of user input for a message (long or nested values are cut)."""
    return _cut(_repr.repr(value), QUOTE_CHARS + 10)


@dataclass(frozen=True)
class FenceOptions:
    """A fence's checked options."""

    scenario: str | None = None
    file: str | None = None
    chart: str | None = None
    layer: int | None = None
    head: int | None = None
    hide_special: bool = False
    renderer: Renderer | None = None
    caption: str | None = None


def _int_option(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(f"{key}: expected a whole number >= 0 (0-based), got {_quote(value)}")
    return value


def _str_option(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{key}: expected text, got {_quote(value)}")
    return value.strip()


def _check_shape(source: str) -> None:
    """Refuse a body too large, using anchors or aliases, or nested too deeply.

    Reads YAML events only (no value is built), so a few hundred bytes of nested
    aliases, which would expand to billions of items, cost nothing.
    """
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_FENCE_BYTES:
        raise _fail(
            f"the options are {bytes_text(size)}; a fence takes at most "
            f"{bytes_text(MAX_FENCE_BYTES)} of 'key: value' lines"
        )
    depth = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _fail(
                f"YAML anchors and aliases (&name, *name) are not allowed (line {line}): "
                "write each option's value in full"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(
                    f"the options nest more than {MAX_DEPTH} levels deep (line {line}): "
                    "write one 'key: value' a line"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse_options(source: str) -> FenceOptions:
    """Parse and check a fence body (``key: value`` lines, ``#`` comments allowed)."""
    try:
        if source.strip():
            _check_shape(source)
        raw = yaml.safe_load(source) if source.strip() else {}
        node = yaml.compose(source, Loader=yaml.SafeLoader) if source.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" on line {mark.line + 1}" if mark is not None else ""
        raise _fail(f"cannot read the options{line}: write one 'key: value' a line") from exc
    if not isinstance(raw, dict):
        raise _fail(f"expected 'key: value' lines, got {_quote(source.strip())}")
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value in seen:
                raise _fail(f"option {_quote(key.value)} is given twice")
            if isinstance(key, yaml.ScalarNode):
                seen.add(key.value)
    unknown = sorted(str(k) for k in raw if k not in OPTIONS)
    if unknown:
        raise _fail(f"unknown option {_quote(unknown[0])}: expected one of {', '.join(OPTIONS)}")
    scenario, file = _str_option(raw, "scenario"), _str_option(raw, "file")
    if (scenario is None) == (file is None):
        raise _fail("give exactly one of 'scenario: SLUG' or 'file: PATH.npz'")
    hide = raw.get("hide_special", False)
    if not isinstance(hide, bool):
        raise _fail(f"hide_special: expected true or false, got {_quote(hide)}")
    renderer = _str_option(raw, "renderer")
    if renderer is not None and renderer not in ("svg", "canvas"):
        raise _fail(f"renderer: expected 'svg' or 'canvas', got {_quote(renderer)}")
    chosen: Renderer | None = "svg" if renderer == "svg" else "canvas" if renderer else None
    return FenceOptions(
        scenario=scenario,
        file=file,
        chart=_str_option(raw, "chart"),
        layer=_int_option(raw, "layer"),
        head=_int_option(raw, "head"),
        hide_special=hide,
        renderer=chosen,
        caption=_str_option(raw, "caption"),
    )


def _resolve(path: str) -> Path:
    docs_dir = _current().docs_dir
    base = docs_dir or Path.cwd()
    candidate = Path(path)
    resolved = candidate if candidate.is_absolute() else base / candidate
    if not resolved.is_file():
        where = "the docs folder" if docs_dir else "the current folder"
        raise _fail(
            f"file: {_cut(path, QUOTE_CHARS)} not found (looked in {where}: "
            f"{_cut(str(resolved), 2 * QUOTE_CHARS)})"
        )
    return resolved


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> Any:
    from attention_atlas.dumps.read import load_dump

    return load_dump(path)


def render_fence(options: FenceOptions) -> Markup:
    """The figure HTML for checked options."""
    try:
        figure = _file_figure(options) if options.file is not None else _scenario_figure(options)
        if options.caption or options.renderer:
            figure = replace(
                figure,
                chart=figure.to_dict(),  # the spec it already made: no second validation
                caption=visible(options.caption) if options.caption else figure.caption,
                renderer=options.renderer or figure.renderer,
            )
        return figure.html()
    except FenceError:
        raise
    except AtlasError as exc:
        raise _fail(str(exc) or f"{type(exc).__name__} (no message)") from exc


def _file_figure(options: FenceOptions) -> Figure:
    from attention_atlas.export import dump_figure

    assert options.file is not None
    path = _resolve(options.file)
    return dump_figure(
        _load(str(path), path.stat().st_mtime),
        options.chart or "map",
        layer=options.layer or 0,
        head=options.head or 0,
        hide_special=options.hide_special,
        renderer=options.renderer,
    )


def _scenario_figure(options: FenceOptions) -> Figure:
    from attention_atlas import export

    assert options.scenario is not None
    by_head = options.layer is not None or options.head is not None or options.hide_special
    if by_head:
        if options.chart is not None:
            raise _fail("chart: cannot be combined with layer, head or hide_special")
        return export.scenario_head_figure(
            options.scenario,
            layer=options.layer or 0,
            head=options.head or 0,
            hide_special=options.hide_special,
            renderer=options.renderer,
        )
    return export.scenario_figure(options.scenario, options.chart)


def fence_validator(
    language: str, inputs: dict[str, str], options: dict[str, Any], attrs: dict[str, str], md: Any
) -> bool:
    """Superfences validator: the fence takes no ``{ ... }`` header options."""
    if inputs:
        keys = ", ".join(sorted(inputs))
        raise _fail(f"header options ({keys}) are not used: put 'key: value' lines in the fence")
    return True


def fence_format(
    source: str,
    language: str,
    css_class: str,
    options: dict[str, Any],
    md: Any,
    **kwargs: Any,
) -> str:
    """Superfences formatter: the chart's figure HTML (or a ``FenceError``).

    Superfences turns any other exception into a silent fall-back (the fence shows as
    text), so every failure is re-raised as a ``FenceError`` that stops the build.
    Under Zensical the page and docs folder come from its rendering context
    (:func:`zensical_page`), and a failure ends the build with one line
    (:func:`_quiet_zensical_exit`).
    """
    host = zensical_page(md) if _context.page is None else None
    token = _host.set(host)
    try:
        return str(render_fence(parse_options(source)))
    except FenceError as exc:
        if host is not None:
            _quiet_zensical_exit(str(exc))
        raise
    except Exception as exc:
        said = str(exc).strip() or "no message"
        error = _fail(f"could not draw the chart ({type(exc).__name__}: {said})")
        if host is not None:
            _quiet_zensical_exit(str(error))
        raise error from exc
    finally:
        _host.reset(token)


def zensical_page(md: Any) -> _Context | None:
    """The page and docs folder of a Zensical render, ``None`` outside Zensical.

    Zensical (which runs no MkDocs plugin) registers a ``rendering_context``
    preprocessor on every Markdown instance, holding the page (``page.path``, relative
    to the docs folder) and its configuration (``docs_dir``).
    """
    for processor in getattr(md, "preprocessors", None) or ():
        if getattr(processor, "name", None) != "rendering_context":
            continue
        page = getattr(getattr(processor, "page", None), "path", None)
        config = getattr(processor, "config", None) or {}
        docs_dir = config.get("docs_dir") if isinstance(config, dict) else None
        root = config.get("root_dir") if isinstance(config, dict) else None
        folder = None
        if isinstance(docs_dir, str | os.PathLike):
            folder = Path(docs_dir)
            if isinstance(root, str | os.PathLike):  # docs_dir is relative to the project root
                folder = Path(root) / folder
        return _Context(docs_dir=folder, page=str(page) if page else None)
    return None


#: Messages of the fences that failed in this process under Zensical.
_zensical_errors: list[str] = []


def _quiet_zensical_exit(message: str) -> None:
    """Make Zensical's end on a fence error one line: ``error: <message>``.

    Zensical renders pages from its Rust core, which wraps the error in a
    ``RuntimeError`` that reaches the top of ``zensical build`` and prints two
    tracebacks. This hook (installed once, for the process) prints the fence's own
    message instead when the uncaught error carries it; any other error keeps its
    traceback. The exit code stays Zensical's (1).
    """
    _zensical_errors.append(message)
    if getattr(sys.excepthook, "__atlas__", False):
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        said = str(value)
        known = [m for m in _zensical_errors if m in said]
        if known:
            print(f"error: {known[0]}", file=sys.stderr, flush=True)
        else:
            previous(kind, value, tb)

    hook.__atlas__ = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def custom_fence() -> dict[str, Any]:
    """The ``custom_fences`` entry for ``pymdownx.superfences``."""
    return {
        "name": FENCE_NAME,
        "class": FENCE_NAME,
        "format": fence_format,
        "validator": fence_validator,
    }
