received = sink.sum(axis=0)  # what each key receives: its column sum
print(f"{received[0]:.2f} {received[1]:.2f} total {received.sum():g}")
