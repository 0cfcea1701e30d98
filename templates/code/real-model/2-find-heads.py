from attention_atlas.readouts import find_heads, key_specificity

best, second = find_heads(attentions, enc.tokens, "it", "animal", top=2)
for h in (best, second):
    spec = key_specificity(attentions[h.layer, h.head], h.query_position, h.key_positions)
    print(
        f"L{h.layer} H{h.head}: {h.weight:.2f}; other rows {spec.others_mean:.2f} on average,"
        f" {spec.others_bright} of {spec.others} above 0.50, broad: {spec.broad}"
    )
