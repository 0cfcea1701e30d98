"""The model's tokenizer: [CLS]/[SEP] kept, no padding, no truncation."""

from __future__ import annotations

import numpy as np
import pytest

from attention_atlas.models import Model

from .conftest import Reference


def test_special_tokens_kept_and_no_padding(minilm: Model) -> None:
    assert minilm.tokenizer is not None
    out = minilm.tokenizer("I love pets, especially cats.")
    assert out.tokens == ("[CLS]", "i", "love", "pets", ",", "especially", "cats", ".", "[SEP]")
    assert out.input_ids.dtype == np.int64
    assert out.input_ids[0] == 101
    assert out.input_ids[-1] == 102
    assert minilm.tokenizer.tokens_of(out.input_ids) == out.tokens


def test_no_truncation_at_128(minilm: Model) -> None:
    assert minilm.tokenizer is not None
    out = minilm.tokenizer("word " * 300)
    assert len(out.tokens) == 302
    assert out.tokens[-1] == "[SEP]"


def test_same_ids_as_upstream_tokenizer(minilm: Model, references: list[Reference]) -> None:
    assert minilm.tokenizer is not None
    for ref in references:
        out = minilm.tokenizer(ref.text)
        np.testing.assert_array_equal(out.input_ids, ref.input_ids)
        assert out.tokens == ref.tokens


def test_text_must_be_a_string(minilm: Model) -> None:
    assert minilm.tokenizer is not None
    with pytest.raises(TypeError, match="str"):
        minilm.tokenizer(b"bytes")  # type: ignore[arg-type]
