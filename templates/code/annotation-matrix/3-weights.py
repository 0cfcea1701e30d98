weights = softmax(scores)  # shifts by the maximum inside, so it never overflows
print(*(f"{w:.4f}" for w in weights), f"sum {weights.sum():.4f}")
