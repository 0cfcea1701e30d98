from attention_atlas.readouts import head_entropy, row_entropy_bits

uniform = softmax(np.zeros((n, n)))
for name, w in (
    ("diagonal", diagonal),
    ("previous", previous),
    ("sink", sink),
    ("uniform", uniform),
):
    print(f"{name}: mean row entropy {head_entropy(w):.2f} bits")
print(*(f"{h:.2f}" for h in row_entropy_bits(previous)[[0, -1]]))  # first and last row
