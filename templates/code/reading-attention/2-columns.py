received = sink.sum(axis=0)  # what each key receives: its column sum
print(f"{received[0]:.2f} {received[1]:.2f} total {received.sum():g}")
even = softmax(np.zeros((n, n)), mask=causal)  # row i gives 1/(i+1) to each key it sees
print(f"even causal attention: {even.sum(axis=0)[0]:.3f} {even.sum(axis=0)[-1]:.3f}")
