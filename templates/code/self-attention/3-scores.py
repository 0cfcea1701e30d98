from attention_atlas.attention import dot_scores

d = q.shape[1]
scores = dot_scores(q, k) / np.sqrt(d)  # (N, N)
cats, pets = tokens.index("cats"), tokens.index("pets")
print(f"q·k {q[cats] @ k[pets]:.2f}, score {scores[cats, pets]:.2f}, self {scores[cats, cats]:.2f}")
