"""``attention-atlas export``: formats, chart choice, errors, and byte-identical output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.errors import AtlasError
from attention_atlas.export import (
    FORMATS,
    Format,
    export,
    normalize_pdf,
    normalize_svg,
    render_spec,
    scenario_figures,
    target_spec,
)
from tests.conftest import run_cli

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<svg", "json": b"{"}


@pytest.fixture(scope="module")
def run_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    tokens = np.array(["[CLS]", "the", "<cat>", "sat", "[SEP]"])
    weights = np.random.default_rng(3).dirichlet(np.ones(5), size=(2, 2, 5))
    np.savez(folder / "run.npz", attention=weights, tokens=tokens)
    return folder / "run.npz"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_normalize_svg_renumbers_ids_and_their_references() -> None:
    svg = (
        '<svg><defs><linearGradient id="gradient_17"/><clipPath id="clip3"/></defs>'
        '<rect fill="url(#gradient_17)" clip-path="url(#clip3)"/><use href="#clip3"/></svg>'
    )
    out = normalize_svg(svg)
    assert 'id="atlas-0"' in out and 'id="atlas-1"' in out
    assert "url(#atlas-0)" in out and "url(#atlas-1)" in out and 'href="#atlas-1"' in out
    assert "gradient_17" not in out and "clip3" not in out
    assert normalize_svg(out) == out
    shifted = svg.replace("gradient_17", "gradient_42").replace("clip3", "clip9")
    assert normalize_svg(shifted) == out


@pytest.mark.parametrize("fmt", FORMATS)
def test_npz_export_writes_each_format(run_npz: Path, tmp_path: Path, fmt: Format) -> None:
    out = export(str(run_npz), fmt=fmt, out=tmp_path / f"map.{fmt}")
    data = out.read_bytes()
    assert data.startswith(MAGIC[fmt]), data[:20]
    if fmt == "json":
        spec = json.loads(data)
        assert spec["config"]["background"] == "white"
        assert "Layer 0, head 0" in json.dumps(spec)
    if fmt == "svg":
        assert "&lt;cat&gt;" in data.decode()  # labels are text in the SVG, escaped


def test_same_process_exports_are_identical(run_npz: Path, tmp_path: Path) -> None:
    # Vega's SVG ids grow with every conversion in a process: the ids are normalised.
    for fmt in FORMATS:
        first = export(str(run_npz), fmt=fmt, out=tmp_path / f"a.{fmt}")
        second = export(str(run_npz), fmt=fmt, out=tmp_path / f"b.{fmt}")
        assert digest(first) == digest(second), fmt


#: Exports each target of argv[3:] (pairs: a name, then a slug or a dump) in each format
#: of argv[2] (comma-separated) into argv[1]/NAME/, through the program's own entry point
#: as its console script runs it (importing nothing of the package before it, as it does).
_EXPORT_ALL = """
import sys
from pathlib import Path
from attention_atlas import cli
out, formats, pairs = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3:]
for name, source in zip(pairs[::2], pairs[1::2]):
    for fmt in formats:
        chart = out / name / f"chart.{fmt}"
        sys.argv = ["attention-atlas", "export", source, "--format", fmt, "--out", str(chart)]
        if cli.main() != 0:
            sys.exit(f"{name} {fmt}: exit code not 0")
"""

TARGETS = ("npz", "self-attention", "multi-head")


@pytest.fixture(scope="module")
def two_processes(run_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every target in every format, exported by two processes into ``a/`` and ``b/``.

    The second process takes the targets in the reverse order, so no file depends on
    what its process exported before.
    """
    base = tmp_path_factory.mktemp("processes")
    sources = {"npz": str(run_npz), "self-attention": "self-attention", "multi-head": "multi-head"}
    for run, order in (("a", TARGETS), ("b", TARGETS[::-1])):
        pairs = [part for target in order for part in (target, sources[target])]
        result = subprocess.run(
            [sys.executable, "-c", _EXPORT_ALL, str(base / run), ",".join(FORMATS), *pairs],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    return base


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_exports_are_byte_identical_across_processes(two_processes: Path, target: str) -> None:
    for fmt in FORMATS:
        a, b = (two_processes / run / target / f"chart.{fmt}" for run in ("a", "b"))
        assert a.read_bytes().startswith(MAGIC[fmt])
        assert a.read_bytes() == b.read_bytes(), (target, fmt)


def test_cli_export_writes_the_file(run_npz: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "map.svg"
    result = run_cli("export", "run.npz", "--format", "svg", "--out", str(out), cwd=run_npz.parent)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"<svg")


def test_normalized_pdf_has_a_consistent_cross_reference_table(
    run_npz: Path, tmp_path: Path
) -> None:
    pdf = export(str(run_npz), fmt="pdf", out=tmp_path / "map.pdf").read_bytes()
    assert normalize_pdf(pdf) == pdf  # already canonical: normalising again changes nothing
    start = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[start:].startswith(b"xref\n0 ")
    lines = pdf[start:].split(b"trailer")[0].splitlines()[2:]
    offsets = [int(line.split()[0]) for line in lines if line.strip().endswith(b"n")]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    assert b"/Root 2 0 R" in pdf or b"/Root 1 0 R" in pdf


def test_layer_and_head_choose_the_map(run_npz: Path) -> None:
    spec = target_spec(str(run_npz), layer=1, head=1)
    assert "Layer 1, head 1" in json.dumps(spec)
    with pytest.raises(AtlasError, match=r"run.npz: layer 2 does not exist: expected 0 to 1"):
        target_spec(str(run_npz), layer=2)


def test_npz_chart_names(run_npz: Path) -> None:
    assert "entropy" in json.dumps(target_spec(str(run_npz), chart="entropy")).lower()
    with pytest.raises(AtlasError, match=r"no chart named 'nope'; expected one of map, rows, grid"):
        target_spec(str(run_npz), chart="nope")


def test_scenario_main_chart_and_named_chart() -> None:
    figures = scenario_figures("self-attention")
    assert list(figures) == ["x", "q", "k", "v", "scores", "weights", "z", "live"]
    assert target_spec("self-attention") == figures["weights"].to_dict()
    assert target_spec("self-attention", chart="scores") == figures["scores"].to_dict()
    with pytest.raises(
        AtlasError,
        match=r"has no chart 'nope': expected one of x, q, k, v, scores, weights, z, live$",
    ):
        target_spec("self-attention", chart="nope")


def test_scenario_by_layer_and_head() -> None:
    spec = target_spec("multi-head", layer=1, head=0)
    assert "Layer 1, head 0" in json.dumps(spec)


def test_render_refuses_external_data() -> None:
    spec = {"data": {"url": "http://127.0.0.1:9/x.json"}, "mark": "point"}
    with pytest.raises(AtlasError, match="could not be drawn as svg"):
        render_spec(spec, "svg")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("missing.npz", "--format", "png", "--out", "x.png"), "missing.npz: file not found"),
        (("no-such-slug", "--format", "png", "--out", "x.png"), "unknown scenario 'no-such-slug'"),
        (("run.npz", "--format", "png", "--out", "."), "is a folder"),
        (("run.npz", "--format", "png", "--head", "9", "--out", "x.png"), "head 9 does not exist"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(
    run_npz: Path, args: tuple[str, ...], expected: str
) -> None:
    result = run_cli("export", *args, cwd=run_npz.parent)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_cli_bad_format_is_exit_2(run_npz: Path) -> None:
    result = run_cli("export", "run.npz", "--format", "gif", "--out", "x.gif", cwd=run_npz.parent)
    assert result.returncode == 2
