"""Numbers and prose, written once: every page, caption and message formats through here."""

from __future__ import annotations


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
