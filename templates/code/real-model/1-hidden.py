import numpy as np

from attention_atlas.models import load_minilm
from attention_atlas.readouts import hide_special, special_token_share

model = load_minilm()  # all-MiniLM-L6-v2, read from its published files
enc = model.encode("The animal didn't cross the street because it was too tired.")
attentions = enc.attentions  # (layers, heads, N, N)
share = special_token_share(attentions, enc.tokens)  # (layers, heads)
layer, head = np.unravel_index(share.argmax(), share.shape)
print(f"median head {np.median(share):.2f}; heaviest L{layer} H{head} {share.max():.2f}")
hidden = hide_special(attentions, enc.tokens)  # [CLS]/[SEP] rows and columns dropped
kept = list(hidden.tokens)
before = attentions[3, 1, enc.tokens.index("it"), enc.tokens.index("animal")]
after = hidden.weights[3, 1, kept.index("it"), kept.index("animal")]  # rows renormalised
print(f"L3 H1 it -> animal: {before:.2f} -> {after:.2f}")
