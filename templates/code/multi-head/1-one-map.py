import numpy as np

tokens = ["The", "dog", "ran"]
a = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]])  # one head's map
for token, row in zip(tokens, a):
    shares = ", ".join(f"{w:g} through {key}" for w, key in zip(row, tokens))
    print(f"{token} routes {shares} (sum {row.sum():g})")
