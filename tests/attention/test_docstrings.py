"""The examples in the docstrings are true."""

import doctest
import importlib

import pytest

MODULES = [
    "attention_atlas.attention.softmax",
    "attention_atlas.attention.scoring",
    "attention_atlas.attention.core",
    "attention_atlas.attention.multihead",
    "attention_atlas.attention.additive",
    "attention_atlas.attention.linformer",
    "attention_atlas.attention.kernelized",
    "attention_atlas.attention.clustered",
    "attention_atlas.attention.pooling",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_function_documents_shapes_and_cost():
    import attention_atlas.attention as attention

    for name in attention.__all__:
        doc = getattr(attention, name).__doc__ or ""
        assert doc.strip(), name
        if callable(getattr(attention, name)) and not isinstance(getattr(attention, name), type):
            assert "Notes\n    -----" in doc, f"{name} has no Notes section"
