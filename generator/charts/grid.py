"""Every head at every depth in one chart: a layers x heads grid and the picked head large.

Small maps travel as quantised cells (hover shows values). Large stacks of maps (more than
``THUMBNAIL_CELLS`` cells) travel as one PNG thumbnail per head, drawn with the same
viridis colours as the cells, which keeps a 72-head model view light enough for a phone.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from typing import Any, cast

import altair as alt
import numpy as np
from numpy.typing import ArrayLike, NDArray

from generator.charts.encoding import encode_matrix, label_list
from generator.charts.heatmap import atlas_usermeta, chart_title, position_axis, restrict_views
from generator.charts.theme import HIGHLIGHT, VIRIDIS_STOPS
from generator.errors import ShapeError

__all__ = ["THUMBNAIL_CELLS", "head_grid_chart", "viridis_lut"]

#: Above this many cells in all heads together, heads are drawn as PNG thumbnails.
THUMBNAIL_CELLS = 200_000


@lru_cache(maxsize=1)
def viridis_lut() -> NDArray[np.uint8]:
    """(256, 3) RGB colours of Vega's viridis, interpolated linearly between its stops."""
    stops = np.frombuffer(bytes.fromhex(VIRIDIS_STOPS), dtype=np.uint8).reshape(-1, 3)
    at = np.linspace(0.0, 1.0, len(stops))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, at, stops[:, ch].astype(np.float64)) for ch in range(3)], axis=1)
    return np.rint(lut).astype(np.uint8)


def png_data_url(weights: NDArray[np.float64], domain: tuple[float, float] = (0.0, 1.0)) -> str:
    """One map, shape (N, M), as a viridis PNG (one pixel per cell) in a data URL."""
    from PIL import Image

    lo, hi = domain
    codes = np.rint(np.clip((weights - lo) / (hi - lo), 0.0, 1.0) * 255).astype(np.uint8)
    image = Image.fromarray(viridis_lut()[codes], mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


HEAD_TOOLTIP = [alt.Tooltip("ln:N", title="layer"), alt.Tooltip("hn:N", title="head")]


def head_names_calc(name: str) -> dict[str, str]:
    """Calculated layer and head names (``ln``, ``hn``) from their positions."""
    return {"ln": f"{name}_ln[datum.l]", "hn": f"{name}_hn[datum.h]"}


def picked_title(name: str) -> dict[str, str]:
    """Title expression naming the picked layer and head."""
    store = f"data('{name}_pick_store')"
    return {
        "expr": f"length({store}) ? 'Layer ' + {name}_ln[{store}[0].values[0]] + ', head ' "
        f"+ {name}_hn[{store}[0].values[1]] : ''"
    }


def frame_layer(pick: alt.Parameter, name: str) -> alt.Chart:
    """A rect covering the whole small map, outlined when its head is the picked one."""
    return (
        alt.Chart(name=f"{name}_frame")
        .mark_rect(filled=False, strokeWidth=3)
        .encode(stroke=alt.condition(pick, alt.value(HIGHLIGHT), alt.value("transparent")))
    )


def _names(given: Any, count: int, prefix: str, what: str) -> list[str]:
    if given is None:
        return [f"{prefix}{i}" for i in range(count)]
    return label_list(given, count, what)


def _picker(name: str, layers: list[str], heads: list[str]) -> alt.Parameter:
    """A (layer, head) selection: click a small map, or choose from the two menus."""
    return alt.selection_point(
        name=f"{name}_pick",
        fields=["l", "h"],
        on="click",
        clear=False,
        value=[{"l": 0, "h": 0}],
        bind=cast(
            Any,
            {
                "l": alt.binding_select(
                    options=list(range(len(layers))), labels=layers, name="Layer "
                ),
                "h": alt.binding_select(
                    options=list(range(len(heads))), labels=heads, name="Head "
                ),
            },
        ),
    )


def head_grid_chart(
    weights: ArrayLike,
    row_labels: Any,
    col_labels: Any,
    *,
    title: str,
    layer_names: Any = None,
    head_names: Any = None,
    subtitle: str | list[str] | None = None,
    thumbnails: bool | None = None,
    name: str = "grid",
) -> alt.HConcatChart:
    """Model view: a grid of every head's map (layers down, heads across), the picked head large.

    Parameters
    ----------
    weights : array_like, shape (L, H, N, M)
        Attention weights of every layer and head (values in [0, 1]).
    row_labels : sequence of str, length N
        Query tokens.
    col_labels : sequence of str, length M
        Key tokens.
    title : str
    layer_names, head_names : sequence of str, optional
        Defaults ``L0, L1, ...`` and ``H0, H1, ...`` (0-based).
    subtitle : str or list of str, optional
        Say here when tokens are hidden or rows renormalised.
    thumbnails : bool, optional
        Draw each head as a PNG image; ``None`` does so above ``THUMBNAIL_CELLS`` cells.
    name : str
        Prefix of param and view names.

    Returns
    -------
    chart : altair.HConcatChart

    Notes
    -----
    Cell mode sends about 2 bytes per cell (256 levels as two hex digits). Thumbnail mode
    sends one PNG per head; the enlarged head is the same image, so its tooltip gives
    the layer and head but not cell values.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 4 or 0 in w.shape:
        msg = f"weights must be shaped (L, H, N, M), got shape {w.shape}"
        raise ShapeError(msg)
    n_layers, n_heads, n, m = w.shape
    rows = label_list(row_labels, n, "row_labels")
    cols = label_list(col_labels, m, "col_labels")
    layers = _names(layer_names, n_layers, "L", "layer_names")
    heads = _names(head_names, n_heads, "H", "head_names")
    cells = w.size
    if thumbnails is None:
        thumbnails = cells > THUMBNAIL_CELLS
    pick = _picker(name, layers, heads)
    lparam, hparam = f"{name}_ln", f"{name}_hn"
    header = {
        "row": alt.Header(labelExpr=f"{lparam}[datum.value]", title=None, labelAngle=0),
        "column": alt.Header(labelExpr=f"{hparam}[datum.value]", title=None),
    }
    side = max(36, min(72, 4 * max(n, m)))
    hint = "Click a map, or use the menus, to open one head on the right."
    sub = [subtitle] if isinstance(subtitle, str) else list(subtitle or [])
    if thumbnails:
        grid, detail, params = _thumbnail_views(w, pick, layers, heads, side, name)
        sub.append("Heads drawn as images: hovering gives layer and head, not cell values.")
    else:
        grid, detail, params = _cell_views(w, pick, rows, cols, side, name)
    faceted = grid.facet(
        row=alt.Row("l:O", header=header["row"]),
        column=alt.Column("h:O", header=header["column"]),
        spacing=3,
    )
    chart = alt.hconcat(faceted, detail, spacing=24).add_params(
        alt.param(name=lparam, value=layers), alt.param(name=hparam, value=heads), *params
    )
    restrict_views(chart, pick.name, (f"{name}_cells", f"{name}_thumbs"))
    return chart.properties(
        title=chart_title(title, [*sub, hint]),
        usermeta=atlas_usermeta(cells=cells, renderer_hint="canvas"),
    )


def _cell_views(
    w: NDArray[np.float64],
    pick: alt.Parameter,
    rows: list[str],
    cols: list[str],
    side: int,
    name: str,
) -> tuple[alt.LayerChart, alt.Chart, list[alt.Parameter]]:
    _, n_heads, n, m = w.shape
    enc = encode_matrix(w.reshape(-1, m), quantize=True, domain=(0.0, 1.0))
    vparam, rparam, cparam = f"{name}_v", f"{name}_rl", f"{name}_cl"
    per = n * m
    calc = {
        "g": f"floor(datum.i / {per})",
        "l": f"floor(datum.g / {n_heads})",
        "h": f"datum.g % {n_heads}",
        "r": f"floor((datum.i % {per}) / {m})",
        "c": f"datum.i % {m}",
        "v": enc.decode_expr(vparam),
        "q": f"datum.r + ': ' + {rparam}[datum.r]",
        "k": f"datum.c + ': ' + {cparam}[datum.c]",
    }
    color = alt.Color(
        "v:Q",
        scale=alt.Scale(scheme="viridis", domain=[0, 1], clamp=True),
        legend=alt.Legend(title="weight", orient="bottom"),
    )
    cells = (
        alt.Chart(name=f"{name}_cells")
        .mark_rect()
        .encode(
            x=alt.X("c:O", axis=None),
            y=alt.Y("r:O", axis=None),
            color=color,
            tooltip=HEAD_TOOLTIP,
        )
        .add_params(pick)
    )
    frame = frame_layer(pick, name).transform_filter("datum.r == 0 && datum.c == 0")
    grid = (
        alt.layer(frame, cells, data=alt.sequence(0, w.size, as_="i"))
        .transform_calculate(**calc, **head_names_calc(name))
        .properties(width=side, height=side)
    )
    step = max(6, min(22, 440 // max(n, m)))
    tooltip = [
        alt.Tooltip("q:N", title="Query"),
        alt.Tooltip("k:N", title="Key"),
        alt.Tooltip("v:Q", title="weight (quantised to 256 levels)", format=".3f"),
    ]
    detail = (
        alt.Chart(alt.sequence(0, w.size, as_="i"), name=f"{name}_head")
        .transform_calculate(**calc)
        .transform_filter(pick)
        .mark_rect()
        .encode(
            x=alt.X(
                "c:O",
                scale=alt.Scale(domain={"expr": f"sequence(0, {m})"}),
                axis=position_axis(cparam, "Key", count=m, step=step, max_chars=12, orient="top"),
            ),
            y=alt.Y(
                "r:O",
                scale=alt.Scale(domain={"expr": f"sequence(0, {n})"}),
                axis=position_axis(
                    rparam, "Query", count=n, step=step, max_chars=12, orient="left"
                ),
            ),
            color=color,
            tooltip=tooltip,
        )
        .properties(
            title=alt.TitleParams(text=picked_title(name), anchor="start"),
            width=alt.Step(step),
            height=alt.Step(step),
        )
    )
    params = [
        alt.param(name=vparam, value=enc.codes),
        alt.param(name=rparam, value=rows),
        alt.param(name=cparam, value=cols),
    ]
    return cast(alt.LayerChart, grid), detail, params


def _thumbnail_views(
    w: NDArray[np.float64],
    pick: alt.Parameter,
    layers: list[str],
    heads: list[str],
    side: int,
    name: str,
) -> tuple[alt.LayerChart, alt.Chart, list[alt.Parameter]]:
    n_layers, n_heads, _, _ = w.shape
    records = [
        {"l": li, "h": hi, "url": png_data_url(w[li, hi])}
        for li in range(n_layers)
        for hi in range(n_heads)
    ]
    data = alt.Data(values=records)
    images = (
        alt.Chart(name=f"{name}_thumbs")
        .mark_image(width=side, height=side, aspect=False, smooth=False)
        .encode(url="url:N", x=alt.value(side / 2), y=alt.value(side / 2), tooltip=HEAD_TOOLTIP)
        .add_params(pick)
    )
    grid = (
        alt.layer(frame_layer(pick, name), images, data=data)
        .transform_calculate(**head_names_calc(name))
        .properties(width=side, height=side)
    )
    big = 360
    detail = (
        alt.Chart(data, name=f"{name}_big")
        .transform_filter(pick)
        .transform_calculate(**head_names_calc(name))
        .mark_image(width=big, height=big, aspect=False, smooth=False)
        .encode(url="url:N", x=alt.value(big / 2), y=alt.value(big / 2), tooltip=HEAD_TOOLTIP)
        .properties(
            title=alt.TitleParams(text=picked_title(name), anchor="start"),
            width=big,
            height=big,
        )
    )
    return cast(alt.LayerChart, grid), detail, []
