"""``attention-atlas find``: every head ranked by the weight from one query onto one key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.cli import main
from attention_atlas.dumps.find import find_link
from tests.dumps.test_seq2seq import maps

TOKENS = ["[CLS]", "the", "animal", "didn't", "cross", "the", "street", "because", "it", "[SEP]"]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    weights = _softmax(np.random.default_rng(1).normal(size=(3, 4, 10, 10)) * 3)
    path = tmp_path_factory.mktemp("find") / "run.npz"
    np.savez(path, attention=weights, tokens=np.array(TOKENS))
    return path, weights


def test_table_lists_every_head_by_weight_with_exact_values(
    dump: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    path, weights = dump
    assert main(["find", str(path), "--query", "it", "--key", "animal"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("query 8 'it' -> key 2 'animal'")
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 12
    expected = sorted(
        ((float(weights[la, h, 8, 2]), la, h) for la in range(3) for h in range(4)),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    for rank, (row, (w, la, h)) in enumerate(zip(rows, expected, strict=True), start=1):
        assert row[:3] == [str(rank), str(la), str(h)]
        assert float(row[3]) == pytest.approx(w, rel=1e-5)
        assert row[4] in {"previous-token", "next-token", "diagonal", "sink", "broad"}


def test_json_and_top(dump: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    path, weights = dump
    assert main(["find", str(path), "--query", "8", "--key", "2", "--json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["query"] == {"position": 8, "token": "it"}
    assert [h["rank"] for h in data["heads"]] == [1, 2, 3]
    best = data["heads"][0]
    assert best["weight"] == float(weights[best["layer"], best["head"], 8, 2])
    assert best["weight"] == weights[:, :, 8, 2].max()


@pytest.mark.parametrize(
    ("query", "key", "message"),
    [
        ("the", "animal", r"query 'the' is ambiguous: it is at positions 1 \('the'\), 5 \('the'\)"),
        ("it", "zebra", "key 'zebra' is not one of the 10 tokens"),
        ("it", "12", "key position 12 does not exist: expected 0 to 9"),
        ("\x1b[31m", "it", r"query '\\x1b\[31m' is not one of"),
        ("", "it", "query '' is not one of"),
    ],
)
def test_bad_query_or_key_is_one_line_exit_2(
    dump: tuple[Path, np.ndarray],
    capsys: pytest.CaptureFixture[str],
    query: str,
    key: str,
    message: str,
) -> None:
    path, _ = dump
    assert main(["find", str(path), "--query", query, "--key", key]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    assert re.search(message, err), err


@pytest.mark.parametrize("args", [["--top", "0"], ["--map", "cross"]])
def test_bad_options_exit_2(
    dump: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    path, _ = dump
    assert main(["find", str(path), "--query", "it", "--key", "animal", *args]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_encoder_decoder_maps(tmp_path: Path) -> None:
    fields = maps()
    path = tmp_path / "s2s.npz"
    np.savez(path, **fields)
    cross = find_link(path, "Tier", "animal")
    assert cross.map == "cross" and (cross.query, cross.key) == (2, 1)
    assert cross.heads[0].weight == fields["cross_attention"][:, :, 2, 1].max()
    decoder = find_link(path, 3, 1, part="decoder")
    assert len(decoder.heads) == 6
    assert decoder.heads[0].weight == fields["decoder_attention"][:, :, 3, 1].max()


def test_queries_and_keys_dump_matches_the_softmax(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    q = rng.normal(size=(2, 3, 6, 4)).astype(np.float32)
    k = rng.normal(size=(2, 3, 9, 4)).astype(np.float32)
    path = tmp_path / "qk.npz"
    keys = np.array([f"k{i}" for i in range(9)])
    np.savez(path, q=q, k=k, tokens=np.array([f"q{i}" for i in range(6)]), key_tokens=keys)
    found = find_link(path, "q4", "k7")
    full = _softmax(np.einsum("lhnd,lhmd->lhnm", q, k) / 2.0)
    for s in found.heads:
        assert s.weight == pytest.approx(full[s.layer, s.head, 4, 7], rel=1e-5)
        assert s.kind == "-"


def test_the_guides_commands_use_real_flags() -> None:
    import shlex

    from attention_atlas.cli import parser

    guide = Path(__file__).resolve().parents[1] / "site_src" / "guides" / "ci.md"
    text = guide.read_text(encoding="utf-8")
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
        for line in block.splitlines()
        if line.startswith("attention-atlas find") or line.startswith("attention-atlas report --")
    ]
    assert any(c.startswith("attention-atlas find") for c in commands)
    assert any("--text" in c and "--pair" in c for c in commands)
    for command in commands:
        parser().parse_args(shlex.split(command)[1:])  # a usage error exits 2


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_causal_grouped_query_keys_dump_matches_a_plain_loop(tmp_path: Path, suffix: str) -> None:
    from attention_atlas.dumps.save import save_dump

    rng = np.random.default_rng(4)
    q = rng.normal(size=(2, 4, 3, 2)).astype(np.float32)  # 4 query heads
    k = rng.normal(size=(2, 2, 5, 2)).astype(np.float32)  # 2 key heads: grouped
    path = tmp_path / f"gqa{suffix}"
    keys = [f"k{i}" for i in range(5)]
    save_dump(path, q=q, k=k, tokens=keys[2:], key_tokens=keys, causal=True)
    found = find_link(path, 1, 2)  # query 1 sits at key position 3
    for s in found.heads:
        scores = [
            float(q[s.layer, s.head, 1] @ k[s.layer, s.head // 2, j]) / np.sqrt(2) for j in range(4)
        ]
        expected = np.exp(scores - np.max(scores))
        assert s.weight == pytest.approx(expected[2] / expected.sum(), rel=1e-5)
    assert find_link(path, 0, 4).heads[0].weight == 0.0  # key 4 is after query 0 (position 2)
