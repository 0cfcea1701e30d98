from attention_atlas.scenarios._costs import CostConfig, flops, memory

cfg = CostConfig(width=64, features=128, clusters=32, projected=128, iterations=10)
n = np.array([4096])
print(
    f"full attention at N = 4096: {flops('full', n, cfg)[0] / 1e9:.2f} G operations, "
    f"{memory('full', n, cfg)[0] / 2**20:.0f} MiB"
)
