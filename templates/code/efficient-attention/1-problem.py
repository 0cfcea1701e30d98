import numpy as np

from attention_atlas.attention import scaled_dot_product_attention
from attention_atlas.scenarios import get
from attention_atlas.scenarios.efficient_attention import topic_problem

page = get("efficient-attention")
p, seed = page.params, page.seed
q, k, v, topic = topic_problem(
    p["segments"],
    p["width"],
    topic_scale=p["topic_scale"],
    noise=p["noise"],
    value_noise=p["value_noise"],
    seed=seed,
)  # q, k, v: (64, 16); topic: the segment of each position
exact_out, exact_w = scaled_dot_product_attention(q, k, v)
same_topic = topic[:, None] == topic[None, :]  # (64, 64)
print(
    f"in-topic weight {(exact_w * same_topic).sum(axis=1).mean():.2f}, "
    f"uniform {same_topic.mean():.2f}"
)
