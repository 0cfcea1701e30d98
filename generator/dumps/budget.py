"""How much memory a job on a user's dump may use, and how much it will need.

A dump's file size says nothing about its memory: a 0.56 MB ``.npz`` holding a
float16 map that compresses well expands to 512 MiB, and the report works on it in
float64 with several working copies. So every job is priced from the arrays'
headers (shape and dtype, read before any data) and refused when the price is over
the budget: :data:`DEFAULT_MAX_MEMORY`, or what ``--max-memory`` / ``max_memory=``
gives (:func:`parse_size`).

The prices cover the dump's arrays and the working memory that grows with them,
measured as peak resident memory of ``attention-atlas report`` on dumps of many
shapes. They do not cover the program itself (Python, NumPy, Altair and MkDocs:
about 200 MB whatever the dump).
"""

from __future__ import annotations

import math
import operator
import re

from attention_atlas.errors import AtlasError
from attention_atlas.text import bytes_text

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "HEAD_BYTES",
    "JOB_BYTES",
    "MAP_BYTES_PER_WEIGHT",
    "map_job_bytes",
    "over_budget",
    "parse_size",
    "resolve_budget",
    "token_bytes",
]

#: The budget when none is given: 2 GiB. A fixed figure, so that a dump is accepted
#: or refused alike on a laptop and in CI whatever else runs there; it admits a
#: BERT-base dump at 512 tokens (12 x 12 heads, about 1.1 GiB) and fits the
#: smallest common CI runners (7 GB) with room to spare.
DEFAULT_MAX_MEMORY = 2 * 2**30

#: Bytes per attention weight while a report or export runs: the map in float64
#: (8) and, at the peak, three more float64 arrays of its size while each head's
#: row entropy is computed (the map as float64 again, its logarithms and their
#: product). Measured: 31 bytes a weight above the program's own memory.
MAP_BYTES_PER_WEIGHT = 32

#: Bytes per head for its charts and page text, whatever its size (measured
#: about 16 KiB on a report of 256 heads of 4 x 4).
HEAD_BYTES = 32 * 2**10

#: Bytes of every job whatever the dump's size: the chart bundle, templates and
#: MkDocs' pages (measured 8 to 10 MiB on reports of one and of 16 small heads).
JOB_BYTES = 32 * 2**20

#: Bytes per token beyond its stored characters: the Python object (a ``str``, and
#: for byte strings the ``bytes`` decoded into it) and its places in a list and a tuple.
TOKEN_OBJECT_BYTES = {"U": 80, "S": 128}

_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt])(?:i?b)?|b)?", re.IGNORECASE)

_HOW = "a size such as 512M, 4G, 1.5GiB or a number of bytes"


def parse_size(text: str) -> int:
    """A memory size in bytes: ``"512M"``, ``"4G"``, ``"1.5GiB"``, ``"2147483648"``.

    Units K, M, G and T are powers of 1024 with or without ``B``/``iB``, in any case;
    a number without a unit counts bytes and must be whole.

    Raises
    ------
    AtlasError
        For anything else, zero, or a negative size.
    """
    match = _SIZE.fullmatch(text.strip())
    unit = (match.group(2) or "").lower() if match else ""
    if match is None or (not unit and "." in match.group(1)):
        msg = f"expected {_HOW}, got {text!r}"
        raise AtlasError(msg)
    size = math.floor(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        msg = f"expected a memory size above 0 ({_HOW}), got {text!r}"
        raise AtlasError(msg)
    return size


def resolve_budget(max_memory: int | str | None) -> int:
    """The budget in bytes: :data:`DEFAULT_MAX_MEMORY` for ``None``, else the size given."""
    if max_memory is None:
        return DEFAULT_MAX_MEMORY
    if isinstance(max_memory, str):
        return parse_size(max_memory)
    try:
        if isinstance(max_memory, bool):
            raise TypeError
        size = operator.index(max_memory)
    except TypeError:
        msg = f"max_memory: expected a number of bytes or {_HOW}, got {max_memory!r}"
        raise AtlasError(msg) from None
    if size <= 0:
        msg = f"max_memory: expected a number of bytes above 0, got {size}"
        raise AtlasError(msg)
    return size


def token_bytes(count: int, itemsize: int, kind: str) -> int:
    """Memory of ``count`` tokens of ``itemsize`` bytes: the array and the Python strings.

    ``kind`` is the dtype's kind, ``"U"`` (4 bytes a character) or ``"S"`` (UTF-8 bytes,
    decoded through a ``bytes`` object). A string takes at most its stored size.
    """
    copies = 2 if kind == "U" else 3
    return count * (copies * itemsize + TOKEN_OBJECT_BYTES.get(kind, 128))


def map_job_bytes(weights: int, heads: int) -> int:
    """Peak memory of a report or export of ``weights`` attention weights in ``heads`` heads."""
    return MAP_BYTES_PER_WEIGHT * weights + HEAD_BYTES * heads


def _suggest(need: int) -> str:
    """A ``--max-memory`` value at or just above ``need``, to 3 figures: ``"8.03G"``, ``"597M"``."""
    unit, scale = ("G", 2**30) if need >= 2**30 else ("M", 2**20)
    value = need / scale
    digits = max(0, 2 - math.floor(math.log10(value))) if value >= 1 else 3
    return f"{math.ceil(value * 10**digits) / 10**digits:g}{unit}"


def over_budget(where: str, need: int, budget: int) -> AtlasError:
    """The one-line refusal: ``where`` names the file, field, shape and dtype and the job.

    ``where`` reads like ``"run.npz: field 'attention' (1, 1, 16384, 16384) float16
    needs"``; the message goes on with the memory and the budget and how to raise it.
    """
    msg = (
        f"{where} {bytes_text(need)} of memory, over the budget of {bytes_text(budget)}; "
        f"raise it with --max-memory {_suggest(need)} (max_memory= in Python)"
    )
    return AtlasError(msg)
