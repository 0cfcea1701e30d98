"""head_grid_chart's three ways of carrying the opened head, and the per-head data files."""

from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import numpy as np
import pytest

import attention_atlas.charts.grid as grid
from attention_atlas.charts import head_grid_chart, to_spec
from attention_atlas.charts.encoding import encode_matrix, js_number
from attention_atlas.charts.grid import (
    HEAD_FILE,
    THUMB_SIDE,
    code_colours,
    head_data_files,
    head_file,
    png_data_url,
)
from attention_atlas.errors import AtlasError

from ._util import params, spec_bytes


def _weights(*shape: int, seed: int = 0) -> np.ndarray:
    w = np.random.default_rng(seed).random(shape) ** 4
    return w / w.sum(axis=-1, keepdims=True)


def _labels(n: int) -> list[str]:
    return [f"t{i}" for i in range(n)]


def _images(spec: dict[str, Any]) -> list[str]:
    return re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]+", json.dumps(spec))


def _png_size(url: str) -> tuple[int, int]:
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return image.size


def _decode_file(text: str) -> tuple[int, int, str]:
    found = re.fullmatch(r'atlasHeadData\((\d+),(\d+),"([0-9a-f-]*)"\);\n', text)
    assert found, text[:80]
    return int(found.group(1)), int(found.group(2)), found.group(3)


# --- per-head data files ----------------------------------------------------------------


def test_one_file_per_head_holding_its_quantised_cells() -> None:
    w = _weights(2, 3, 5, 7)
    files = head_data_files(w, "model-view/")
    assert sorted(files) == sorted(
        f"model-view/L{layer}-H{head}.js" for layer in range(2) for head in range(3)
    )
    for layer in range(2):
        for head in range(3):
            got_l, got_h, codes = _decode_file(files["model-view/" + head_file(layer, head)])
            assert (got_l, got_h) == (layer, head)
            expected = encode_matrix(w[layer, head], quantize=True, domain=(0.0, 1.0))
            assert codes == expected.codes and len(codes) == 2 * 5 * 7
            values = expected.decode()
            assert np.abs(values - w[layer, head]).max() <= 0.5 / 255 + 1e-12


def test_data_files_are_deterministic_and_hold_no_markup() -> None:
    w = _weights(1, 2, 9, 9)
    w[0, 0, 0, 0] = np.nan  # a missing cell travels as "--"
    first = head_data_files(w, "a/b/")
    assert first == head_data_files(w.copy(), "a/b/")
    assert _decode_file(first["a/b/L0-H0.js"])[2].startswith("--")
    assert not any(c in text for text in first.values() for c in "<>&'")


@pytest.mark.parametrize("prefix", ["", "x", "/abs/", "../up/", "a/../b/", "http://x/", "a b/"])
def test_head_data_must_be_a_relative_folder(prefix: str) -> None:
    with pytest.raises(AtlasError, match="relative folder"):
        head_data_files(_weights(1, 1, 2, 2), prefix)
    with pytest.raises(AtlasError, match="relative folder"):
        head_grid_chart(_weights(1, 1, 2, 2), "ab", "ab", title="G", head_data=prefix)


# --- the chart ----------------------------------------------------------------------------


def test_small_grid_is_thumbnails_with_every_head_inline_and_the_picked_one_decoded() -> None:
    w = _weights(2, 3, 6, 4)
    spec = to_spec(head_grid_chart(w, _labels(6), _labels(4), title="G"))
    p = params(spec)
    assert len(_images(spec)) == 6
    assert p["grid_codes"] == encode_matrix(w.reshape(-1, 4), quantize=True, domain=(0, 1)).codes
    assert "heads" not in spec["usermeta"]["atlas"]
    text = json.dumps(spec)
    # The enlarged head reads its cells at the picked head's offset (24 cells a head).
    assert "grid_at * 24 + datum.i" in text
    assert "weight (quantised to 256 levels)" in text


def test_on_demand_chart_names_its_files_and_params_and_carries_no_codes() -> None:
    w = _weights(2, 3, 40, 40)
    chart = head_grid_chart(w, _labels(40), _labels(40), title="G", inline=False, head_data="mv/")
    spec = to_spec(chart)
    meta = spec["usermeta"]["atlas"]["heads"]
    assert meta == {
        "src": "mv/",
        "file": HEAD_FILE,
        "heads": 3,
        "pick": "grid_pick",
        "at": "grid_at",
        "values": "grid_hv",
        "key": "grid_hk",
        "status": "grid_hs",
    }
    p = params(spec)
    assert p["grid_hv"] == "" and p["grid_hk"] == -1 and p["grid_hs"] == ""
    assert "grid_codes" not in p and "grid_v" not in p
    assert spec_bytes(chart) < 2 * w.size  # less than the codes alone would take
    text = json.dumps(spec, ensure_ascii=False)
    assert "grid_hk == grid_at ? sequence(0, 1600) : []" in text  # cells only when loaded
    assert "Loading exact values…" in text
    # The thumbnails travel once, in a named dataset shared by the grid and the detail.
    assert len(_images(spec)) == 6 and list(spec["datasets"]) == ["grid_thumbs"]


def test_a_large_head_on_demand_is_one_image_drawn_from_its_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above DETAIL_IMAGE_CELLS the opened head draws no mark per cell: one image, and
    the colours of every code for atlas-charts.js to paint it with."""
    w = _weights(2, 3, 40, 30)
    small = to_spec(
        head_grid_chart(w, _labels(40), _labels(30), title="G", head_data="mv/", inline=False)
    )
    assert "exact" not in small["usermeta"]["atlas"]["heads"]  # 1200 cells: marks
    monkeypatch.setattr(grid, "DETAIL_IMAGE_CELLS", 1000)
    spec = to_spec(
        head_grid_chart(
            w, _labels(40), _labels(30), title="G", head_data="mv/", inline=False,
            colour_scale="sqrt",
        )
    )  # fmt: skip
    exact = spec["usermeta"]["atlas"]["heads"]["exact"]
    step = float(js_number(encode_matrix(w[0, 0], quantize=True, domain=(0.0, 1.0)).step))
    assert exact == {
        "image": "grid_hi",
        "mark": "grid_exact",
        "rows": "grid_rl",
        "cols": "grid_cl",
        "n": 40,
        "m": 30,
        "step": step,
        "colours": code_colours(step, sqrt=True),
        "value": "weight (quantised to 256 levels)",
    }
    assert params(spec)["grid_hi"] == ""
    text = json.dumps(spec)
    assert "sequence(0, 1200)" not in text  # the cells layer keeps its axes, draws nothing
    assert '"grid_exact"' in text and "grid_hk == grid_at && grid_hi != ''" in text


@pytest.mark.parametrize("sqrt", [False, True])
def test_code_colours_are_the_thumbnail_colours(sqrt: bool) -> None:
    """Code k (value k * step) gets the colour a PNG of that value gets, on either scale."""
    from PIL import Image

    step = encode_matrix(np.zeros((1, 1)), quantize=True, domain=(0.0, 1.0)).step
    values = (np.arange(256) * step).reshape(16, 16)
    url = png_data_url(values, sqrt=sqrt)
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    pixels = np.asarray(image).reshape(256, 3)
    colours = np.frombuffer(bytes.fromhex(code_colours(step, sqrt=sqrt)), np.uint8)
    np.testing.assert_array_equal(colours.reshape(256, 3), pixels)
    assert len(set(map(tuple, pixels))) > 150  # the codes really span the palette


def test_without_head_data_a_large_grid_is_thumbnails_only_and_says_so() -> None:
    w = _weights(2, 2, 240, 240)
    spec = to_spec(head_grid_chart(w, _labels(240), _labels(240), title="G"))
    text = json.dumps(spec)
    assert "not cell values" in text and "heads" not in spec["usermeta"]["atlas"]
    assert "grid_codes" not in params(spec) and "grid_hv" not in params(spec)


def test_thumbnails_are_pooled_to_the_side_limit_and_the_subtitle_says_so() -> None:
    n = 2 * THUMB_SIDE + 3
    w = _weights(1, 2, n, 20)
    spec = to_spec(
        head_grid_chart(w, _labels(n), _labels(20), title="G", head_data="x/", pool="max")
    )
    sizes = {_png_size(u) for u in _images(spec)}
    assert sizes == {(20, THUMB_SIDE)}  # (width, height): keys kept, queries pooled
    subtitle = " ".join(spec["title"]["subtitle"])
    assert f"pooled to {THUMB_SIDE} × 20 pixels" in subtitle and "maximum" in subtitle
    assert "2–3 query × 1 key" in subtitle


def test_cells_mode_is_still_available() -> None:
    w = _weights(1, 2, 6, 6)
    spec = to_spec(head_grid_chart(w, _labels(6), _labels(6), title="G", thumbnails=False))
    assert len(params(spec)["grid_v"]) == 2 * w.size and not _images(spec)


def test_same_input_gives_the_same_spec() -> None:
    w = _weights(2, 2, 30, 30)

    def make() -> str:
        chart = head_grid_chart(
            w, _labels(30), _labels(30), title="G", inline=False, head_data="m/"
        )
        return json.dumps(to_spec(chart), sort_keys=True)

    assert make() == make()


def test_palette_png_is_smaller_than_true_colour_and_decodes_to_the_same_pixels() -> None:
    from PIL import Image

    w = _weights(64, 64)
    url = png_data_url(w)
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.mode == "P"
    rgb = Image.fromarray(
        np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    )
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG", compress_level=9)
    assert len(base64.b64decode(url.split(",", 1)[1])) < len(buffer.getvalue())


def _pixel(url: str) -> tuple[int, ...]:
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    return tuple(image.getpixel((0, 0)))


def test_square_root_colours_match_the_charts_sqrt_scale() -> None:
    from attention_atlas.charts.grid import viridis_lut

    lut = viridis_lut()
    quarter = np.full((2, 2), 0.25)
    assert _pixel(png_data_url(quarter)) == tuple(lut[64])  # linear: 0.25 of the way
    assert _pixel(png_data_url(quarter, sqrt=True)) == tuple(lut[128])  # sqrt(0.25) = 0.5
    spec = to_spec(
        head_grid_chart(
            _weights(2, 2, 6, 6), _labels(6), _labels(6), title="t", colour_scale="sqrt"
        )
    )
    text = json.dumps(spec)
    assert '"type": "sqrt"' in text
    assert "Square-root colour scale" in text
    linear = json.dumps(
        to_spec(head_grid_chart(_weights(2, 2, 6, 6), _labels(6), _labels(6), title="t"))
    )
    assert '"type": "sqrt"' not in linear and "Square-root" not in linear


def _legends(spec: object) -> list[dict]:
    """Every ``legend`` object in a spec."""
    found: list[dict] = []
    if isinstance(spec, dict):
        if isinstance(spec.get("legend"), dict):
            found.append(spec["legend"])
        for value in spec.values():
            found += _legends(value)
    elif isinstance(spec, list):
        for value in spec:
            found += _legends(value)
    return found


def test_square_root_legend_labels_are_spread_along_the_scale() -> None:
    """Round steps (0.2, 0.4, ...) crowd a sqrt legend's upper end; its labels must not."""
    weights, labels = _weights(2, 2, 6, 6), _labels(6)
    spec = to_spec(head_grid_chart(weights, labels, labels, title="t", colour_scale="sqrt"))
    (legend,) = {json.dumps(x, sort_keys=True): x for x in _legends(spec)}.values()
    values = legend["values"]
    assert values[0] == 0 and values[-1] == 1
    gaps = np.diff(np.sqrt(values))  # where the labels sit along the colour bar
    assert gaps.min() > 0.5 * gaps.max(), gaps
    linear = to_spec(head_grid_chart(weights, labels, labels, title="t"))
    assert all("values" not in x for x in _legends(linear))


def test_model_views_of_long_maps_use_the_square_root_scale() -> None:
    from attention_atlas.dumps.charts import GRID_BLOCKS, model_view_chart
    from attention_atlas.dumps.read import validate_dump

    def scale_of(n: int) -> bool:
        dump = validate_dump(_weights(1, 2, n, n), np.array(_labels(n)))
        return '"type": "sqrt"' in json.dumps(to_spec(model_view_chart(dump)))

    assert not scale_of(GRID_BLOCKS)
    assert scale_of(GRID_BLOCKS + 1)


def test_an_unknown_colour_scale_is_an_error() -> None:
    with pytest.raises(AtlasError, match="colour_scale"):
        head_grid_chart(_weights(1, 1, 3, 3), _labels(3), _labels(3), title="t", colour_scale="log")  # type: ignore[arg-type]


# --- layout, map size and the opened head: options of the builder, not edits by callers


def _grid_parts(spec: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    kind = "hconcat" if "hconcat" in spec else "vconcat"
    return kind, spec[kind]


@pytest.mark.parametrize(
    ("layout", "kind", "where"),
    [("side", "hconcat", "on the right"), ("below", "vconcat", "below the grid")],
)
def test_layout_places_the_opened_head_and_the_hint_says_where(
    layout: str, kind: str, where: str
) -> None:
    subtitle = "A note that says on the right, kept as written"
    spec = to_spec(
        head_grid_chart(
            _weights(2, 3, 5, 5),
            _labels(5),
            _labels(5),
            title="G",
            subtitle=subtitle,
            layout=layout,  # type: ignore[arg-type]
        )
    )
    found, parts = _grid_parts(spec)
    assert found == kind and len(parts) == 2 and "facet" in parts[0]
    lines = spec["title"]["subtitle"]
    assert lines[0] == subtitle  # the caller's text is never rewritten
    assert lines[-1] == f"Click a map, or use the menus, to open one head {where}."


@pytest.mark.parametrize("inline", [True, False])
def test_below_layout_works_with_every_way_of_carrying_the_head(inline: bool) -> None:
    w = _weights(2, 2, 6, 6)
    chart = head_grid_chart(
        w, _labels(6), _labels(6), title="G", layout="below", inline=inline, head_data="h/"
    )
    spec = to_spec(chart)
    assert "vconcat" in spec
    assert ("datasets" in spec) == (not inline)  # shared thumbnails still travel once


@pytest.mark.parametrize(
    ("positions", "limit", "side"),
    [(16, 42, 32), (14, 42, 42), (7, 42, 42), (50, 42, 42), (6, 49, 48)],
)
def test_map_side_is_a_whole_number_of_pixels_a_position(
    positions: int, limit: int, side: int
) -> None:
    spec = to_spec(
        head_grid_chart(
            _weights(1, 2, positions, positions),
            _labels(positions),
            _labels(positions),
            title="G",
            map_side=limit,
        )
    )
    assert spec["hconcat"][0]["spec"]["width"] == spec["hconcat"][0]["spec"]["height"] == side


def test_opened_head_is_where_the_picker_starts() -> None:
    spec = to_spec(
        head_grid_chart(_weights(3, 4, 5, 5), _labels(5), _labels(5), title="G", opened=(2, 3))
    )
    picks = [p["value"] for p in spec["params"] if p["name"].endswith("_pick")]
    assert picks == [[{"l": 2, "h": 3}]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "above"}, "layout must be 'side' or 'below', got 'above'"),
        ({"map_side": 0}, "map_side must be a whole number of pixels >= 1, got 0"),
        ({"map_side": 12.5}, "map_side must be a whole number of pixels >= 1, got 12.5"),
        ({"opened": (3, 0)}, r"opened is \(3, 0\), but the grid has 3 layer\(s\) and 4 head\(s\)"),
        ({"opened": (0, -1)}, r"opened is \(0, -1\)"),
        ({"opened": (1,)}, r"opened must be a \(layer, head\) pair of whole numbers, got \(1,\)"),
        ({"opened": (True, 0)}, "opened must be a"),
    ],
)
def test_bad_layout_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(AtlasError, match=message):
        head_grid_chart(_weights(3, 4, 5, 5), _labels(5), _labels(5), title="G", **options)


def test_model_view_passes_the_options_through() -> None:
    from attention_atlas.dumps.charts import model_view_chart
    from attention_atlas.dumps.read import validate_dump

    dump = validate_dump(_weights(2, 3, 6, 6), _labels(6))
    spec = to_spec(model_view_chart(dump, layout="below", map_side=40, opened=(1, 2)))
    assert spec["vconcat"][0]["spec"]["width"] == 36  # 6 positions, 6 pixels each
    assert "below the grid" in spec["title"]["subtitle"][-1]
    assert [p["value"] for p in spec["params"] if p["name"].endswith("_pick")] == [
        [{"l": 1, "h": 2}]
    ]
