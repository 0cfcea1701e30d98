"""Encoder-decoder dumps: encoder, decoder and cross maps with their own token axes."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas import fileio
from attention_atlas.cli import main
from attention_atlas.dumps.report import render_seq2seq_report, report_config
from attention_atlas.dumps.seq2seq import is_seq2seq, load_seq2seq, validate_seq2seq
from attention_atlas.errors import AtlasError
from tests.dumps.test_report import chart_text

ENC = ["▁The", "▁animal", "▁is", "▁tired", ".", "</s>", "<pad>"]
DEC = ["<pad>", "▁Das", "▁Tier", "▁ist", "▁müde"]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def maps(seed: int = 0) -> dict[str, np.ndarray]:
    """Encoder (2, 4, 7, 7), causal decoder (3, 2, 5, 5), cross (3, 2, 5, 7)."""
    rng = np.random.default_rng(seed)
    ne, nd = len(ENC), len(DEC)
    dec = rng.normal(size=(3, 2, nd, nd)) * 2
    dec[..., np.triu(np.ones((nd, nd), bool), 1)] = -np.inf
    return {
        "encoder_attention": _softmax(rng.normal(size=(2, 4, ne, ne)) * 2).astype(np.float32),
        "decoder_attention": _softmax(dec).astype(np.float32),
        "cross_attention": _softmax(rng.normal(size=(3, 2, nd, ne)) * 2).astype(np.float32),
        "encoder_tokens": np.array(ENC),
        "decoder_tokens": np.array(DEC),
    }


def save(path: Path, **fields: np.ndarray) -> Path:
    np.savez(path, **fields)
    return path


@pytest.fixture(scope="module")
def s2s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save(tmp_path_factory.mktemp("s2s") / "marian.npz", **maps())


def test_loads_three_maps_with_their_own_token_axes(s2s: Path) -> None:
    assert is_seq2seq(s2s)
    dump = load_seq2seq(s2s)
    fields = maps()
    assert dump.encoder.sizes == (2, 4, 7, 7) and dump.encoder.tokens == tuple(ENC)
    assert dump.decoder.sizes == (3, 2, 5, 5) and dump.decoder.key_tokens == tuple(DEC)
    assert dump.cross.sizes == (3, 2, 5, 7)
    assert dump.cross.tokens == tuple(DEC) and dump.cross.key_tokens == tuple(ENC)
    np.testing.assert_array_equal(dump.cross.attention, fields["cross_attention"])
    assert dump.part("decoder") is dump.decoder
    with pytest.raises(AtlasError, match="expected one of encoder, decoder, cross"):
        dump.part("attention")


def test_an_ordinary_dump_is_not_an_encoder_decoder_one(tmp_path: Path) -> None:
    plain = save(
        tmp_path / "plain.npz", attention=np.full((2, 2), 0.5), tokens=np.array(["a", "b"])
    )
    assert not is_seq2seq(plain)
    assert not is_seq2seq(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert not is_seq2seq(tmp_path / "junk.npz")


def _broken(name: str) -> dict[str, np.ndarray]:
    fields = maps()
    if name == "short encoder tokens":
        fields["encoder_tokens"] = np.array(ENC[:-1])
    elif name == "cross too narrow":
        fields["cross_attention"] = fields["cross_attention"][..., :-1]
    elif name == "cross rows":
        fields["cross_attention"] = fields["cross_attention"][..., :-1, :]
    elif name == "long decoder tokens":
        fields["decoder_tokens"] = np.array([*DEC, "x"])
    elif name == "nan":
        fields["cross_attention"] = fields["cross_attention"].copy()
        fields["cross_attention"][1, 0, 2, 3] = np.nan
    elif name == "negative":
        fields["encoder_attention"] = fields["encoder_attention"] - 1
    elif name == "one axis":
        fields["decoder_attention"] = np.ones(5)
    elif name == "numbers as tokens":
        fields["decoder_tokens"] = np.arange(5)
    elif name == "missing":
        del fields["cross_attention"]
    return fields


CASES = {
    "short encoder tokens": "field 'encoder_tokens': 6 tokens",
    "cross too narrow": "field 'encoder_tokens': 7 tokens, but cross_attention shaped "
    r"\(3, 2, 5, 6\) has 6 columns",
    "cross rows": r"field 'decoder_tokens': 5 tokens, but cross_attention shaped \(3, 2, 4, 7\)",
    "long decoder tokens": "field 'decoder_tokens': 6 tokens",
    "nan": "field 'cross_attention': 1 value",
    "negative": "field 'encoder_attention': .* negative",
    "one axis": "field 'decoder_attention': expected shape",
    "numbers as tokens": "field 'decoder_tokens': expected a 1-D array of strings",
    "missing": "missing field 'cross_attention'",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_fields_are_one_line_naming_the_file_and_field(tmp_path: Path, case: str) -> None:
    path = save(tmp_path / "bad.npz", **_broken(case))
    with pytest.raises(AtlasError, match=CASES[case]) as info:
        load_seq2seq(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


def test_in_memory_checks_say_the_same(tmp_path: Path) -> None:
    fields = _broken("cross too narrow")
    with pytest.raises(AtlasError, match=CASES["cross too narrow"]):
        validate_seq2seq(**fields, source="mem")


def test_pickled_tokens_are_refused_unread(tmp_path: Path) -> None:
    fields = maps()
    fields["encoder_tokens"] = np.array(ENC, dtype=object)
    path = tmp_path / "pickled.npz"
    np.savez(path, **fields)
    with pytest.raises(AtlasError, match="field 'encoder_tokens': holds Python objects"):
        load_seq2seq(path)


def test_a_map_stored_twice_is_refused_as_in_one_map_dumps(tmp_path: Path) -> None:
    path = save(tmp_path / "twice.npz", **maps())
    with zipfile.ZipFile(path) as archive:
        cross = archive.read("cross_attention.npy")
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("cross_attention.npy", cross)
    with pytest.raises(AtlasError, match="field 'cross_attention' is stored twice"):
        load_seq2seq(path)


def test_memory_is_priced_from_the_headers(s2s: Path) -> None:
    with pytest.raises(AtlasError, match="needs"):
        load_seq2seq(s2s, max_memory="1M")


def test_row_sum_warnings_name_the_map(tmp_path: Path) -> None:
    fields = maps()
    fields["decoder_attention"] = fields["decoder_attention"] * 0.5
    dump = validate_seq2seq(**fields, source="half.npz")
    assert dump.warnings and all("field 'decoder_attention'" in w for w in dump.warnings)


@pytest.fixture(scope="module")
def pages(s2s: Path) -> dict[str, str]:
    return render_seq2seq_report(load_seq2seq(s2s), title="T", asks=[("Tier", "animal")])


def test_report_holds_three_maps_each_reachable_from_the_overview(pages: dict[str, str]) -> None:
    for part in ("encoder", "decoder", "cross"):
        assert f"{part}/index.md" in pages and f"{part}/ask.md" in pages
        assert f"({part}/index.md)" in pages["index.md"]
    assert sum(p.startswith("encoder/heads/") for p in pages) == 2
    assert sum(p.startswith("decoder/heads/") for p in pages) == 3
    assert "| (3, 2, 5, 7) | decoder tokens | encoder tokens |" in pages["index.md"]
    nav = report_config("T", pages, [])["nav"]
    assert [next(iter(item)) for item in nav] == [
        "Overview",
        "Encoder self-attention",
        "Decoder self-attention",
        "Cross attention",
    ]


def test_cross_maps_have_decoder_rows_and_encoder_columns(pages: dict[str, str]) -> None:
    spec = chart_text(pages["cross/heads/layer-0.md"])
    assert "Query: decoder token" in spec and "Key: encoder token" in spec
    # the row labels are the decoder tokens, the column labels the encoder tokens
    assert re.search(r'"rx_rl", "value": \["<pad>", "▁Das"', spec)
    assert re.search(r'"rx_cl", "value": \["▁The", "▁animal"', spec)
    assert "the encoder tokens; the queries are the decoder tokens" in pages["cross/index.md"]
    assert "`cross_attention` as stored" in pages["cross/index.md"]


def test_asks_go_to_the_chosen_map(pages: dict[str, str]) -> None:
    assert "Query 2 “▁Tier” → key 1 “▁animal”" in pages["cross/ask.md"]
    assert "## Query" not in pages["encoder/ask.md"]


def test_decoder_sinks_count_only_the_queries_that_see_the_key(pages: dict[str, str]) -> None:
    assert "these maps are causal" in pages["decoder/index.md"]
    assert "these maps are causal" not in pages["encoder/index.md"]


def test_cli_bad_encoder_tokens_exit_2_one_line_report_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    out.mkdir()
    fileio.write_marker(out, "report", source="good.npz")  # a previous report
    (out / "keep.txt").write_text("previous")
    bad = save(tmp_path / "bad.npz", **_broken("cross too narrow"))
    code = main(["report", str(bad), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(bad) in err and "encoder_tokens" in err
    assert (out / "keep.txt").read_text() == "previous"


@pytest.fixture(scope="module")
def cli_built(s2s: Path) -> tuple[int, Path]:
    """``attention-atlas report marian.npz --ask 2 1``: its exit code and the site.

    Built once for the module: the command-line test reads it and the browser tests
    drive it (query 2 "▁Tier", key 1 "▁animal" of the cross map). Read, never changed.
    """
    out = s2s.parent / "report"
    return main(["report", str(s2s), "--out", str(out), "--ask", "2", "1"]), out


@pytest.mark.slow
def test_cli_builds_an_encoder_decoder_report(cli_built: tuple[int, Path]) -> None:
    code, out = cli_built
    assert code == 0
    for part in ("encoder", "decoder", "cross"):
        assert (out / part / "index.html").is_file() and (out / part / "ask.html").is_file()
    assert 'href="cross/index.html"' in (out / "index.html").read_text()


GUIDE = Path(__file__).resolve().parents[2] / "site_src" / "guides" / "ci.md"


def _guide_blocks() -> list[str]:
    """The encoder-decoder section's blocks: load and run (shown as text: it downloads
    a model), then save (Python, also run by the guides' own test on stand-ins)."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Encoder-decoder models", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:text|python)\n(.*?)```", section, flags=re.S)[:2]


@pytest.mark.slow
def test_the_guides_transformers_lines_write_a_dump_the_report_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's saving lines, run on a tiny random Marian model (no download)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    load, save_lines = _guide_blocks()
    assert "output_attentions=True" in load and "prepare_decoder_input_ids_from_labels" in load
    config = transformers.MarianConfig(
        vocab_size=40,
        d_model=16,
        encoder_layers=2,
        decoder_layers=3,
        encoder_attention_heads=4,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        pad_token_id=0,
        decoder_start_token_id=0,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = transformers.MarianMTModel(config).eval()
    model.config._attn_implementation = "eager"
    inputs = {"input_ids": torch.tensor([[5, 6, 7, 8, 9, 2]])}
    labels = torch.tensor([[11, 12, 13, 2]])
    decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels=labels)
    with torch.no_grad():
        out = model(**inputs, decoder_input_ids=decoder_input_ids, output_attentions=True)

    class Tokenizer:
        @staticmethod
        def convert_ids_to_tokens(ids: object) -> list[str]:
            return [f"t{int(i)}" for i in ids]  # type: ignore[attr-defined]

    namespace = {
        "np": np,
        "out": out,
        "inputs": inputs,
        "decoder_input_ids": decoder_input_ids,
        "tokenizer": Tokenizer(),
    }
    monkeypatch.chdir(tmp_path)
    exec(compile(save_lines, str(GUIDE), "exec"), namespace)
    dump = load_seq2seq(tmp_path / "translation.npz")
    assert dump.encoder.sizes == (2, 4, 6, 6)
    assert dump.decoder.sizes == (3, 2, 4, 4)
    assert dump.cross.sizes == (3, 2, 4, 6)
    assert dump.decoder.tokens[0] == "t0"  # the decoder start token
    np.testing.assert_allclose(np.triu(dump.decoder.attention, 1), 0, atol=1e-7)


@pytest.fixture(scope="module")
def built(cli_built: tuple[int, Path]) -> Path:
    """The report the command line built (asked about "▁Tier" and "▁animal")."""
    code, out = cli_built
    assert code == 0, "the command line did not build the report"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browser._browser import launch_chromium

    with launch_chromium() as chromium:
        yield chromium


@pytest.mark.browser
@pytest.mark.slow
def test_hovering_a_cross_map_names_a_decoder_query_and_an_encoder_key(
    browser: Any, built: Path
) -> None:
    from tests.browser._browser import Watch, hover_tooltip, serve, wait_for_charts

    weights = maps()["cross_attention"]
    with serve(built) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch.attach(page)
        try:
            page.goto(base + "cross/heads/layer-1.html")
            wait_for_charts(page)
            for r, c in ((2, 1), (4, 6), (0, 0)):
                tip = hover_tooltip(page, 1, r, c, mark="^rx_cells")  # head 1 of layer 1
                assert tip["Query: decoder token"] == f"{r}: {DEC[r]}"
                assert tip["Key: encoder token"] == f"{c}: {ENC[c]}"
                assert tip["weight"] == f"{weights[1, 1, r, c]:.4f}"
            assert not watch.problems(base), watch.problems(base)
        finally:
            page.close()


BARS = """() => {
  const el = document.querySelector('.atlas-chart[data-spec]');
  const view = el.__atlasView || (el.__atlasEmbed && el.__atlasEmbed.view);
  const out = [];
  (function walk(node) {
    if (!node) return;
    if (node.role === 'mark' && /^ask_bars/.test(node.name || '')) {
      (node.items || []).forEach((it) => out.push([it.datum.name, it.datum.v, it.datum.rank]));
    }
    (node.items || []).forEach((item) => (item.items || []).forEach(walk));
  })(view.scenegraph().root);
  return out; }"""


@pytest.mark.browser
@pytest.mark.slow
def test_the_ask_picker_ranks_every_head_for_the_picked_pair(browser: Any, built: Path) -> None:
    from tests.browser._browser import Watch, serve, wait_for_charts

    weights = maps()["cross_attention"]
    with serve(built) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch.attach(page)
        try:
            page.goto(base + "cross/ask.html")
            wait_for_charts(page)
            for q, k in ((2, 1), (4, 6)):
                binds = page.locator(".atlas-chart").first.locator(".vega-bind select")
                binds.nth(0).select_option(index=q)
                binds.nth(1).select_option(index=k)
                page.wait_for_timeout(300)
                bars = sorted(page.evaluate(BARS), key=lambda b: b[2])
                expected = sorted(
                    ((float(weights[la, h, q, k]), la, h) for la in range(3) for h in range(2)),
                    key=lambda t: (-t[0], t[1], t[2]),
                )
                assert [b[0] for b in bars] == [f"L{la} H{h}" for _, la, h in expected]
                for bar, (w, _, _) in zip(bars, expected, strict=True):
                    assert bar[1] == pytest.approx(w, abs=5e-5)
            assert not watch.problems(base), watch.problems(base)
        finally:
            page.close()
