import numpy as np

from attention_atlas.attention import linformer_attention, pooling_projection
from attention_atlas.scenarios import get

page = get("linformer")
arrays = page.compute(page).arrays
q, k, v = arrays["small_q"], arrays["small_k"], arrays["small_v"]  # (4, 3) each
e = pooling_projection(4, 2)  # (P, N) = (2, 4): each row averages 2 tokens
out, weights = linformer_attention(q, k, v, e, e)  # weights (N, P) = (4, 2)
for block in e @ k:  # the average key of each block
    print(*(f"{x:.2f}" for x in block))
for w in weights:
    print(*(f"{x:.4f}" for x in w))
