import numpy as np

from attention_atlas.attention import dot_scores

decoder = np.array([5.0, 1.0, 20.0])  # decoder hidden state, shape (3,)
annotation = np.array([3.0, 12.0, 45.0])  # encoder hidden state, shape (3,)
products = decoder * annotation  # unit by unit
score = dot_scores(decoder, annotation)
print(*(f"{x:g}" for x in products), f"score {score:g}")
print(f"unit 3's share: {products[2] / score:.0%}")
