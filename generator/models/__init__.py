"""A real pretrained transformer (all-MiniLM-L6-v2) run in NumPy.

- :func:`load_minilm` -> :class:`Model`; :meth:`Model.forward` (ids) and
  :meth:`Model.encode` / :func:`encode` (text) -> :class:`Encoding` with
  ``hidden_states`` (L+1, N, D) and ``attentions`` (L, H, N, N).
- :func:`layer_norm`, the LayerNorm of the model and of the tutorial's layers.
- :mod:`~attention_atlas.models.assets` fetches the weights once into the user's
  cache; :class:`ModelUnavailable` says when that is impossible (offline).

What its heads do (entropy, special-token share, previous/next-token scores, the
head finder) is read by :mod:`attention_atlas.readouts`, which takes any model's maps.
"""

from attention_atlas.models.assets import ModelUnavailable, cache_root, cached_model_dir
from attention_atlas.models.bert import BertConfig, Encoding, Model, encode, load_minilm
from attention_atlas.models.normalization import layer_norm

__all__ = [
    "BertConfig",
    "Encoding",
    "Model",
    "ModelUnavailable",
    "cache_root",
    "cached_model_dir",
    "encode",
    "layer_norm",
    "load_minilm",
]
