import numpy as np

from attention_atlas.attention import additive_attention, additive_scores
from attention_atlas.scenarios import get

inputs = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # keys and values, shape (3, 2)
query = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])  # shape (4, 2)
hidden = 8
# A seeded random scoring net, drawn as the page draws it (as NetInitialize would).
rng = np.random.default_rng(get("sequence-attention").seed)
w_q = rng.normal(0.0, 1.0, size=(2, hidden))  # (2, 8)
w_k = rng.normal(0.0, 1.0, size=(2, hidden))  # (2, 8)
v = rng.normal(0.0, 1.0, size=hidden)  # (8,)
scores = additive_scores(query, inputs, w_q, w_k, v)  # v . tanh(q W_q + x W_k)
print(scores.shape)  # one score per (query, input) pair
