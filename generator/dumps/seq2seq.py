"""Encoder-decoder dumps: encoder self-attention, decoder self-attention and cross attention.

A translation or summarisation model (Marian, T5, BART) has three kinds of attention,
each with its own token axes. The file (``.npz``, written with ``numpy.savez``) holds:

- ``encoder_attention``: (Le, He, Ne, Ne), (He, Ne, Ne) or (Ne, Ne): the encoder's
  self-attention over the Ne source tokens;
- ``decoder_attention``: (Ld, Hd, Nd, Nd), (Hd, Nd, Nd) or (Nd, Nd): the decoder's
  (causal) self-attention over the Nd target tokens;
- ``cross_attention``: (Lc, Hc, Nd, Ne), (Hc, Nd, Ne) or (Nd, Ne): rows are decoder
  tokens (queries), columns encoder tokens (keys);
- ``encoder_tokens``: Ne strings; ``decoder_tokens``: Nd strings.

Layer and head counts may differ between the three (an encoder of 6 layers and a
decoder of 3). transformers returns ``encoder_attentions``, ``decoder_attentions`` and
``cross_attentions`` as per-layer tuples of (batch, H, N, M); stacking batch item 0
gives these fields (see the "Use it in your docs and CI" guide).

Reading follows :mod:`attention_atlas.dumps.read`: the member list and every array's
header are checked (names, dtypes, shapes, token counts against both token axes) and
the memory priced before any data is decoded; then each map is checked as
:func:`~attention_atlas.dumps.read.validate_dump` checks one (finite, non-negative,
rows that do not sum to 1 reported). Every problem is one line naming the file and
the field.
"""

from __future__ import annotations

import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from attention_atlas.dumps.budget import (
    map_job_bytes,
    resolve_budget,
    token_bytes,
)
from attention_atlas.dumps.read import (
    ArrayHeader,
    AttentionDump,
    _fail,
    _map_shape,
    _npz_headers,
    _pickled,
    _priced,
    read_npz_fields,
    validate_dump,
)
from attention_atlas.errors import AtlasError, ShapeError

__all__ = [
    "FIELDS",
    "PARTS",
    "Part",
    "Seq2SeqDump",
    "is_seq2seq",
    "load_seq2seq",
    "validate_seq2seq",
]

Part = Literal["encoder", "decoder", "cross"]

#: The three maps, in the order the report shows them.
PARTS: tuple[Part, ...] = ("encoder", "decoder", "cross")

#: Each part's (map field, query-token field, key-token field).
FIELDS: dict[Part, tuple[str, str, str]] = {
    "encoder": ("encoder_attention", "encoder_tokens", "encoder_tokens"),
    "decoder": ("decoder_attention", "decoder_tokens", "decoder_tokens"),
    "cross": ("cross_attention", "decoder_tokens", "encoder_tokens"),
}

#: What each part is called on a page.
TITLES: dict[Part, str] = {
    "encoder": "Encoder self-attention",
    "decoder": "Decoder self-attention",
    "cross": "Cross attention",
}

_MAPS = tuple(f[0] for f in FIELDS.values())
_TOKENS = ("encoder_tokens", "decoder_tokens")


@dataclass(frozen=True)
class Seq2SeqDump:
    """A checked encoder-decoder dump: three maps, each an :class:`AttentionDump`.

    Attributes
    ----------
    source : str
    encoder : AttentionDump
        Shape (Le, He, Ne, Ne); tokens and key tokens are the encoder tokens.
    decoder : AttentionDump
        Shape (Ld, Hd, Nd, Nd); tokens and key tokens are the decoder tokens.
    cross : AttentionDump
        Shape (Lc, Hc, Nd, Ne); tokens are the decoder tokens, key tokens the encoder's.
    """

    source: str
    encoder: AttentionDump
    decoder: AttentionDump
    cross: AttentionDump

    def part(self, name: str) -> AttentionDump:
        """The map called ``name`` (one of :data:`PARTS`), or a one-line error."""
        if name not in PARTS:
            msg = f"{self.source}: no map {name!r} in an encoder-decoder dump; expected one of "
            raise AtlasError(msg + ", ".join(PARTS))
        dump: AttentionDump = getattr(self, name)
        return dump

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every map's notes about rows that do not sum to 1."""
        return self.encoder.warnings + self.decoder.warnings + self.cross.warnings


def _check_shapes(
    source: str,
    maps: dict[str, tuple[np.dtype[Any], tuple[int, ...]]],
    tokens: dict[str, tuple[np.dtype[Any], tuple[int, ...]]],
) -> None:
    """Every map's shape and both token fields, against each other (the same rules for
    headers and for arrays in memory)."""
    for name, (dtype, shape) in tokens.items():
        if len(shape) != 1 or dtype.kind not in "SU":
            msg = f"field '{name}': expected a 1-D array of strings, got {dtype} {shape}"
            raise _fail(source, msg)
    count = {name: shape[0] for name, (_, shape) in tokens.items()}
    for part, (field, rows, cols) in FIELDS.items():
        dtype, stored = maps[field]
        _, _, n, m = _map_shape(source, dtype, stored, field)
        for axis, size, token_field in (("rows (N)", n, rows), ("columns (M)", m, cols)):
            if size != count[token_field]:
                what = "decoder tokens" if token_field == "decoder_tokens" else "encoder tokens"
                msg = (
                    f"field '{token_field}': {count[token_field]} tokens, but {field} shaped "
                    f"{stored} has {size} {axis}; the {part} map's {axis.split()[0]} are the "
                    f"{what}"
                )
                raise ShapeError(f"{source}: {msg}")


def is_seq2seq(path: str | Path) -> bool:
    """True when ``path`` is a zip archive listing an encoder-decoder field (reads no data).

    Anything else (a missing file, not a zip) is False: the ordinary reader then says
    what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = {n.removesuffix(".npy") for n in archive.namelist()}
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return bool(names & {*_MAPS, *_TOKENS})


def _headers(path: Path, max_memory: int | str | None) -> dict[str, ArrayHeader]:
    """Every field's header, checked and priced before any data is read."""
    source = str(path)
    budget = resolve_budget(max_memory)
    headers = _npz_headers(path, lambda names: _fields(names, source))
    _check_shapes(
        source,
        {n: (headers[n].dtype, headers[n].shape) for n in _MAPS},
        {n: (headers[n].dtype, headers[n].shape) for n in _TOKENS},
    )
    parts = {}
    for name in _MAPS:
        shape4 = _map_shape(source, headers[name].dtype, headers[name].shape, name)
        parts[name] = map_job_bytes(headers[name].count, shape4[0] * shape4[1])
    for name in _TOKENS:
        h = headers[name]
        parts[name] = token_bytes(h.count, h.dtype.itemsize, h.dtype.kind)
    _priced(source, headers, parts, budget)
    return headers


def _fields(names: list[str], source: str) -> tuple[str, ...]:
    """The three maps and two token lists, all of which the archive must hold."""
    missing = [f for f in (*_MAPS, *_TOKENS) if f not in names]
    if missing:
        found = ", ".join(repr(n) for n in names) or "no fields"
        msg = (
            f"missing field '{missing[0]}': an encoder-decoder dump holds "
            f"{', '.join(_MAPS)}, {', '.join(_TOKENS)} (found {found})"
        )
        raise _fail(source, msg)
    return (*_MAPS, *_TOKENS)


def load_seq2seq(path: str | Path, *, max_memory: int | str | None = None) -> Seq2SeqDump:
    """Load and check an encoder-decoder ``.npz`` dump (module docstring).

    Parameters
    ----------
    path : str or Path
    max_memory : int or str, optional
        As :func:`attention_atlas.dumps.read.load_dump`: checked from the headers first.

    Raises
    ------
    AtlasError
        One line naming the file and the field.
    """
    file = Path(path)
    source = str(file)
    arrays = read_npz_fields(file, source, _headers(file, max_memory))
    return validate_seq2seq(**arrays, source=source)


def _renamed(text: str, field: str, rows: str, cols: str) -> str:
    """A message of :func:`validate_dump`, which names the one-map fields, with this
    dump's field names instead."""
    return (
        text.replace("field 'attention'", f"field '{field}'")
        .replace("field 'key_tokens'", f"field '{cols}'")
        .replace("field 'tokens'", f"field '{rows}'")
    )


def validate_seq2seq(
    encoder_attention: Any,
    decoder_attention: Any,
    cross_attention: Any,
    encoder_tokens: Any,
    decoder_tokens: Any,
    *,
    source: str = "encoder-decoder dump",
) -> Seq2SeqDump:
    """Check the three maps and two token lists in memory, as :func:`load_seq2seq` does.

    Parameters
    ----------
    encoder_attention : ndarray, shape (Le, He, Ne, Ne), (He, Ne, Ne) or (Ne, Ne)
    decoder_attention : ndarray, shape (Ld, Hd, Nd, Nd), (Hd, Nd, Nd) or (Nd, Nd)
    cross_attention : ndarray, shape (Lc, Hc, Nd, Ne), (Hc, Nd, Ne) or (Nd, Ne)
    encoder_tokens : ndarray of str, shape (Ne,)
    decoder_tokens : ndarray of str, shape (Nd,)
    source : str
        Name at the start of every error message.

    Returns
    -------
    Seq2SeqDump
    """
    given = {
        "encoder_attention": np.asarray(encoder_attention),
        "decoder_attention": np.asarray(decoder_attention),
        "cross_attention": np.asarray(cross_attention),
        "encoder_tokens": np.asarray(encoder_tokens),
        "decoder_tokens": np.asarray(decoder_tokens),
    }
    for name, arr in given.items():
        if arr.dtype.hasobject:
            raise _pickled(source, name)
    _check_shapes(
        source,
        {n: (given[n].dtype, tuple(given[n].shape)) for n in _MAPS},
        {n: (given[n].dtype, tuple(given[n].shape)) for n in _TOKENS},
    )
    dumps = {}
    for part, (field, rows, cols) in FIELDS.items():
        try:
            dump = validate_dump(given[field], given[rows], given[cols], source=source)
        except AtlasError as exc:
            raise type(exc)(_renamed(str(exc), field, rows, cols)) from None
        warnings = tuple(_renamed(w, field, rows, cols) for w in dump.warnings)
        dumps[part] = dataclasses.replace(dump, warnings=warnings)
    return Seq2SeqDump(source=source, **dumps)
