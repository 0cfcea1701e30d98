w_q, w_k, w_v = arrays["w_q"], arrays["w_k"], arrays["w_v"]  # (D, d) each
q, k, v = x @ w_q, x @ w_k, x @ w_v  # (N, d) each
print(w_q.shape, q.shape, k.shape, v.shape)
