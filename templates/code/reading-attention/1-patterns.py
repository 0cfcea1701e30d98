import numpy as np

from attention_atlas.attention import softmax

n = 8
diagonal = softmax(4.0 * np.eye(n))  # a score of 4 on the diagonal, 0 elsewhere
print(f"diagonal {diagonal[0, 0]:.3f}, elsewhere {diagonal[0, 1]:.3f}")
causal = np.tril(np.ones((n, n), dtype=bool))  # True: may attend
previous = softmax(4.0 * np.eye(n, k=-1), mask=causal)  # 4 at (i, i-1)
print(f"{previous[0, 0]:.2f} {previous[1, 0]:.3f} {previous[-1, -2]:.3f}")
sink = softmax(np.where(np.arange(n) == 0, 4.0, 0.0) * np.ones((n, 1)))  # 4 in column 0
print(f"sink {sink[3, 0]:.3f}, uniform {softmax(np.zeros((n, n)))[0, 0]:.3f}")
