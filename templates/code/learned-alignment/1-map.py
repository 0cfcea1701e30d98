import numpy as np

from attention_atlas.models.alignment import load_alignment_model

model = load_alignment_model()  # the trained weights that ship with the package
words = ["thursday", "25", "march", "2021"]  # the input, split into words
translation = model.translate([words])
a = translation.alignment(0)  # (T, M) = (characters written, words read)
print(translation.text(0), a.shape)
for char, row in zip(translation.outputs[0], a):
    print(char, words[int(row.argmax())], f"{row.max():.2f}")  # the word it reads most
