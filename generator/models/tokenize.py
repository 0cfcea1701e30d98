"""WordPiece tokenization for the pretrained model, read from its ``tokenizer.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

__all__ = ["TokenizedText", "WordPieceTokenizer"]


@dataclass(frozen=True)
class TokenizedText:
    """One tokenized text.

    Attributes
    ----------
    input_ids : ndarray of int64, shape (N,)
        Vocabulary ids, [CLS] first and [SEP] last.
    tokens : tuple of str, length N
        The WordPiece token for each id (continuations start with ``##``).
    """

    input_ids: NDArray[np.int64]
    tokens: tuple[str, ...]


class WordPieceTokenizer:
    """The model's own tokenizer, without the padding and truncation to 128 its file asks for."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer

    @classmethod
    def from_file(cls, path: str | Path) -> WordPieceTokenizer:
        """Load ``tokenizer.json``."""
        return cls(Tokenizer.from_file(str(path)))

    def __call__(self, text: str) -> TokenizedText:
        """Tokenize ``text``: lower-cased WordPiece with [CLS] and [SEP] kept."""
        if not isinstance(text, str):
            msg = f"text must be a str, got {type(text).__name__}"
            raise TypeError(msg)
        encoding = self._tokenizer.encode(text)
        return TokenizedText(
            input_ids=np.asarray(encoding.ids, dtype=np.int64),
            tokens=tuple(encoding.tokens),
        )

    def tokens_of(self, input_ids: NDArray[np.integer]) -> tuple[str, ...]:
        """The token string of each id, shape (N,) -> length N."""
        return tuple(self._tokenizer.id_to_token(int(i)) or "[UNK]" for i in input_ids)
