from attention_atlas.models import load_minilm
from attention_atlas.readouts import find_heads, key_specificity

model = load_minilm()  # all-MiniLM-L6-v2, read from its published files
enc = model.encode("The animal didn't cross the street because it was too tired.")
attentions = enc.attentions  # (layers, heads, N, N)
best, second = find_heads(attentions, enc.tokens, "it", "animal", top=2)
for h in (best, second):
    spec = key_specificity(attentions[h.layer, h.head], h.query_position, h.key_positions)
    print(
        f"L{h.layer} H{h.head}: {h.weight:.2f}; other rows {spec.others_mean:.2f} on average,"
        f" {spec.others_bright} of {spec.others} above 0.50, broad: {spec.broad}"
    )
