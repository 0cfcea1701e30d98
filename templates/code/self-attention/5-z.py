from attention_atlas.attention import scaled_dot_product_attention

z, same_weights = scaled_dot_product_attention(q, k, v)  # Z (N, d), weights (N, N)
print(*(f"{x:.2f}" for x in z[cats]))  # the new vector of "cats"
print(*(f"{x:.2f}" for x in v[pets]))  # close to the value vector of "pets"
print(np.allclose(same_weights, weights))
