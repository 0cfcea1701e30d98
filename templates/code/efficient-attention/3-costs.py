from attention_atlas.scenarios._costs import CostConfig, flops, memory

cfg = CostConfig(width=64, features=128, clusters=32, projected=128, iterations=10)
n = np.array([4096])
print(
    f"full attention at N = 4096: {flops('full', n, cfg)[0] / 1e9:.2f} G operations, "
    f"{memory('full', n, cfg)[0] / 2**20:.0f} MiB"
)
lengths = np.arange(1, 4097)
full = flops("full", lengths, cfg)
for method in ("linformer", "kernelized", "clustered"):
    cheaper = lengths[flops(method, lengths, cfg) < full]
    print(f"{method} needs fewer operations than full from N = {cheaper[0]}")
