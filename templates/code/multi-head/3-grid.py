grid = arrays["weights"]  # the page's stack: (layers, heads, N, N)
print(grid.shape)
print(f"largest deviation of a row sum from 1: {np.abs(grid.sum(axis=-1) - 1).max():.0e}")
