"""``.safetensors`` dumps: the header checked before any data, q and k read a head at a time."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_atlas.dumps.read import (
    AttentionDump,
    ProjectionDump,
    StoredTensor,
    inspect_dump,
    load_any,
    load_dump,
)
from attention_atlas.dumps.safetensors_file import MAX_HEADER, read_header
from attention_atlas.dumps.stream import stream_head
from attention_atlas.errors import AtlasError
from tests.conftest import run_cli

safetensors_numpy = pytest.importorskip("safetensors.numpy")

TOKENS = ["The", "cat", "sat"]


def raw_file(path: Path, header: Any, data: bytes = b"", length: int | None = None) -> Path:
    """A file laid out as safetensors: length, header (JSON of ``header`` or raw bytes), data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def _meta(**extra: str) -> dict[str, str]:
    return {"tokens": json.dumps(TOKENS), **extra}


def test_a_file_written_by_the_safetensors_library_is_read(tmp_path: Path) -> None:
    weights = np.tril(np.ones((2, 3, 3), dtype=np.float32))
    weights /= weights.sum(axis=-1, keepdims=True)
    path = tmp_path / "gpt2.safetensors"
    safetensors_numpy.save_file({"attention": weights}, str(path), metadata=_meta(causal="true"))
    dump = load_dump(path)
    assert isinstance(dump, AttentionDump)
    assert dump.causal and dump.tokens == tuple(TOKENS)
    np.testing.assert_allclose(dump.attention[0], weights)


def test_q_and_k_stay_in_the_file_and_stream_one_head_at_a_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    q = rng.standard_normal((16, 4, 1024, 64)).astype(np.float16)  # 16 MiB as float32
    k = rng.standard_normal((16, 2, 1024, 64)).astype(np.float16)
    path = tmp_path / "llama.safetensors"
    tokens = json.dumps([f"t{i}" for i in range(1024)])
    safetensors_numpy.save_file(
        {"q": q, "k": k}, str(path), metadata={"tokens": tokens, "causal": "true"}
    )
    tracemalloc.start()
    try:
        dump = load_any(path)
        assert isinstance(dump, ProjectionDump)
        assert isinstance(dump.q, StoredTensor) and dump.resident_bytes == 0
        view = stream_head(dump, 15, 3, blocks=16, details=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # q and k as float32 would take 24 MiB: a layer (checked) and a head at a time take less.
    assert peak < 6 * 2**20
    np.testing.assert_array_equal(dump.k_head(15, 3), k[15, 1].astype(np.float32))
    assert view.maximum.shape == (16, 16)
    assert dump.kv_heads == 2 and dump.query_offset == 0


def test_bf16_and_f64_tensors_are_widened(tmp_path: Path) -> None:
    values = np.array([[1.5, -2.0], [0.25, 3.0], [1.0, 1.0]], dtype=np.float32)
    words = (values.view(np.uint32) >> 16).astype("<u2")  # exact in bfloat16
    header = {
        "__metadata__": _meta(scale="0.5"),
        "q": {"dtype": "BF16", "shape": [3, 2], "data_offsets": [0, 12]},
        "k": {"dtype": "F64", "shape": [3, 2], "data_offsets": [12, 60]},
    }
    path = raw_file(
        tmp_path / "bf16.safetensors", header, words.tobytes() + values.astype("<f8").tobytes()
    )
    dump = load_any(path)
    assert isinstance(dump, ProjectionDump)
    np.testing.assert_array_equal(dump.q_head(0, 0), values)
    np.testing.assert_array_equal(dump.k_head(0, 0), values)
    assert dump.scale == 0.5


def test_causal_may_be_a_bool_tensor(tmp_path: Path) -> None:
    path = tmp_path / "flag.safetensors"
    weights = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    safetensors_numpy.save_file(
        {"attention": weights, "causal": np.array([True])}, str(path), metadata=_meta()
    )
    assert load_dump(path).causal


def _qk_header(**changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "__metadata__": _meta(),
        "q": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
        "k": {"dtype": "F32", "shape": [3, 2], "data_offsets": [24, 48]},
    }
    header.update(changes)
    return header


@pytest.mark.parametrize(
    ("header", "data", "length", "match"),
    [
        (b"", b"", None, "header: not JSON"),
        (b"{not json", b"", None, "header: not JSON"),
        (b"[1, 2]", b"", None, "header: expected a JSON object, got list"),
        (b"{}", b"", MAX_HEADER + 1, "header length: declares"),
        (b"{}", b"", 2**64 - 1, "header length: declares"),
        (b"{}", b"", 10**6, "header length: declares 1000000 bytes"),
        (_qk_header(), b"\0" * 40, None, r"tensor 'k': data_offsets \[24, 48\] run past the end"),
        (
            _qk_header(k={"dtype": "F32", "shape": [3, 2], "data_offsets": [16, 40]}),
            b"\0" * 48,
            None,
            "tensor 'k': its data overlaps tensor 'q'",
        ),
        (
            _qk_header(k={"dtype": "F32", "shape": [3, 3], "data_offsets": [24, 48]}),
            b"\0" * 48,
            None,
            r"tensor 'k': data_offsets \[24, 48\] hold 24 bytes, but shape \(3, 3\) F32 needs 36",
        ),
        (
            _qk_header(k={"dtype": "F8_E4M3", "shape": [3, 2], "data_offsets": [24, 30]}),
            b"\0" * 48,
            None,
            "tensor 'k': dtype 'F8_E4M3' is not one of",
        ),
        (
            _qk_header(k={"dtype": "F32", "shape": [3, -2], "data_offsets": [24, 48]}),
            b"\0" * 48,
            None,
            "tensor 'k': shape .* is not a list of counts",
        ),
        (
            _qk_header(k={"dtype": "F32", "shape": [3, 2], "data_offsets": [48, 24]}),
            b"\0" * 48,
            None,
            "tensor 'k': data_offsets .* are not",
        ),
        (_qk_header(k=[1, 2]), b"\0" * 48, None, "tensor 'k': expected an object"),
        (_qk_header(__metadata__={"tokens": 3}), b"\0" * 48, None, "field '__metadata__'"),
        (_qk_header(__metadata__={}), b"\0" * 48, None, "missing field 'tokens'"),
        (
            _qk_header(__metadata__={"tokens": "[1, 2, 3]"}),
            b"\0" * 48,
            None,
            "field 'tokens': expected a JSON list of strings",
        ),
        (
            _qk_header(__metadata__=_meta(causal="yes")),
            b"\0" * 48,
            None,
            'field \'causal\': expected "true" or "false"',
        ),
        (
            _qk_header(__metadata__=_meta(scale="big")),
            b"\0" * 48,
            None,
            "field 'scale': expected a number",
        ),
        (
            _qk_header(causal={"dtype": "F32", "shape": [1], "data_offsets": [48, 52]}),
            b"\0" * 52,
            None,
            "field 'causal': expected one boolean",
        ),
        (
            _qk_header(k={"dtype": "F32", "shape": [3, 3], "data_offsets": [24, 60]}),
            b"\0" * 60,
            None,
            "field 'k': shape .* does not match q",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_field(
    tmp_path: Path, header: Any, data: bytes, length: int | None, match: str
) -> None:
    path = raw_file(tmp_path / "bad.safetensors", header, data, length)
    with pytest.raises(AtlasError, match=match) as caught:
        inspect_dump(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_a_file_shorter_than_its_length_is_refused(tmp_path: Path) -> None:
    for size in (0, 5):
        path = tmp_path / f"short{size}.safetensors"
        path.write_bytes(b"\1" * size)
        with pytest.raises(AtlasError, match="header length: the file has"):
            read_header(path)


def test_the_report_command_refuses_a_garbage_header_with_exit_2(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "garbage.safetensors", b"\xff\xfe junk")
    done = run_cli("report", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "garbage.safetensors" in done.stderr and "header: not JSON" in done.stderr
    assert not (tmp_path / "out").exists()


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_entry = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F16", "BF16", "F32", "F64", "BOOL", "X"]),
        "shape": st.lists(st.integers(-1, 4), max_size=4) | _json,
        "data_offsets": st.lists(st.integers(-1, 80), min_size=2, max_size=2) | _json,
    }
)


@settings(max_examples=60, deadline=None)
@given(
    tensors=st.dictionaries(
        st.sampled_from(["q", "k", "attention", "causal", "scale"]), _entry | _json
    ),
    metadata=st.none()
    | st.dictionaries(st.sampled_from(["tokens", "causal", "scale"]), _json | st.text()),
    data=st.binary(max_size=80),
)
def test_no_header_gets_past_the_checks_with_anything_but_a_one_line_error(
    tmp_path_factory: pytest.TempPathFactory, tensors: dict[str, Any], metadata: Any, data: bytes
) -> None:
    header = dict(tensors)
    if metadata is not None:
        header["__metadata__"] = metadata
    path = raw_file(tmp_path_factory.mktemp("fuzz") / "f.safetensors", header, data)
    try:
        dump = load_any(path)
    except AtlasError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
    else:  # only a well-formed dump gets here
        assert dump.tokens and len(dump.tokens) == dump.n


def test_a_llama_sized_dump_is_priced_without_holding_q_and_k(tmp_path: Path) -> None:
    """32 layers x 32 heads (8 key heads) x 2048 x 128 float16: q alone is 1 GiB as float32."""
    from attention_atlas.dumps.safetensors_file import header_bytes

    shapes = {"q": ("F16", (32, 32, 2048, 128)), "k": ("F16", (32, 8, 2048, 128))}
    head = header_bytes(shapes, {"tokens": json.dumps(["t"] * 2048), "causal": "true"})
    path = tmp_path / "llama.safetensors"
    with path.open("wb") as handle:  # a sparse file: the header, then 640 MiB of holes
        handle.write(head)
        handle.truncate(len(head) + 2 * (32 * 32 + 32 * 8) * 2048 * 128)
    plan = inspect_dump(path)
    assert plan.lazy and plan.kind == "projections"
    assert plan.need < 2**30 <= 4 * 32 * 32 * 2048 * 128
