e_learned = arrays["rand_e"]  # (P, N) = (4, 16): random, as a linear layer starts
share = np.abs(e_learned) / np.abs(e_learned).sum(axis=1, keepdims=True)
print(f"largest share of one token: {share.max():.0%}")
print(f"negative coefficients: {(e_learned < 0).sum()} of {e_learned.size}")
