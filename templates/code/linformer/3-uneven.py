from attention_atlas.errors import ShapeError

try:
    pooling_projection(10, 4)  # blocks of 10/4 tokens do not exist
except ShapeError as exc:
    print(exc)
