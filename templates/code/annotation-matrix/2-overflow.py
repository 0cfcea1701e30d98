with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(scores) / np.exp(scores).sum()  # e^929 overflows to inf
print(naive)  # inf / inf is NaN
shifted = scores - scores.max()  # the fix: subtract the largest score
print(*(f"{s:g}" for s in shifted))
