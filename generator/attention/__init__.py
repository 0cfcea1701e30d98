"""Attention in pure NumPy: scoring, masked softmax, full, multi-head and efficient variants.

Shape letters used throughout: B batch, H heads, N query positions, M key/value
positions, D model width, d_k/d_v per-head widths, P Linformer projected length,
r random features, C clusters, R/C rows/columns of a pooled map. ``mask`` is
boolean, broadcastable to (..., N, M), and True means "may attend". A row with
nothing to attend gets all-zero weights, never NaN. Bad shapes raise
:class:`~attention_atlas.errors.ShapeError` and bad values
:class:`~attention_atlas.errors.AtlasError` (both ``ValueError``).

dtypes: float32 and float64 are kept; integers compute in float64; float16 is
computed in float32 and returned as float16.
"""

from attention_atlas.attention.additive import additive_attention
from attention_atlas.attention.clustered import ClusteredAttention, clustered_attention, kmeans
from attention_atlas.attention.core import (
    SelfAttention,
    attention_weights,
    scaled_dot_product_attention,
    self_attention,
)
from attention_atlas.attention.kernelized import (
    linear_attention,
    performer_attention,
    random_features,
)
from attention_atlas.attention.linformer import linformer_attention, pooling_projection
from attention_atlas.attention.multihead import multi_head_attention
from attention_atlas.attention.pooling import (
    PooledViews,
    block_detail,
    block_edges,
    pool_map,
    pooled_attention,
    pooled_views,
    row_logsumexp,
    strongest_blocks,
)
from attention_atlas.attention.scoring import (
    additive_scores,
    dot_scores,
    general_scores,
    scaled_dot_scores,
)
from attention_atlas.attention.softmax import softmax

__all__ = [
    "ClusteredAttention",
    "PooledViews",
    "SelfAttention",
    "additive_attention",
    "additive_scores",
    "attention_weights",
    "block_detail",
    "block_edges",
    "clustered_attention",
    "dot_scores",
    "general_scores",
    "kmeans",
    "linear_attention",
    "linformer_attention",
    "multi_head_attention",
    "performer_attention",
    "pool_map",
    "pooled_attention",
    "pooled_views",
    "pooling_projection",
    "random_features",
    "row_logsumexp",
    "scaled_dot_product_attention",
    "scaled_dot_scores",
    "self_attention",
    "softmax",
    "strongest_blocks",
]
