"""Fixtures for the pretrained-model tests: the model (skipped when it cannot be had) and
the recorded reference outputs."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from attention_atlas.models import Model, ModelUnavailable, load_minilm

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class Reference:
    """One recorded text: its ids, some (layer, head) maps and some layers' hidden states."""

    text: str
    input_ids: np.ndarray  # (N,)
    tokens: tuple[str, ...]
    heads: np.ndarray  # (K, 2) 0-based (layer, head)
    attentions: np.ndarray  # (K, N, N), float32 as transformers computes them
    attentions_f64: np.ndarray  # (K, N, N), the same model run in float64: the exact maps
    hidden_layers: np.ndarray  # (J,) indices into hidden_states (0 = embeddings)
    hidden_states: np.ndarray  # (J, N, D)


def load_references() -> list[Reference]:
    with np.load(FIXTURES / "minilm_reference.npz", allow_pickle=False) as f:
        count = json.loads(str(f["meta"]))["count"]
        return [
            Reference(
                text=str(f[f"s{i}_text"]),
                input_ids=f[f"s{i}_input_ids"],
                tokens=tuple(f[f"s{i}_tokens"].tolist()),
                heads=f[f"s{i}_heads"],
                attentions=f[f"s{i}_attentions"],
                attentions_f64=f[f"s{i}_attentions_f64"],
                hidden_layers=f[f"s{i}_hidden_layers"],
                hidden_states=f[f"s{i}_hidden_states"],
            )
            for i in range(count)
        ]


@pytest.fixture(scope="session")
def references() -> list[Reference]:
    return load_references()


@pytest.fixture(scope="session")
def minilm() -> Model:
    """The real model; the test is skipped (with the reason) when its weights cannot be had."""
    try:
        return load_minilm()
    except ModelUnavailable as exc:
        pytest.skip(f"all-MiniLM-L6-v2 weights unavailable: {exc}")


def load_reference_script() -> ModuleType:
    """``fixtures/make_reference.py`` as a module (it is a script, not part of a package)."""
    spec = importlib.util.spec_from_file_location(
        "minilm_make_reference", FIXTURES / "make_reference.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError(FIXTURES / "make_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
