out, weights = additive_attention(query, inputs, w_q, w_k, v)
print(weights.shape, out.shape)  # the 4x3 map, and the 4x2 output
for w, o in zip(weights, out):
    print(*(f"{x:.4f}" for x in w), "->", *(f"{x:.4f}" for x in o))
