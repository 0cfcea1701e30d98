context = weights @ annotations  # weighted sum of the annotations, shape (3,)
print(*(f"{c:.4f}" for c in context))
