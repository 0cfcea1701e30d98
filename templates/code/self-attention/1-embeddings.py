import numpy as np

from attention_atlas.scenarios import get

# The page's inputs: hand-built embeddings X and the projections (seeded noise).
page = get("self-attention")
arrays = page.compute(page).arrays
tokens = list(page.params["tokens"])
x = arrays["x"]
print(x.shape)  # N tokens x D features
