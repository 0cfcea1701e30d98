"""Loading a user's .npz: every bad input is a one-line error naming the file and field."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attention_atlas.dumps.read import (
    ROW_SUM_TOLERANCE,
    ProjectionDump,
    inspect_dump,
    load_any,
    load_dump,
    validate_dump,
)
from attention_atlas.errors import AtlasError

TOKENS = np.array(["[CLS]", "the", "cat", "[SEP]"])


def uniform(*shape: int) -> np.ndarray:
    return np.full(shape, 1.0 / shape[-1])


def savez(path: Path, **fields: Any) -> Path:
    np.savez(path, **fields)
    return path


def test_four_dimensional_dump_loads_as_is(tmp_path: Path) -> None:
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 3, 4))
    dump = load_dump(savez(tmp_path / "run.npz", attention=weights, tokens=TOKENS))
    assert dump.attention.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(dump.attention, weights)
    assert dump.tokens == tuple(TOKENS.tolist())
    assert dump.key_tokens == dump.tokens
    assert dump.self_attention
    assert dump.warnings == ()
    assert (dump.layers, dump.heads, dump.n, dump.m) == (2, 3, 4, 4)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((4, 4), (1, 1, 4, 4)), ((5, 4, 4), (1, 5, 4, 4))],
)
def test_missing_leading_axes_count_as_one_layer_and_head(
    tmp_path: Path, shape: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    dump = load_dump(savez(tmp_path / "run.npz", attention=uniform(*shape), tokens=TOKENS))
    assert dump.attention.shape == expected
    assert dump.stored_shape == shape


def test_key_tokens_allow_cross_attention(tmp_path: Path) -> None:
    keys = np.array(["la", "Syrie", "est", "un", "pays", "."])
    path = savez(tmp_path / "x.npz", attention=uniform(4, 6), tokens=TOKENS, key_tokens=keys)
    dump = load_dump(path)
    assert dump.key_tokens == tuple(keys.tolist())
    assert not dump.self_attention


def test_byte_string_tokens_are_decoded_as_utf8(tmp_path: Path) -> None:
    tokens = np.array(["é".encode(), b"b", b"c", b"d"])
    dump = load_dump(savez(tmp_path / "b.npz", attention=uniform(4, 4), tokens=tokens))
    assert dump.tokens == ("é", "b", "c", "d")


def test_all_zero_rows_are_accepted_and_counted(tmp_path: Path) -> None:
    weights = uniform(2, 4, 4)
    weights[1, 3] = 0.0
    dump = load_dump(savez(tmp_path / "pad.npz", attention=weights, tokens=TOKENS))
    assert dump.zero_rows == 1
    assert dump.warnings == ()


def test_rows_off_by_more_than_the_tolerance_warn_with_rows_and_gap(tmp_path: Path) -> None:
    weights = uniform(2, 3, 4, 4)
    weights[1, 2, 3, 0] += 0.25
    weights[0, 0, 1, 1] += ROW_SUM_TOLERANCE / 2  # within tolerance: not listed
    dump = load_dump(savez(tmp_path / "off.npz", attention=weights, tokens=TOKENS))
    assert len(dump.warnings) == 1
    (note,) = dump.warnings
    assert "off.npz" in note
    assert "'attention'" in note
    assert "1 of 24 rows" in note
    assert "L1 H2 row 3 sums to 1.25" in note
    assert "largest gap 0.25" in note
    assert "not renormalised" in note
    np.testing.assert_array_equal(dump.attention, weights)  # shown as given


def test_warning_lists_the_worst_rows_first_and_counts_the_rest(tmp_path: Path) -> None:
    weights = uniform(1, 1, 9, 9)
    weights[0, 0, :, 0] += np.linspace(0.01, 0.09, 9)
    dump = load_dump(
        savez(tmp_path / "many.npz", attention=weights, tokens=np.array(list("abcdefghi")))
    )
    (note,) = dump.warnings
    assert note.index("row 8") < note.index("row 7")
    assert "and 4 more" in note


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _good_bytes(tmp_path: Path) -> bytes:
    return savez(tmp_path / "good.npz", attention=uniform(2, 4, 4), tokens=TOKENS).read_bytes()


def _pickled_attention(tmp_path: Path) -> Path:
    weights = np.empty(1, dtype=object)
    weights[0] = uniform(4, 4)
    return savez(tmp_path / "bad.npz", attention=weights, tokens=TOKENS)


def _corrupt_member(tmp_path: Path) -> Path:
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, attention=uniform(2, 4, 4), tokens=TOKENS)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("attention.npy")
    start = info.header_offset + 30 + len(info.filename) + 5
    data[start : start + 20] = b"\xff" * 20
    return _write(path, bytes(data))


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "bad.npz").mkdir()
    return tmp_path / "bad.npz"


def _npy_file(tmp_path: Path) -> Path:
    np.save(tmp_path / "one.npy", uniform(4, 4))
    return _write(tmp_path / "bad.npz", (tmp_path / "one.npy").read_bytes())


class Evil:
    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (print, ("pickle ran",))


def _evil_pickle_member(tmp_path: Path) -> Path:
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("attention.npy", pickle.dumps(Evil()))
        with archive.open("tokens.npy", "w") as handle:
            np.lib.format.write_array(handle, TOKENS)
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "not found": (lambda d: d / "bad.npz", ("not found",)),
    "a folder": (_folder, ("folder",)),
    "empty": (lambda d: _write(d / "bad.npz", b""), ("empty",)),
    "text": (lambda d: _write(d / "bad.npz", b"attention,tokens\n1,a\n"), ("not a .npz",)),
    "truncated": (
        lambda d: _write(d / "bad.npz", _good_bytes(d)[: len(_good_bytes(d)) // 2]),
        ("truncated",),
    ),
    "corrupt member": (_corrupt_member, ("damaged",)),
    "a .npy file": (
        _npy_file,
        (".npy", "'attention'"),
    ),
    "pickled tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 4), tokens=TOKENS.astype(object)),
        ("'tokens'", "pickled"),
    ),
    "pickled attention": (_pickled_attention, ("'attention'", "pickled")),
    "raw pickle member": (_evil_pickle_member, ("'attention'", "never loaded")),
    "missing attention": (
        lambda d: savez(d / "bad.npz", tokens=TOKENS),
        ("missing field 'attention'",),
    ),
    "missing tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 4), words=TOKENS),
        ("missing field 'tokens'", "'words'"),
    ),
    "1-D attention": (
        lambda d: savez(d / "bad.npz", attention=uniform(4), tokens=TOKENS),
        ("'attention'", "(4,)", "(L, H, N, M)"),
    ),
    "5-D attention": (
        lambda d: savez(d / "bad.npz", attention=uniform(1, 2, 2, 4, 4), tokens=TOKENS),
        ("'attention'", "(1, 2, 2, 4, 4)"),
    ),
    "empty axis": (
        lambda d: savez(d / "bad.npz", attention=np.zeros((2, 0, 4, 4)), tokens=TOKENS),
        ("'attention'", "(2, 0, 4, 4)"),
    ),
    "string attention": (
        lambda d: savez(d / "bad.npz", attention=np.array([["a"]]), tokens=TOKENS[:1]),
        ("'attention'", "dtype"),
    ),
    "too few tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(2, 4, 4), tokens=TOKENS[:3]),
        ("'tokens'", "3 tokens", "4 query positions"),
    ),
    "2-D tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 4), tokens=TOKENS.reshape(2, 2)),
        ("'tokens'", "(2, 2)"),
    ),
    "numeric tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 4), tokens=np.arange(4)),
        ("'tokens'", "strings"),
    ),
    "M != N without key_tokens": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 6), tokens=TOKENS),
        ("'key_tokens'", "6 key positions"),
    ),
    "key_tokens vs M": (
        lambda d: savez(d / "bad.npz", attention=uniform(4, 6), tokens=TOKENS, key_tokens=TOKENS),
        ("'key_tokens'", "4 tokens", "6 key positions"),
    ),
    "NaN": (
        lambda d: savez(
            d / "bad.npz", attention=np.where(np.eye(4, dtype=bool), np.nan, 0.25), tokens=TOKENS
        ),
        ("'attention'", "NaN", "row 0, column 0"),
    ),
    "inf": (
        lambda d: savez(
            d / "bad.npz", attention=np.where(np.eye(4, dtype=bool), np.inf, 0.0), tokens=TOKENS
        ),
        ("'attention'", "infinite"),
    ),
    "negative": (
        lambda d: savez(
            d / "bad.npz", attention=np.where(np.eye(4, dtype=bool), 1.5, -0.5 / 3), tokens=TOKENS
        ),
        ("'attention'", "negative", "scores"),
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_one_line_error_naming_file_and_field(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(AtlasError) as info:
        load_dump(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:"), message
    for part in expected:
        assert part in message, message
    assert "pickle ran" not in capsys.readouterr().out


def test_validate_dump_checks_in_memory_arrays_with_the_given_name() -> None:
    with pytest.raises(AtlasError, match=r"^my run: field 'tokens'"):
        validate_dump(uniform(4, 4), TOKENS[:2], source="my run")


def test_head_out_of_range_names_the_valid_range(tmp_path: Path) -> None:
    dump = load_dump(savez(tmp_path / "run.npz", attention=uniform(2, 3, 4, 4), tokens=TOKENS))
    assert dump.head(1, 2).shape == (4, 4)
    with pytest.raises(AtlasError, match=r"layer 2 does not exist: expected 0 to 1"):
        dump.head(2, 0)
    with pytest.raises(AtlasError, match=r"head 3 does not exist: expected 0 to 2"):
        dump.head(0, 3)


# --------------------------------------------------------------------------- q and k dumps

RNG = np.random.default_rng(5)
Q = RNG.standard_normal((2, 3, 4, 8))
K = RNG.standard_normal((2, 3, 4, 8))


def test_query_key_dump_loads_as_float32_with_the_default_scale(tmp_path: Path) -> None:
    dump = load_any(savez(tmp_path / "qk.npz", q=Q, k=K, tokens=TOKENS))
    assert isinstance(dump, ProjectionDump)
    assert dump.q.dtype == dump.k.dtype == np.float32
    np.testing.assert_allclose(dump.q, Q, rtol=1e-6)
    assert dump.scale == pytest.approx(1 / np.sqrt(8))
    assert (dump.layers, dump.heads, dump.n, dump.m) == (2, 3, 4, 4)
    assert dump.map_bytes == 4 * 2 * 3 * 4 * 4


def test_two_dimensional_query_key_dump_gets_one_layer_and_head(tmp_path: Path) -> None:
    keys = np.array(["a", "b", "c"])
    dump = load_any(
        savez(tmp_path / "qk.npz", q=Q[0, 0], k=K[0, 0, :3], tokens=TOKENS, key_tokens=keys,
              scale=np.float64(0.5))
    )  # fmt: skip
    assert isinstance(dump, ProjectionDump)
    assert dump.q.shape == (1, 1, 4, 8) and dump.k.shape == (1, 1, 3, 8)
    assert dump.key_tokens == ("a", "b", "c") and not dump.self_attention
    assert dump.scale == 0.5


def test_load_any_still_reads_attention_dumps(tmp_path: Path) -> None:
    dump = load_any(savez(tmp_path / "run.npz", attention=uniform(4, 4), tokens=TOKENS))
    assert dump.attention.shape == (1, 1, 4, 4)  # type: ignore[union-attr]


BAD_PROJECTIONS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "k of another width": ({"q": Q, "k": K[..., :4], "tokens": TOKENS}, ("'k'", "width d")),
    "k of other heads": ({"q": Q, "k": K[:, :2], "tokens": TOKENS}, ("'k'", "heads")),
    "NaN in q": (
        {"q": np.where(Q > 2.5, np.nan, Q), "k": K, "tokens": TOKENS},
        ("'q'", "NaN"),
    ),
    "1-D k": ({"q": Q, "k": K.ravel(), "tokens": TOKENS}, ("'k'", "(L, H, N, d)")),
    "two scales": ({"q": Q, "k": K, "tokens": TOKENS, "scale": [1.0, 2.0]}, ("'scale'",)),
    "M != N without key tokens": (
        {"q": Q, "k": K[:, :, :3], "tokens": TOKENS},
        ("'key_tokens'", "3 key positions"),
    ),
    "q without k": ({"q": Q, "tokens": TOKENS}, ("missing field 'attention' (or 'q' and 'k')",)),
}


@pytest.mark.parametrize("case", sorted(BAD_PROJECTIONS))
def test_bad_query_key_dump_is_a_one_line_error(tmp_path: Path, case: str) -> None:
    fields, expected = BAD_PROJECTIONS[case]
    path = savez(tmp_path / "bad.npz", **fields)
    with pytest.raises(AtlasError) as info:
        load_any(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:"), message
    for part in expected:
        assert part in message, message


def test_load_dump_names_what_a_query_key_dump_lacks(tmp_path: Path) -> None:
    path = savez(tmp_path / "qk.npz", q=Q, k=K, tokens=TOKENS)
    with pytest.raises(AtlasError, match="holds 'q' and 'k' but no 'attention'"):
        load_dump(path)


# --------------------------------------------------------------------------- decoder dumps


def _causal_uniform(n: int, m: int) -> np.ndarray:
    """Each query i spreads its weight evenly over keys 0..i + m - n."""
    seen = np.tril(np.ones((n, m)), k=m - n)
    return seen / seen.sum(axis=1, keepdims=True)


def test_a_causal_npz_dump_loads_with_its_flag_and_offset(tmp_path: Path) -> None:
    path = savez(
        tmp_path / "gpt2.npz",
        attention=_causal_uniform(2, 4)[None],
        tokens=TOKENS[2:],
        key_tokens=TOKENS,
        causal=np.bool_(True),
    )
    dump = load_dump(path)
    assert dump.causal and dump.query_offset == 2
    assert not load_dump(
        savez(tmp_path / "plain.npz", attention=uniform(4, 4), tokens=TOKENS)
    ).causal


def test_a_causal_dump_that_looks_ahead_names_layer_head_row_and_column(tmp_path: Path) -> None:
    weights = np.stack([_causal_uniform(4, 4), np.full((4, 4), 0.25)])  # head 1 is not causal
    path = savez(tmp_path / "leak.npz", attention=weights, tokens=TOKENS, causal=np.bool_(True))
    with pytest.raises(
        AtlasError,
        match=r"leak\.npz: field 'attention': causal is true, but layer 0, head 1, row 0 ",
    ) as caught:
        load_dump(path)
    assert "to column 1, a future key (row 0 may see columns 0 to 0)" in str(caught.value)


@pytest.mark.parametrize(
    "causal", [np.int8(1), np.array([True, True]), np.array("true"), np.float32(1.0)]
)
def test_a_causal_field_that_is_not_one_boolean_is_refused_from_its_header(
    tmp_path: Path, causal: np.ndarray
) -> None:
    path = savez(tmp_path / "c.npz", attention=uniform(4, 4), tokens=TOKENS, causal=causal)
    with pytest.raises(AtlasError, match=r"c\.npz: field 'causal': expected one boolean"):
        inspect_dump(path)


def test_grouped_query_keys_load_from_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 6, 4, 8)), rng.standard_normal((2, 3, 4, 8))
    path = savez(tmp_path / "gqa.npz", q=q, k=k, v=k, tokens=TOKENS, causal=np.bool_(True))
    dump = load_any(path)
    assert (dump.heads, dump.kv_heads, dump.group, dump.kv_head(5)) == (6, 3, 2, 2)
    np.testing.assert_array_equal(dump.k_head(1, 5), k[1, 2].astype(np.float32))
