"""Numbers and prose, written once: every page, caption and message formats through here.

User text (tokens, titles, captions) is shown through :func:`visible`, which makes
invisible and structure-changing characters into visible escapes.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Collection, Iterable

# --------------------------------------------------------------------------- numbers
#
# Every number a page, a caption or a message shows is written by one of these. They
# share three rules: a value that rounds to zero is written without a minus sign
# ("0.00", never "-0.00"); NaN is written "NaN" and infinities "inf" and "-inf"; and
# ``None`` (a number that does not apply) is written "—" by :func:`fixed`.

#: What :func:`fixed` writes for a number that does not apply (``None``).
MISSING = "—"


def _finite_or_text(x: float) -> str | None:
    """``"NaN"``, ``"inf"`` or ``"-inf"`` for a non-finite ``x``; ``None`` for a number."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def _unsigned_zero(text: str) -> str:
    """``text`` without the sign of a value that rounded to zero: ``"-0.00"`` -> ``"0.00"``."""
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def fixed(x: float | None, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals: ``fixed(0.256) == "0.26"``, ``fixed(3, 0) == "3"``.

    ``-0.001`` is written ``"0.00"``; ``None`` is written :data:`MISSING`.
    """
    if x is None:
        return MISSING
    x = float(x)
    return _finite_or_text(x) or _unsigned_zero(f"{x:.{digits}f}")


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, trailing zeros dropped (Python's ``g``).

    ``significant(1.0731e9) == "1.07e+09"``, ``significant(268.4) == "268"``,
    ``significant(0.5, 6) == "0.5"``, ``significant(0.0000123) == "1.23e-05"``: an
    exponent appears below 1e-4 and from ``10**digits`` up.
    """
    x = float(x)
    return _finite_or_text(x) or _unsigned_zero(f"{x:.{digits}g}")


def plain_significant(x: float, digits: int = 2) -> str:
    """``x`` in plain decimals, never an exponent, rounded to ``digits`` significant digits.

    For small numbers that prose compares by eye: ``plain_significant(0.0000621) ==
    "0.000062"``, ``plain_significant(0.00147, 3) == "0.00147"``, ``plain_significant(
    0.5) == "0.50"``; the whole part of a large number is kept (``"1234"``).
    """
    x = float(x)
    if x == 0:
        return "0"
    places = max(digits - 1 - math.floor(math.log10(abs(x))), 0) if math.isfinite(x) else 0
    return fixed(x, places)


def percent(share: float, digits: int = 0) -> str:
    """A share of 1 as a percentage: ``percent(0.256) == "26%"``, ``percent(0.256, 1) ==
    "25.6%"``."""
    share = float(share)
    return _finite_or_text(share) or f"{fixed(100 * share, digits)}%"


def rounding_error(x: float, digits: int = 1) -> str:
    """A floating-point discrepancy: ``"0"`` when exact, else ``"2e-16"`` (``digits``
    significant digits in exponent form: ``rounding_error(4.44e-16, 2) == "4.4e-16"``)."""
    x = float(x)
    if x == 0:
        return "0"
    return _finite_or_text(x) or f"{x:.{digits - 1}e}"


def thousands(n: int) -> str:
    """A whole number with thousands separators: ``thousands(16384) == "16,384"``."""
    return f"{int(n):,}"


def _scaled(x: float, units: tuple[tuple[float, str], ...], digits: int) -> str:
    """``x`` in the largest of ``units`` it reaches, to ``digits`` significant digits.

    ``units`` run from the largest scale down to 1. A value that rounds up to
    ``10**digits`` of its unit is written in the next unit: ``"1 M"``, not ``"1e+03 k"``.
    """
    x = float(x)
    bad = _finite_or_text(x)
    if bad:
        return bad
    i = next((i for i, (scale, _) in enumerate(units) if abs(x) >= scale), len(units) - 1)
    text = significant(x / units[i][0], digits)
    if i > 0 and abs(float(text)) >= 10**digits:
        i -= 1
        text = significant(x / units[i][0], digits)
    return f"{text} {units[i][1]}".rstrip()


_BINARY = ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B"))
_METRIC = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""))


def bytes_text(count: float) -> str:
    """A byte count for prose: ``"1 GiB"``, ``"12.7 MiB"``, ``"320 KiB"``, ``"96 B"``."""
    if 0 <= count < 1024:
        return f"{fixed(count, 0)} B"
    return _scaled(count, _BINARY, 3)


def metric(x: float) -> str:
    """A large count with a metric prefix, 3 significant digits: ``"1.07 G"``,
    ``"268 M"``, ``"4.19 k"``, ``"512"``."""
    return _scaled(x, _METRIC, 3)


def size_text(sizes: Iterable[int]) -> str:
    """The size of blocks for prose, from their sizes (or the smallest and the largest):
    ``"64"``, or ``"64–65"`` when they differ."""
    values = [int(x) for x in sizes]
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def span_text(start: int, stop: int) -> str:
    """Positions ``start`` to ``stop - 1`` (a half-open range): ``"128–255"``, or ``"7"``
    for one position."""
    return f"{start}–{stop - 1}" if stop - start > 1 else f"{start}"


def shape_text(shape: Iterable[int]) -> str:
    """An array shape for prose: ``"(4, 3)"``."""
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def vector_text(values: Iterable[float], digits: int = 2) -> str:
    """A vector for prose, each entry :func:`fixed`: ``"[0.25, -0.50, 1.00]"``."""
    return "[" + ", ".join(fixed(x, digits) for x in values) + "]"


# --------------------------------------------------------------------------- words

_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
_ORDINAL_WORDS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]


def number_word(n: int) -> str:
    """A count in words up to twelve, in figures above: ``"three"``, ``"16,384"``."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else thousands(n)


def ordinal(position: int) -> str:
    """The ``position``-th, counted from 1: ``ordinal(1) == "first"``.

    Words up to twelfth, figures above (``"13th"``, ``"21st"``, ``"112th"``,
    ``"1,001st"``). A 0-based index ``i`` is ``ordinal(i + 1)``; ``position < 1``
    raises ``ValueError``.
    """
    if position < 1:
        msg = f"ordinal counts from 1, got {position}"
        raise ValueError(msg)
    if position <= len(_ORDINAL_WORDS):
        return _ORDINAL_WORDS[position - 1]
    last_two = position % 100
    suffix = "th" if 11 <= last_two <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(last_two % 10, "th")
    return f"{thousands(position)}{suffix}"


def plural(count: int, noun: str) -> str:
    """``"1 layer"``, ``"6 layers"``: a count and a regular noun."""
    return f"{thousands(count)} {noun}" if count == 1 else f"{thousands(count)} {noun}s"


def quoted(token: str) -> str:
    """A token in typographic quotes, for prose."""
    return f"“{token}”"


def word_list(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- user text

#: What an empty text is shown as, so that a row or a label never vanishes.
EMPTY_MARK = "∅"

#: Short names of the escapes most often met, for the note that explains them.
_ESCAPE_NAMES = {
    "\n": "newline",
    "\t": "tab",
    "\r": "carriage return",
    "\x00": "null",
    "\x1b": "escape",
    "\x7f": "delete",
}

#: Unicode categories never shown as themselves: controls (Cc), format characters
#: (Cf: bidi controls, zero-width characters, the byte-order mark, soft hyphen,
#: tags), surrogates (Cs), line and paragraph separators (Zl, Zp).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _hidden(char: str) -> bool:
    """True for a character that would be invisible, or act, rather than show."""
    code = ord(char)
    if 0x20 <= code < 0x7F:  # printable ASCII: the common case, decided at once
        return False
    if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:  # noncharacters
        return True
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def _escape(char: str) -> str:
    """A hidden character as a Python-style escape: ``\\n``, ``\\x01``, ``\\u202e``."""
    code = ord(char)
    if char in "\n\t\r":
        return {"\n": r"\n", "\t": r"\t", "\r": r"\r"}[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` made visible and inert for display; ordinary text is returned unchanged.

    Control characters (C0, C1, DEL), format characters (bidi controls such as U+202E,
    zero-width characters such as U+200B, U+FEFF), line and paragraph separators,
    lone surrogates and noncharacters (U+FFFE, U+FFFF, ...) become Python-style
    escapes made of ASCII letters and digits: ``\\n``, ``\\t``, ``\\r``, ``\\x01``,
    ``\\u202e``, ``\\ud800``, ``\\U000e0041``. Every other character (words in any
    script, right-to-left ones included, emoji, CJK, spaces, punctuation) stays as it
    is. An empty text is shown as :data:`EMPTY_MARK`.

    The result holds no character that could end a line, reorder or hide its
    neighbours, or that an XML or UTF-8 writer refuses, so it cannot change the
    structure of a Markdown page or a chart; HTML and Markdown escaping are still the
    template's job. Escapes are plain text, so ``visible(visible(t)) == visible(t)``.

    Parameters
    ----------
    text : str
        Any text, e.g. a token from a user's dump.

    Returns
    -------
    shown : str
    """
    if not text:
        return EMPTY_MARK
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(c) if _hidden(c) else c for c in text)


def hidden_marks(texts: Iterable[str]) -> frozenset[str]:
    """The characters :func:`visible` would escape in ``texts`` (``""`` for an empty text)."""
    found: set[str] = set()
    for text in texts:
        if not text:
            found.add("")
        elif not (text.isascii() and text.isprintable()):
            found.update(c for c in text if _hidden(c))
    return frozenset(found)


def _mark_name(char: str) -> str:
    if char in _ESCAPE_NAMES:
        return _ESCAPE_NAMES[char]
    name = unicodedata.name(char, "")
    if name:
        return name.lower()
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return "lone surrogate"
    if unicodedata.category(char) == "Cc":
        return "control character"
    return "noncharacter"


def visible_note(marks: Collection[str], *, where: str = "", limit: int = 4) -> str | None:
    """One line saying how :func:`visible` showed ``marks`` (from :func:`hidden_marks`).

    ``None`` when there is nothing to say. Example: ``"Invisible characters shown as
    escapes: \\n newline, \\u202e right-to-left override; ∅ an empty token."``;
    ``where`` (e.g. ``" in the title"``) follows "Invisible characters".
    """
    if not marks:
        return None
    chars = sorted(c for c in marks if c)
    named = [f"{_escape(c)} {_mark_name(c)}" for c in chars[:limit]]
    if len(chars) > limit:
        named.append(f"{len(chars) - limit} others")
    parts = []
    if named:
        parts.append(f"Invisible characters{where} shown as escapes: " + ", ".join(named))
    if "" in marks:
        parts.append(f"{EMPTY_MARK} an empty token")
    return "; ".join(parts) + "."
