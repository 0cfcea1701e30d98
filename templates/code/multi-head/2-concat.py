from attention_atlas.attention import multi_head_attention, scaled_dot_product_attention
from attention_atlas.scenarios import get

page = get("multi-head")
arrays = page.compute(page).arrays
x = arrays["x0"]  # the first layer's input, (N, D)
n, d_model, heads = x.shape[0], x.shape[1], page.params["heads"]
rng = np.random.default_rng(0)
w_q, w_k, w_v, w_o = (rng.normal(0.0, 0.5, size=(d_model, d_model)) for _ in range(4))
out, weights = multi_head_attention(x, x, w_q, w_k, w_v, w_o, heads)  # weights (H, N, N)


def split(m):  # (N, H*d) -> (H, N, d): head h takes its own d columns
    return m.reshape(n, heads, -1).transpose(1, 0, 2)


one_by_one, _ = scaled_dot_product_attention(split(x @ w_q), split(x @ w_k), split(x @ w_v))
concat = one_by_one.transpose(1, 0, 2).reshape(n, -1)  # (N, H*d_v)
print(weights.shape, concat.shape, out.shape)
print(f"largest difference {np.abs(concat @ w_o - out).max():g}")
