from attention_atlas.readouts import head_entropy, next_token_score, previous_token_score

previous = previous_token_score(attentions)  # (layers, heads)
following = next_token_score(attentions)
entropy = head_entropy(attentions)  # bits
for name, score in (("previous", previous), ("next", following)):
    layer, head = np.unravel_index(score.argmax(), score.shape)
    print(f"{name}-token head: L{layer} H{head} ({score[layer, head]:.2f})")
layer, head = np.unravel_index(entropy.argmax(), entropy.shape)
most = np.log2(len(enc.tokens))  # every row spread evenly over the N tokens
print(f"most diffuse: L{layer} H{head} ({entropy[layer, head]:.2f} bits of {most:.2f})")
