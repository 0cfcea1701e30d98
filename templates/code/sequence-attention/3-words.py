from attention_atlas.attention import dot_scores, softmax

source = ["la", "Syrie", "est", "un", "pays", "."]  # the words read (keys)
target = ["Syria", "is", "a", "country", "."]  # the words produced (queries)
alignment = [[0, 1], [2], [3], [4], [5]]  # by hand: "Syria" translates "la Syrie"
emb = rng.normal(size=(len(source), 16))  # the same generator, next draws
emb /= np.linalg.norm(emb, axis=1, keepdims=True)  # unit-length word embeddings
pick = np.zeros((len(target), len(source)))
for row, sources in enumerate(alignment):
    pick[row, sources] = 1.0
queries = 6.0 * (pick @ emb)  # each query points at the words it aligns to
align = softmax(dot_scores(queries, emb))  # (5, 6): rows produced, columns read
print(*(f"{source[j]} {align[0, j]:.2f}" for j in (0, 1)))
