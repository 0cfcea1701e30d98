"""The trained date translator: its NumPy forward, its accuracy, its alignments, its file."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.errors import AtlasError
from attention_atlas.models import dates
from attention_atlas.models.alignment import (
    OUTPUT_LENGTH,
    WEIGHTS_PATH,
    AlignmentModel,
    AlignmentUnavailable,
    Translation,
    load_alignment_model,
    read_weights,
)

#: Held-out inputs drawn for these tests (a seed of their own, not the page's).
HELD_OUT = 600


@pytest.fixture(scope="module")
def model() -> AlignmentModel:
    return load_alignment_model()


@pytest.fixture(scope="module")
def held_out() -> list[dates.DateExample]:
    return dates.sample_examples(np.random.default_rng(7), HELD_OUT, held_out=True)


@pytest.fixture(scope="module")
def translated(model: AlignmentModel, held_out: list[dates.DateExample]) -> Translation:
    return model.translate([e.words for e in held_out])


def test_the_weights_ship_small_as_float32() -> None:
    assert WEIGHTS_PATH.stat().st_size < 1_000_000
    arrays = read_weights(WEIGHTS_PATH)
    floats = {k: v for k, v in arrays.items() if "vocab" not in k}
    assert floats and all(v.dtype == np.float32 for v in floats.values())


@pytest.mark.slow  # importing torch takes seconds
def test_numpy_forward_equals_the_training_code_on_the_shipped_weights(
    model: AlignmentModel, held_out: list[dates.DateExample]
) -> None:
    torch = pytest.importorskip("torch", reason="the training extra (torch) is not installed")
    from training.train_alignment import DateTranslator, batch

    reference = DateTranslator.from_arrays(read_weights(WEIGHTS_PATH))
    examples = held_out[:200]
    ids, mask, _ = batch(reference, examples)
    with torch.no_grad():
        logits, weights = reference(ids, mask)  # greedy, as the site decodes
    np_ids, np_mask = model.ids([e.words for e in examples])
    np.testing.assert_array_equal(np_ids, ids.numpy())
    chars, np_weights, np_logits = model.decode(model.encode(np_ids, np_mask), np_mask)
    np.testing.assert_array_equal(chars, logits.argmax(-1).numpy())
    np.testing.assert_allclose(np_weights, weights.numpy(), atol=2e-5)
    np.testing.assert_allclose(np_logits, logits.numpy(), atol=2e-4, rtol=1e-4)


def test_held_out_exact_match_is_at_least_99_percent(
    translated: Translation, held_out: list[dates.DateExample]
) -> None:
    out = translated
    right = [o == e.target for o, e in zip(out.outputs, held_out, strict=True)]
    assert np.mean(right) >= 0.99


def test_year_digits_attend_most_to_the_year_words(
    translated: Translation, held_out: list[dates.DateExample]
) -> None:
    out = translated
    good = 0
    for i, e in enumerate(held_out):
        years = {m for m, role in enumerate(e.roles) if role == "year"}
        assert years, e
        top = out.alignment(i)[:4].argmax(axis=-1)  # the four year digits
        good += all(int(m) in years for m in top)
    assert good / len(held_out) >= 0.95


def test_maps_are_output_by_input_with_rows_summing_to_one(model: AlignmentModel) -> None:
    inputs = [dates.example(dt.date(2021, 3, 25), f).words for f in dates.FORMATS]
    out = model.translate(inputs)
    assert out.weights.shape == (len(inputs), OUTPUT_LENGTH, max(map(len, inputs)))
    for i, words in enumerate(inputs):
        assert out.text(i) == "2021-03-25", words
        a = out.alignment(i)
        assert a.shape == (OUTPUT_LENGTH, len(words))
        np.testing.assert_allclose(a.sum(axis=-1), 1.0, atol=1e-12)
        assert (out.weights[i, :, len(words) :] == 0).all()  # padding gets nothing


def test_a_word_the_model_does_not_know_is_named(model: AlignmentModel) -> None:
    with pytest.raises(AtlasError, match="does not know the word 'brumaire'"):
        model.translate([("25", "brumaire", "2021")])
    with pytest.raises(AtlasError, match="at least one word"):
        model.translate([()])


# --- damaged weights: one line naming the file ---------------------------------------------


def _rewrite(path: Path, **changes: np.ndarray | None) -> None:
    arrays = read_weights(WEIGHTS_PATH)
    for name, value in changes.items():
        if value is None:
            del arrays[name]
        else:
            arrays[name] = value
    np.savez(path, **arrays)


def _damaged(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    raw = WEIGHTS_PATH.read_bytes()
    if kind == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif kind == "not-a-zip":
        path.write_bytes(b"these are not weights\n" * 10)
    elif kind == "missing-array":
        _rewrite(path, att_v=None)
    elif kind == "wrong-shape":
        _rewrite(path, att_w_q=np.zeros((3, 3), np.float32))
    elif kind == "not-finite":
        _rewrite(path, out_b=np.full(11, np.nan, np.float32))
    elif kind == "pickled":
        _rewrite(path, out_b=np.array([{"x": 1}], dtype=object))
    elif kind == "corrupt-member":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("att_v.npy", b"\x93NUMPY garbage")
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "truncated",
        "not-a-zip",
        "missing-array",
        "wrong-shape",
        "not-finite",
        "pickled",
        "corrupt-member",
    ],
)
def test_damaged_or_missing_weights_give_one_line_naming_the_file(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "absent.npz" if kind == "missing" else _damaged(tmp_path, kind)
    with pytest.raises(AlignmentUnavailable) as caught:
        load_alignment_model(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path.resolve()}: cannot read the date model's weights")


# --- the task ------------------------------------------------------------------------------


def test_every_format_round_trips_through_the_tokenizer() -> None:
    vocabulary = set(dates.source_vocabulary())
    for day in (dt.date(1950, 1, 1), dt.date(2004, 2, 29), dt.date(2049, 12, 31)):
        for fmt in dates.FORMATS:
            e = dates.example(day, fmt)
            assert dates.tokenize(dates.written(e.words)) == e.words
            assert set(e.words) <= vocabulary
            assert "".join(e.target) == day.isoformat()
            assert e.roles.count("year") == 1


def test_training_never_draws_a_held_out_day() -> None:
    rng = np.random.default_rng(0)
    assert not any(dates.is_held_out(d) for d in dates.sample_dates(rng, 2000, held_out=False))
    assert all(dates.is_held_out(d) for d in dates.sample_dates(rng, 200, held_out=True))


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(AtlasError, match="unknown date format 'yyyy'"):
        dates.example(dt.date(2021, 3, 25), "yyyy")
