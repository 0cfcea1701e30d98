"""Static export of one chart to PNG, SVG, PDF or Vega-Lite JSON, offline and deterministic.

A target is a scenario slug (its main chart, or the figure ``--chart`` names) or a
``.npz`` dump (one head's map by default; see :func:`attention_atlas.dumps.charts.chart_names`).
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
import html.parser
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from attention_atlas.errors import AtlasError
from attention_atlas.fileio import write_if_changed

__all__ = [
    "FORMATS",
    "export",
    "normalize_pdf",
    "normalize_svg",
    "render_spec",
    "scenario_figure_chart",
    "scenario_figures",
    "scenario_head_chart",
    "target_spec",
    "themed",
]

Format = Literal["png", "svg", "pdf", "json"]
FORMATS: tuple[Format, ...] = ("png", "svg", "pdf", "json")

#: Pixel scale of PNG exports (2: sharp on high-density screens and in print).
PNG_SCALE = 2.0

_SVG_ID = re.compile(r'\bid="([^"]+)"')


# --------------------------------------------------------------------------- specs


class _SpecFinder(html.parser.HTMLParser):
    """Collects Vega-Lite specs held in ``data-*`` attributes of a figure's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.specs: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if not name.startswith("data-") or not value or not value.lstrip().startswith("{"):
                continue
            try:
                spec = json.loads(value)
            except ValueError:
                continue
            if isinstance(spec, dict) and _looks_like_spec(spec):
                self.specs.append(spec)


def _looks_like_spec(spec: dict[str, Any]) -> bool:
    keys = {"mark", "layer", "vconcat", "hconcat", "concat", "facet", "repeat", "spec"}
    return "$schema" in spec or bool(keys & spec.keys())


def spec_of(figure: Any) -> dict[str, Any] | None:
    """The Vega-Lite spec of a chart, or of the chart inside a figure's HTML, else ``None``."""
    to_dict = getattr(figure, "to_dict", None)
    if callable(to_dict):
        from attention_atlas.charts import to_spec

        return dict(to_spec(figure))
    if isinstance(figure, str) and "data-" in figure:
        finder = _SpecFinder()
        finder.feed(figure)
        finder.close()
        if finder.specs:
            return finder.specs[0]
    return None


def _scenario(slug: str) -> Any:
    from attention_atlas.scenarios import get

    return get(slug)


@functools.lru_cache(maxsize=8)
def _computed(slug: str) -> tuple[Any, dict[str, Any]]:
    scenario = _scenario(slug)
    result = scenario.compute(scenario)
    return result, scenario.context(result)


def scenario_figures(slug: str) -> dict[str, dict[str, Any]]:
    """A scenario's charts by name (context key without ``_fig``), in page order."""
    _, context = _computed(slug)
    figures = {}
    for key, value in context.items():
        spec = spec_of(value)
        if spec is not None:
            figures[key.removesuffix("_fig")] = spec
    if not figures:
        msg = f"scenario {slug!r} has no chart to export"
        raise AtlasError(msg)
    return figures


#: Figure names a scenario's main chart usually has, in order of preference.
MAIN_FIGURES = ("weights", "explorer", "grid", "map")


def main_figure(slug: str, figures: dict[str, Any]) -> str:
    """The figure a scenario is best known by: its declared ``main_figure`` if it has one,
    else the first of :data:`MAIN_FIGURES` it has, else its first figure."""
    declared = getattr(_scenario(slug), "main_figure", None)
    if isinstance(declared, str) and declared in figures:
        return declared
    return next((name for name in MAIN_FIGURES if name in figures), next(iter(figures)))


def _pick(slug: str, chart: str | None) -> tuple[str, dict[str, Any]]:
    figures = scenario_figures(slug)
    name = chart or main_figure(slug, figures)
    if name not in figures:
        msg = f"scenario {slug!r} has no chart {name!r}: expected one of {', '.join(figures)}"
        raise AtlasError(msg)
    return name, figures[name]


def scenario_figure_chart(slug: str, chart: str | None = None) -> tuple[Any, str]:
    """A scenario's figure as a Vega-Lite spec and its caption on the page (for the fence)."""
    name, spec = _pick(slug, chart)
    _, context = _computed(slug)
    caption = _caption(context.get(f"{name}_fig")) or f"From the {slug} page."
    return copy.deepcopy(spec), caption


class _CaptionFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = self.inside or tag == "figcaption"

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text.append(data)


def _caption(figure: Any) -> str:
    if not isinstance(figure, str):
        return ""
    finder = _CaptionFinder()
    finder.feed(figure)
    return " ".join("".join(finder.text).split())


_MAP_NAMES = ("weights", "attentions")


def _attention_array(result: Any) -> tuple[str, Any]:
    """The first ``weights`` / ``attentions`` array (or ``<prefix>_weights`` ...) and its prefix."""
    for key, value in result.arrays.items():
        for name in _MAP_NAMES:
            if (key == name or key.endswith(f"_{name}")) and getattr(value, "ndim", 0) in (2, 3, 4):
                return key.removesuffix(name), value
    return "", None


def scenario_dump(slug: str) -> Any:
    """A scenario's attention map as a checked dump, to pick a layer and head from.

    The map is the scenario's first array named ``weights`` or ``attentions`` (or
    ``<prefix>_weights`` / ``<prefix>_attentions``), shaped (..., N, M) with at most
    four axes; its labels are ``labels["<prefix>tokens"]`` (and
    ``labels["<prefix>key_tokens"]`` when M differs from N), else any label tuple of
    the right length, else positions.
    """
    from attention_atlas.dumps.read import validate_dump

    result, _ = _computed(slug)
    prefix, weights = _attention_array(result)
    if weights is None:
        msg = f"scenario {slug!r} has no attention map (weights) to pick a layer or head from"
        raise AtlasError(msg)
    n, m = weights.shape[-2:]
    labels = dict(result.labels)

    def find(preferred: str, size: int) -> tuple[str, ...]:
        if preferred in labels and len(labels[preferred]) == size:
            return tuple(labels[preferred])
        for value in labels.values():
            if len(value) == size:
                return tuple(value)
        return tuple(str(i) for i in range(size))

    tokens = find(f"{prefix}tokens", n)
    keys = find(f"{prefix}key_tokens", m) if m != n or f"{prefix}key_tokens" in labels else None
    return validate_dump(
        weights,
        list(tokens),
        None if keys is None else list(keys),
        source=f"scenario {slug!r}",
    )


def scenario_head_chart(
    slug: str,
    *,
    layer: int = 0,
    head: int = 0,
    hide_special: bool = False,
    renderer: Literal["svg", "canvas"] | None = None,
) -> tuple[Any, str]:
    """One head of a scenario's attention map as a chart, and a caption."""
    from attention_atlas.dumps import charts as dump_charts

    dump = scenario_dump(slug)
    chart = dump_charts.head_chart(
        dump,
        layer,
        head,
        hide_special=hide_special,
        renderer=renderer,
    )
    return chart, dump_charts.caption_for("map")


def target_spec(
    target: str,
    *,
    chart: str | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> dict[str, Any]:
    """The Vega-Lite spec to export for a slug or a ``.npz`` path (see the module docstring)."""
    from attention_atlas.charts import to_spec
    from attention_atlas.dumps import charts as dump_charts

    is_file = target.endswith(".npz") or os.sep in target or Path(target).is_file()
    if is_file:
        from attention_atlas.dumps.read import load_dump

        dump = load_dump(target)
        built = dump_charts.dump_chart(dump, chart or "map", layer=layer or 0, head=head or 0)
        return dict(to_spec(built))
    if layer is not None or head is not None:
        if chart is not None:
            msg = "--chart cannot be combined with --layer/--head for a scenario"
            raise AtlasError(msg)
        built, _ = scenario_head_chart(target, layer=layer or 0, head=head or 0)
        return dict(to_spec(built))
    return copy.deepcopy(_pick(target, chart)[1])


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


def render_spec(spec: dict[str, Any], fmt: Format) -> bytes:
    """The bytes of ``spec`` in ``fmt`` (deterministic; see the module docstring)."""
    if fmt not in FORMATS:
        msg = f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}"
        raise AtlasError(msg)
    full = themed(spec)
    if fmt == "json":
        text = json.dumps(full, sort_keys=True, indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")
    import vl_convert as vlc

    try:
        svg = normalize_svg(vlc.vegalite_to_svg(full, allowed_base_urls=[]))
        if fmt == "svg":
            return svg.encode("utf-8")
        if fmt == "png":
            return bytes(vlc.svg_to_png(svg, scale=PNG_SCALE))
        return normalize_pdf(bytes(vlc.svg_to_pdf(svg)))
    except ValueError as exc:
        msg = f"the chart could not be drawn as {fmt}: {str(exc).splitlines()[0]}"
        raise AtlasError(msg) from exc


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_if_changed(path, data)
    except OSError as exc:
        msg = f"--out {path}: cannot write there ({exc.strerror})"
        raise AtlasError(msg) from exc


def export(
    target: str,
    *,
    fmt: Format,
    out: Path,
    chart: str | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> Path:
    """Export one chart of ``target`` (a scenario slug or ``.npz`` path) into ``out``.

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
    data = render_spec(target_spec(target, chart=chart, layer=layer, head=head), fmt)
    _write_atomic(out, data)
    return out
