views = pooled_views(q, k, 128, 128, ("mean", "max"))  # 128 x 128 blocks, never the map
mean, top = views.views["mean"], views.views["max"]  # (128, 128) each
print(f"block (101, 16): mean {mean[101, 16]:.5f}, max {top[101, 16]:.3f}")
print(f"all block means average to {mean.mean():.7f}")
