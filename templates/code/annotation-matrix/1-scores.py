import numpy as np

from attention_atlas.attention import dot_scores, softmax

decoder = np.array([5.0, 1.0, 20.0])  # shape (3,)
annotations = np.array(  # 4 annotations of 3 units, shape (4, 3)
    [[3.0, 12.0, 45.0], [59.0, 2.0, 5.0], [1.0, 43.0, 5.0], [4.0, 3.0, 45.3]]
)
scores = dot_scores(decoder, annotations)  # one matrix-vector product, shape (4,)
print(*(f"{s:g}" for s in scores))
