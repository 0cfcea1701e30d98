from attention_atlas.attention import softmax

weights = softmax(scores)  # (N, N): row i is how word i splits its attention
for token, w in zip(tokens, weights[cats]):
    print(f"{token} {w:.2f}")
