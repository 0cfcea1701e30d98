"""The hand-written guides: their Python examples run, their YAML parses, their claims hold."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import altair as alt
import pytest
import yaml

from attention_atlas.cli import parser
from attention_atlas.mkdocs.fence import OPTIONS
from tests.mkdocs._guides import GUIDES, blocks, expected_error


def python_pages() -> list[str]:
    return sorted(p.name for p in GUIDES.glob("*.md") if blocks(p.name, "python"))


class _Tensor:
    """What the guides' examples take from PyTorch: indexing, ``detach()``, ``numpy()``,
    ``__array__``."""

    def __init__(self, array: Any) -> None:
        self.array = array

    def __getitem__(self, index: int) -> _Tensor:
        return _Tensor(self.array[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self.array if dtype is None else self.array.astype(dtype)

    @property
    def dtype(self) -> Any:
        return self.array.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def detach(self) -> _Tensor:
        return self

    def float(self) -> _Tensor:
        return _Tensor(self.array.astype("float32"))

    def numpy(self) -> Any:
        return self.array


def _reader_objects() -> dict[str, Any]:
    """Stand-ins for what a block takes from the reader's own code: a transformers
    tokenizer and model (causal attention, so a ``causal=True`` example holds too)."""
    import numpy as np

    words = ["[CLS]", "the", "animal", "was", "tired", "[SEP]"]
    raw = np.random.default_rng(5).random((3, 1, 2, 6, 6)) + 0.1  # (L, B, H, N, N)
    raw *= np.tril(np.ones((6, 6)))
    weights = raw / raw.sum(axis=-1, keepdims=True)
    inputs = {"input_ids": [list(range(len(words)))]}

    def tokenizer(text: str, return_tensors: str = "pt") -> dict[str, Any]:
        return inputs

    tokenizer.convert_ids_to_tokens = lambda ids: [words[i] for i in ids]  # type: ignore[attr-defined]
    # The model's output: a decoder's maps (attentions), and an encoder-decoder's
    # (encoder_attentions etc.): 2 encoder layers over the words, 3 decoder layers
    # over 4 target tokens (causal), cross maps from the target to the words.
    rng = np.random.default_rng(6)

    def rows(shape: tuple[int, ...], causal: bool = False) -> tuple[_Tensor, ...]:
        w = rng.random(shape) + 0.1
        if causal:
            w *= np.tril(np.ones(shape[-2:]))
        return tuple(_Tensor(layer) for layer in w / w.sum(axis=-1, keepdims=True))

    out = SimpleNamespace(
        attentions=tuple(_Tensor(layer) for layer in weights),
        encoder_attentions=rows((2, 1, 2, 6, 6)),
        decoder_attentions=rows((3, 1, 2, 4, 4), causal=True),
        cross_attentions=rows((3, 1, 2, 4, 6)),
    )
    decoder_input_ids = [[0, 1, 2, 3]]

    def model(*, input_ids: Any, output_attentions: bool) -> Any:
        assert output_attentions and len(input_ids[0]) == len(words)
        return out

    return {
        "model": model,
        "tokenizer": tokenizer,
        "inputs": inputs,
        "out": out,
        "decoder_input_ids": decoder_input_ids,
    }


@pytest.mark.parametrize("page", python_pages())
def test_every_python_example_runs(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's Python blocks run in order in one namespace, as a notebook's cells do; a
    block's last expression is displayed as a notebook would (its mimebundle), and a
    block ending in ``# Name (a ValueError): message`` must raise exactly that. What a
    block takes from the reader's own code (``model``, ``tokenizer``, ``inputs``) is a
    stand-in; a dump a page writes (``.npz``, ``.safetensors``) must load."""
    from attention_atlas.charts import notebook
    from attention_atlas.dumps.read import load_dump
    from attention_atlas.dumps.seq2seq import is_seq2seq, load_seq2seq

    monkeypatch.chdir(tmp_path)
    # attention_atlas.notebook() switches Altair's renderer for the process: undo it after.
    monkeypatch.setitem(notebook._state, "sent", notebook._state["sent"])
    active = alt.renderers.active
    try:
        namespace, shown = _run_blocks(page)
    finally:
        alt.renderers.enable(active)
    charts = [v for v in [*namespace.values(), *shown] if isinstance(v, alt.TopLevelMixin)]
    for chart in charts:
        chart.to_dict()  # a valid Vega-Lite spec
    dumps = sorted(p for p in tmp_path.iterdir() if p.suffix in (".npz", ".safetensors"))
    for path in dumps:
        if is_seq2seq(path):
            assert load_seq2seq(path).cross.sizes[0] >= 1, path.name
        else:
            assert load_dump(path).layers >= 1, path.name
    assert charts or dumps, f"{page} draws no chart and writes no dump"


def _run_blocks(page: str) -> tuple[dict[str, Any], list[Any]]:
    namespace: dict[str, Any] = {"__name__": "__guide__", **_reader_objects()}
    shown: list[Any] = []
    for index, code in enumerate(blocks(page, "python")):
        where = f"{page}, Python block {index}"
        expected = expected_error(code)
        if expected is None:
            shown += _run_cell(code, where, namespace)
            continue
        name, base, message = expected
        with pytest.raises(Exception) as raised:
            _run_cell(code, where, namespace)
        assert type(raised.value).__name__ == name, where
        assert base in {c.__name__ for c in type(raised.value).__mro__}, where
        assert str(raised.value) == message, where
    return namespace, shown


def _run_cell(code: str, where: str, namespace: dict[str, Any]) -> list[Any]:
    """Run ``code``; a last expression is evaluated and displayed as a notebook cell's."""
    tree = ast.parse(code, where)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, where, "exec"), namespace)
    if last is None:
        return []
    value = eval(compile(ast.Expression(last.value), where, "eval"), namespace)
    if hasattr(value, "_repr_mimebundle_"):
        value._repr_mimebundle_()  # what the notebook shows
    return [value]


def test_python_examples_cover_every_chart_builder() -> None:
    code = "\n".join(blocks("python-api.md", "python"))
    for name in (
        "heatmap_chart",
        "vector_chart",
        "bar_chart",
        "line_chart",
        "head_grid_chart",
        "row_explorer_chart",
        "Figure",
        "figure_html",
        "to_spec",
        "render_spec",
        "load_dump",
    ):
        assert f"{name}(" in code, name


class _Loader(yaml.SafeLoader):
    """Reads ``!!python/name:`` tags as plain strings (MkDocs resolves them)."""


_Loader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: f"python/name:{suffix}"
)


@pytest.mark.parametrize(
    "page", sorted(p.name for p in GUIDES.glob("*.md") if blocks(p.name, "yaml"))
)
def test_yaml_examples_parse(page: str) -> None:
    for block in blocks(page, "yaml"):
        yaml.load(block, Loader=_Loader)


def test_plugin_less_setup_names_real_functions_and_assets() -> None:
    import importlib

    from attention_atlas.render.assets import JAVASCRIPT, STYLESHEETS

    text = (GUIDES / "embedding.md").read_text(encoding="utf-8")
    for dotted in re.findall(r"!!python/name:([\w.]+)", text):
        module, _, attr = dotted.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), dotted
    for name in (*JAVASCRIPT, *STYLESHEETS):
        assert f"assets/atlas/{name}" in text, name


def test_embedding_guide_lists_every_fence_option() -> None:
    text = (GUIDES / "embedding.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    for key in OPTIONS:
        assert f"`{key}`" in table, key


def test_ci_workflow_runs_check_and_report_and_uses_real_flags() -> None:
    (workflow,) = [b for b in blocks("ci.md", "yaml") if "jobs:" in b]
    steps = yaml.safe_load(workflow)["jobs"]["report"]["steps"]
    commands = [s["run"] for s in steps if "run" in s]
    # The check runs without the machine's timings, so any machine gives the same pages.
    assert "ATLAS_MEASURE=0 attention-atlas build --check" in commands
    report = next(c for c in commands if c.startswith("attention-atlas report"))
    args = parser().parse_args(shlex.split(report)[1:])
    assert (args.command, str(args.out)) == ("report", "run-report")
    assert yaml.safe_load(workflow)[True] == {"push": None, "pull_request": None}


def test_ci_guide_states_the_row_sum_rule_as_the_code_does() -> None:
    from attention_atlas.dumps.read import ROW_SUM_TOLERANCE

    text = (GUIDES / "ci.md").read_text(encoding="utf-8")
    assert "Rows that do not sum to 1 are a warning, not an error" in text
    assert f"off by more than {ROW_SUM_TOLERANCE:g}" in text.replace("0.001", "0.001")


def fence_examples() -> list[tuple[str, str]]:
    """Every ```attention fence in the guides (also those shown inside ````markdown)."""
    found = []
    for path in sorted(GUIDES.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for body in re.findall(r"^```attention\n(.*?)^```$", text, flags=re.S | re.M):
            found.append((path.name, body))
    return found


def test_the_guides_show_fence_examples() -> None:
    pages = {page for page, _ in fence_examples()}
    assert "embedding.md" in pages
    assert len(fence_examples()) >= 2


FENCES = fence_examples()


@pytest.mark.parametrize(
    ("page", "body"), FENCES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(FENCES)]
)
def test_every_fence_example_builds(page: str, body: str, tmp_path: Path) -> None:
    """Each example draws a chart as written; a ``file:`` it names is made up here."""
    import numpy as np

    from attention_atlas.mkdocs.fence import fence_format, parse_options, set_context

    options = parse_options(body)
    if options.file is not None:
        tokens = np.array(["[CLS]", "the", "animal", "was", "tired", "[SEP]"])
        weights = np.random.default_rng(0).dirichlet(np.ones(6), size=(4, 2, 6))  # (L, H, N, N)
        (tmp_path / options.file).parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / options.file, attention=weights, tokens=tokens)
    set_context(docs_dir=tmp_path, page=page)
    try:
        html = fence_format(body, "attention", "attention", {}, None)
    finally:
        set_context()
    assert html.count('class="atlas-figure"') == 1
    assert "data-spec='" in html


def export_examples() -> list[str]:
    """Every ``attention-atlas export`` command line in the guides' shell blocks."""
    lines = []
    for path in sorted(GUIDES.glob("*.md")):
        for block in blocks(path.name, "bash"):
            lines += [ln for ln in block.splitlines() if ln.startswith("attention-atlas export")]
    return lines


@pytest.mark.parametrize("line", export_examples())
def test_every_export_example_names_a_real_chart(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from attention_atlas.export import target_figure

    args = parser().parse_args(shlex.split(line)[1:])
    if args.target.endswith(".npz"):
        tokens = np.array(["[CLS]", "it", "was", "tired", "[SEP]"])
        weights = np.random.default_rng(1).dirichlet(np.ones(5), size=(4, 2, 5))
        np.savez(tmp_path / args.target, attention=weights, tokens=tokens)
        monkeypatch.chdir(tmp_path)
    figure = target_figure(args.target, chart=args.chart, layer=args.layer, head=args.head)
    assert figure.to_dict()["$schema"]
