"""A real pretrained transformer (all-MiniLM-L6-v2) run in NumPy, and summaries of its heads.

- :func:`load_minilm` -> :class:`Model`; :meth:`Model.forward` (ids) and
  :meth:`Model.encode` / :func:`encode` (text) -> :class:`Encoding` with
  ``hidden_states`` (L+1, N, D) and ``attentions`` (L, H, N, N).
- :func:`layer_norm`, the LayerNorm of the model and of the tutorial's layers.
- :mod:`~attention_atlas.models.assets` fetches the weights once into the user's
  cache; :class:`ModelUnavailable` says when that is impossible (offline).
- :mod:`~attention_atlas.readouts`: per-head entropy, special-token share,
  previous/next-token scores, :func:`hide_special`, :func:`find_heads`.
"""

from attention_atlas.models.assets import ModelUnavailable, cache_root, cached_model_dir
from attention_atlas.models.bert import BertConfig, Encoding, Model, encode, load_minilm
from attention_atlas.models.normalization import layer_norm
from attention_atlas.readouts import (
    SPECIAL_TOKENS,
    HeadScore,
    find_heads,
    head_entropy,
    hide_special,
    next_token_score,
    previous_token_score,
    special_token_share,
)

__all__ = [
    "SPECIAL_TOKENS",
    "BertConfig",
    "Encoding",
    "HeadScore",
    "Model",
    "ModelUnavailable",
    "cache_root",
    "cached_model_dir",
    "encode",
    "find_heads",
    "head_entropy",
    "hide_special",
    "layer_norm",
    "load_minilm",
    "next_token_score",
    "previous_token_score",
    "special_token_share",
]
