from attention_atlas.readouts import head_entropy, row_entropy_bits

print(*(f"{h:.2f}" for h in row_entropy_bits(a)))  # bits per row of "The dog ran"
entropy = head_entropy(grid)  # (layers, heads): mean row entropy in bits
layer, head = np.unravel_index(entropy.argmin(), entropy.shape)
print(f"most focused: layer {layer}, head {head} at {entropy[layer, head]:.2f} bits")
print(*(f"{e:.2f}" for e in entropy.mean(axis=1)))  # per layer
