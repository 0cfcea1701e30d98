import numpy as np

from attention_atlas.attention import attention_weights, pool_map, pooled_views
from attention_atlas.scenarios import get
from attention_atlas.scenarios.long_sequences import long_problem

page = get("long-sequences")
q, k = long_problem(page.params, page.seed)  # (16384, 64) float32 each
print(q.shape, f"{q.shape[0] ** 2:,} weights in the full map")
# Where both ways are affordable (N = 4096): stream, then materialise and pool.
qs, ks = q[:4096], k[:4096]
blocks = 4096 // 128  # blocks of 128 positions
streamed = pooled_views(qs, ks, blocks, blocks, ("mean", "max"))  # never holds the map
w = attention_weights(qs, ks)  # (4096, 4096), 64 MiB
gap = max(np.abs(streamed.views[r] - pool_map(w, blocks, blocks, r)).max() for r in ("mean", "max"))
print(f"the two pooled maps agree within {gap:.0e}")
