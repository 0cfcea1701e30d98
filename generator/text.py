"""Numbers and prose, written once: every page, caption and message formats through here.

User text (tokens, titles, captions) is shown through :func:`visible`, which makes
invisible and structure-changing characters into visible escapes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable


def size_text(sizes: tuple[int, int]) -> str:
    """A block size for prose: ``"64"``, or ``"64–65"`` when blocks differ by one."""
    lo, hi = sizes
    return str(lo) if lo == hi else f"{lo}–{hi}"


def bytes_text(count: float) -> str:
    """A byte count for prose: ``"1 GiB"``, ``"12.7 MiB"``, ``"320 KiB"``, ``"96 B"``."""
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:.0f} B"


def fixed(x: float, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals; ``-0.00`` is written ``0.00``."""
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def quoted(token: str) -> str:
    """A token in typographic quotes, for prose."""
    return f"“{token}”"


def word_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
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
