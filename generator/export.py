"""Static export of one chart to PNG, SVG, PDF or Vega-Lite JSON, offline and deterministic.

A target is a scenario slug (its declared main figure, or the figure ``--chart``
names; with ``--layer``/``--head``, one head of its declared main map) or a ``.npz``
dump (one head's map by default; see :func:`attention_atlas.dumps.charts.chart_names`).
Either way the chart travels as a :class:`~attention_atlas.charts.figure.Figure`.
Images are drawn by vl-convert with the light theme on a white background; no
request leaves the machine (external URLs are refused).

Determinism: the same input gives the same bytes in any process. Vega numbers
the SVG's gradient and clip-path ids with a counter that keeps growing inside one
process, so ids are renumbered in order of appearance; PDF and PNG are drawn from
that normalised SVG (neither carries a timestamp). The PDF writer lists the
entries of resource dictionaries (fonts, patterns) in an order that changes from
process to process, so those entries are sorted (same bytes, same offsets).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attention_atlas.errors import AtlasError
from attention_atlas.fileio import write_if_changed
from attention_atlas.text import visible

if TYPE_CHECKING:
    from attention_atlas.charts.figure import Figure
    from attention_atlas.dumps.read import AttentionDump
    from attention_atlas.scenarios import Result, Scenario

__all__ = [
    "FORMATS",
    "chart_list",
    "dump_figure",
    "export",
    "normalize_pdf",
    "normalize_svg",
    "render_spec",
    "renderable",
    "scenario_dump",
    "scenario_figure",
    "scenario_figures",
    "scenario_head_figure",
    "target_figure",
    "target_spec",
    "themed",
]

Format = Literal["png", "svg", "pdf", "json"]
FORMATS: tuple[Format, ...] = ("png", "svg", "pdf", "json")

#: Pixel scale of PNG exports (2: sharp on high-density screens and in print).
PNG_SCALE = 2.0

_SVG_ID = re.compile(r'\bid="([^"]+)"')


# --------------------------------------------------------------------------- specs


def _scenario(slug: str) -> Scenario:
    from attention_atlas.scenarios import get

    return get(slug)


# One entry a scenario: the registry is small, and export, the fence and the tests
# ask for the same few scenarios again and again.
@functools.lru_cache(maxsize=32)
def _computed(slug: str) -> tuple[Result, dict[str, Any]]:
    scenario = _scenario(slug)
    result = scenario.compute(scenario)
    return result, scenario.context(result)


def scenario_figures(slug: str) -> dict[str, Figure]:
    """A scenario's figures by name, in page order (wherever they sit in its context)."""
    from attention_atlas.charts.figure import figures_in

    _, context = _computed(slug)
    figures: dict[str, Figure] = {}
    for figure in figures_in(context):
        if figure.name in figures:
            msg = f"scenario {slug!r} has two figures named {figure.name!r}"
            raise AtlasError(msg)
        figures[figure.name] = figure
    if not figures:
        msg = f"scenario {slug!r} has no chart to export"
        raise AtlasError(msg)
    return figures


def scenario_figure(slug: str, chart: str | None = None) -> Figure:
    """The figure ``chart`` of a scenario, by default its declared main figure."""
    figures = scenario_figures(slug)
    name = chart or _scenario(slug).main_figure
    if name not in figures:
        msg = f"scenario {slug!r} has no chart {name!r}: expected one of {', '.join(figures)}"
        raise AtlasError(msg)
    return figures[name]


def _map_labels(slug: str, result: Result, key: str, size: int, axis: str) -> list[str]:
    if not key:
        return [str(i) for i in range(size)]
    labels = result.labels.get(key)
    if labels is None or len(labels) != size:
        found = "missing" if labels is None else f"{len(labels)} labels"
        msg = f"scenario {slug!r}: main_map_labels names {key!r} for {size} {axis}, found {found}"
        raise AtlasError(msg)
    return list(labels)


def scenario_dump(slug: str) -> AttentionDump:
    """A scenario's declared main map as a checked dump, to pick a layer and head from.

    The map is ``result.arrays[scenario.main_map]``, shaped (M,) (one query row),
    (N, M), (H, N, M) or (L, H, N, M); its labels are the ``Result.labels`` that
    ``scenario.main_map_labels`` names (positions where it names none). A map whose
    rows do not sum to 1 (scores, block means) is refused with an ``AtlasError``.
    """
    import numpy as np

    from attention_atlas.dumps.read import validate_dump

    scenario = _scenario(slug)
    result, _ = _computed(slug)
    if scenario.main_map not in result.arrays:
        msg = f"scenario {slug!r} has no array {scenario.main_map!r} (its main_map)"
        raise AtlasError(msg)
    weights = np.asarray(result.arrays[scenario.main_map])
    if weights.ndim == 1:
        weights = weights[None, :]
    n, m = weights.shape[-2:] if weights.ndim >= 2 else (0, 0)
    rows, cols = scenario.main_map_labels
    tokens = _map_labels(slug, result, rows, n, "queries")
    keys = None if cols == rows else _map_labels(slug, result, cols, m, "keys")
    dump = validate_dump(weights, tokens, keys, source=f"scenario {slug!r}")
    if dump.warnings:
        # A user's dump is drawn as given, with a warning; a scenario's map that is not
        # attention weights (scores, pooled block means) must not be drawn as a head.
        msg = (
            f"scenario {slug!r}: its main map {scenario.main_map!r} is not attention weights "
            f"(rows do not sum to 1), so no layer or head can be drawn from it; "
            f"name one of its figures instead: {', '.join(scenario_figures(slug))}"
        )
        raise AtlasError(msg)
    return dump


def dump_figure(dump: AttentionDump, name: str = "map", **options: Any) -> Figure:
    """The chart ``name`` of a dump as a figure with its default caption.

    ``options`` (``layer``, ``head``, ``hide_special``, ``renderer``) go to
    :func:`attention_atlas.dumps.charts.dump_chart`; the renderer is the figure's too.
    """
    from attention_atlas.charts.figure import Figure
    from attention_atlas.dumps import charts as dump_charts

    chart = dump_charts.dump_chart(dump, name, **options)
    caption = dump_charts.caption_for(name)
    return Figure(chart, caption=caption, name=name, renderer=options.get("renderer"))


def scenario_head_figure(slug: str, **options: Any) -> Figure:
    """One head of a scenario's main map (see :func:`scenario_dump`) as a figure;
    ``options`` as for :func:`dump_figure`."""
    return dump_figure(scenario_dump(slug), **options)


def target_figure(
    target: str,
    *,
    chart: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    max_memory: int | str | None = None,
) -> Figure:
    """The figure to export for a slug or a ``.npz`` path (see the module docstring).

    ``max_memory`` (bytes or ``"4G"``) bounds the memory spent on a ``.npz`` dump
    (:func:`attention_atlas.dumps.read.load_dump`); a slug ignores it.
    """
    if _is_file(target):
        from attention_atlas.dumps.read import load_dump

        dump = load_dump(target, max_memory=max_memory)
        return dump_figure(dump, chart or "map", layer=layer or 0, head=head or 0)
    if layer is not None or head is not None:
        if chart is not None:
            msg = "--chart cannot be combined with --layer/--head for a scenario"
            raise AtlasError(msg)
        return scenario_head_figure(target, layer=layer or 0, head=head or 0)
    return scenario_figure(target, chart)


def _is_file(target: str) -> bool:
    """Whether ``target`` names a dump file rather than a scenario slug."""
    return target.endswith((".npz", ".safetensors")) or os.sep in target or Path(target).is_file()


def chart_list(target: str | None = None) -> list[tuple[str, str, bool]]:
    """What ``--chart`` can name: ``(target, chart, is_default)`` rows.

    Without ``target``, every chart of every scenario in navigation order, each
    scenario's main figure first; with a slug, that scenario's; with a ``.npz`` path,
    the charts of that dump (``.npz`` or ``.safetensors``; ``map`` is the default).
    """
    from attention_atlas.scenarios import all_scenarios

    if target is not None and _is_file(target):
        from attention_atlas.dumps.charts import chart_names
        from attention_atlas.dumps.read import load_dump

        return [(target, name, name == "map") for name in chart_names(load_dump(target))]
    slugs = [s.slug for s in all_scenarios()] if target is None else [_scenario(target).slug]
    rows: list[tuple[str, str, bool]] = []
    for slug in slugs:
        main = _scenario(slug).main_figure
        names = sorted(scenario_figures(slug), key=lambda name: name != main)  # stable
        rows += [(slug, name, name == main) for name in names]
    return rows


def target_spec(target: str, **options: Any) -> dict[str, Any]:
    """The Vega-Lite spec of ``target_figure(target, **options)``."""
    return target_figure(target, **options).to_dict()


# --------------------------------------------------------------------------- rendering


def themed(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with the site's light theme and a white background (a copy)."""
    from attention_atlas.charts.theme import theme_config

    out = copy.deepcopy(spec)
    config = theme_config("light")
    config.update(out.get("config") or {})
    config["background"] = "white"
    out["config"] = config
    out["background"] = "white"
    return out


def normalize_svg(svg: str) -> str:
    """Renumber the SVG's ids (``atlas-0``, ``atlas-1``, ...) in order of appearance."""
    names: dict[str, str] = {}
    for match in _SVG_ID.finditer(svg):
        names.setdefault(match.group(1), f"atlas-{len(names)}")
    if not names:
        return svg
    pattern = re.compile(
        r'(\bid="|url\(#|href="#)('
        + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        + r')(?=["\)])'
    )
    return pattern.sub(lambda m: m.group(1) + names[m.group(2)], svg)


_PDF_REF = re.compile(rb"\b(\d+) 0 R\b")
_PDF_DICT = re.compile(rb"<<\n((?:[ \t]+/[^\n<>]*\n)+?)[ \t]*>>")
_PDF_XREF = re.compile(rb"\nxref\n0 (\d+)\r?\n")


def _sort_dicts(text: bytes) -> bytes:
    """Sort the entries of simple one-line-per-entry dictionaries in ``text``."""

    def sort_entries(match: re.Match[bytes]) -> bytes:
        lines = match.group(1).splitlines(keepends=True)
        if len({line[: len(line) - len(line.lstrip())] for line in lines}) != 1:
            return match.group(0)
        whole, start = match.group(0), match.start(1) - match.start(0)
        return whole[:start] + b"".join(sorted(lines)) + whole[start + len(match.group(1)) :]

    return _PDF_DICT.sub(sort_entries, text)


def normalize_pdf(pdf: bytes) -> bytes:
    """Rewrite a PDF with objects numbered and ordered canonically (from the catalog down).

    The PDF writer emits font objects and resource entries in hash-map order, which
    differs from process to process. Here dictionary entries are sorted, objects are
    renumbered in breadth-first order of their references starting at the trailer's
    ``/Root`` and ``/Info``, and the cross-reference table is rebuilt. Stream data is
    copied unchanged. A file this cannot read is returned as it is.
    """
    xref = _PDF_XREF.search(pdf)
    trailer_at = pdf.rfind(b"trailer")
    if xref is None or trailer_at < xref.start():
        return pdf
    count = int(xref.group(1))
    entries = pdf[xref.end() : trailer_at].split()
    if len(entries) != 3 * count:
        return pdf
    offsets = {
        number: int(entries[3 * number])
        for number in range(count)
        if entries[3 * number + 2] == b"n"
    }
    ends = [*sorted(offsets.values()), xref.start() + 1]
    bodies: dict[int, tuple[bytes, bytes]] = {}  # number -> (dictionary part, stream part)
    for number, offset in offsets.items():
        chunk = pdf[offset : ends[ends.index(offset) + 1]]
        head = f"{number} 0 obj\n".encode()
        if not chunk.startswith(head):
            return pdf
        body = chunk[len(head) :]
        cut = body.find(b"\nstream\n")
        if cut < 0:
            bodies[number] = (_sort_dicts(body), b"")
        else:
            bodies[number] = (_sort_dicts(body[:cut]), body[cut:])
    trailer = _sort_dicts(pdf[trailer_at : pdf.rfind(b"startxref")])
    order: list[int] = []
    queue = [int(m.group(1)) for m in _PDF_REF.finditer(trailer)]
    seen: set[int] = set()
    while queue:
        number = queue.pop(0)
        if number in seen or number not in bodies:
            continue
        seen.add(number)
        order.append(number)
        queue.extend(int(m.group(1)) for m in _PDF_REF.finditer(bodies[number][0]))
    order += sorted(n for n in bodies if n not in seen)
    new = {old: i + 1 for i, old in enumerate(order)}

    def renumber(text: bytes) -> bytes:
        return _PDF_REF.sub(lambda m: b"%d 0 R" % new.get(int(m.group(1)), 0), text)

    out = bytearray(pdf[: min(offsets.values())])
    positions = []
    for old in order:
        positions.append(len(out))
        head_part, stream_part = bodies[old]
        out += b"%d 0 obj\n" % new[old] + renumber(head_part) + stream_part
    if not out.endswith(b"\n"):
        out += b"\n"
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(order) + 1)
    for position in positions:
        out += b"%010d 00000 n\r\n" % position
    out += renumber(trailer).replace(b"/Size %d" % count, b"/Size %d" % (len(order) + 1))
    out += b"startxref\n%d\n%%%%EOF" % start
    return bytes(out)


#: Characters the renderer aborts on (XML 1.0 refuses them: C0 controls other than tab,
#: newline and carriage return, U+FFFE, U+FFFF) and lone surrogates (no UTF-8 for them).
_UNRENDERABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

#: Spec keys whose strings are Vega expressions: there an escape such as ``\x01`` would be
#: read back as the character, so U+FFFD replaces it instead.
_EXPRESSION_KEYS = frozenset({"expr", "labelExpr", "calculate", "filter", "test", "update"})


def renderable(spec: Any, key: str = "") -> Any:
    r"""``spec`` with every string made safe for vl-convert (a copy; ``spec`` is unchanged).

    Characters in :data:`_UNRENDERABLE` become visible escapes (``\x01``, ``\ufffe``,
    ``\ud800``; see :func:`attention_atlas.text.visible`), or U+FFFD inside Vega
    expressions. Chart builders already show labels this way; this covers any spec.
    """
    if isinstance(spec, str):
        if not _UNRENDERABLE.search(spec):
            return spec
        swap = (lambda m: "\ufffd") if key in _EXPRESSION_KEYS else (lambda m: visible(m[0]))
        return _UNRENDERABLE.sub(swap, spec)
    if isinstance(spec, dict):
        return {k: renderable(v, k if isinstance(k, str) else key) for k, v in spec.items()}
    if isinstance(spec, list | tuple):
        return [renderable(v, key) for v in spec]
    return spec


def _spec_name(spec: dict[str, Any]) -> str:
    """The chart's title (cut short), to say which chart failed."""
    title = spec.get("title")
    text = title.get("text") if isinstance(title, dict) else title
    if isinstance(text, list):
        text = " ".join(str(t) for t in text)
    if not isinstance(text, str) or not text.strip():
        return "the chart"
    shown = visible(" ".join(text.split()))
    return f"the chart “{shown if len(shown) <= 60 else shown[:59] + '…'}”"


def _renderer_error(exc: BaseException) -> str:
    r"""What vl-convert said, on one line: its header and first reason, never empty.

    Its messages read ``"Vega-Lite to SVG conversion failed:\nError: <reason>\n    at
    ..."``; the stack lines name the renderer's own bundle and are left out.
    """
    lines = [line.strip() for line in str(exc).splitlines()]
    said = [line for line in lines if line and not line.startswith("at ")][:2]
    text = visible(" ".join(said))
    if not said or text.endswith(":"):
        text = f"{text} vl-convert raised {type(exc).__name__} with no message".strip()
    return text if len(text) <= 300 else text[:299] + "…"


def render_spec(spec: dict[str, Any], fmt: Format) -> bytes:
    """The bytes of ``spec`` in ``fmt`` (deterministic; see the module docstring).

    JSON is the spec exactly as given (a lone surrogate is written as its JSON escape,
    so the file is valid UTF-8); images are drawn from :func:`renderable` of it.
    """
    if fmt not in FORMATS:
        msg = f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}"
        raise AtlasError(msg)
    full = themed(spec)
    if fmt == "json":
        text = json.dumps(full, sort_keys=True, indent=2, ensure_ascii=False)
        # Outside strings json.dumps writes ASCII only, so a character UTF-8 cannot
        # encode (a lone surrogate) sits in a string, where "\udXXX" is its JSON escape.
        return (text + "\n").encode("utf-8", "backslashreplace")
    import vl_convert as vlc

    try:
        svg = normalize_svg(vlc.vegalite_to_svg(renderable(full), allowed_base_urls=[]))
        if fmt == "svg":
            return svg.encode("utf-8")
        if fmt == "png":
            return bytes(vlc.svg_to_png(svg, scale=PNG_SCALE))
        return normalize_pdf(bytes(vlc.svg_to_pdf(svg)))
    except Exception as exc:  # the renderer's errors are ValueError, but any must say what
        msg = f"{_spec_name(full)} could not be drawn as {fmt}: {_renderer_error(exc)}"
        raise AtlasError(msg) from exc


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_if_changed(path, data)
    except OSError as exc:
        msg = f"--out {path}: cannot write there ({exc.strerror})"
        raise AtlasError(msg) from exc


def export(target: str, *, fmt: Format, out: Path, **options: Any) -> Path:
    """Export one chart of ``target`` (a scenario slug or ``.npz`` path) into ``out``.

    ``options`` pick the chart as for :func:`target_figure`: ``chart``, ``layer``,
    ``head`` and ``max_memory`` (bytes or ``"4G"``, bounding the memory spent on a
    ``.npz`` dump).

    Returns
    -------
    out : Path
        The written file.
    """
    if fmt not in FORMATS:
        msg = f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}"
        raise AtlasError(msg)
    if out.is_dir():
        msg = f"--out {out}: is a folder, expected a file name such as chart.{fmt}"
        raise AtlasError(msg)
    spec = target_spec(target, **options)
    data = render_spec(spec, fmt)
    _write_atomic(out, data)
    return out
