"""The hand-written guides' examples, as the tests read them."""

from __future__ import annotations

import re
from pathlib import Path

GUIDES = Path(__file__).resolve().parents[2] / "site_src" / "guides"

#: The last line of an example that stops with an error:
#: ``# ShapeError (a ValueError): row_labels has 2 labels but ...``.
ERROR_LINE = re.compile(r"^# (\w+) \(an? (\w+)\): (.+)$")


def blocks(page: str, language: str) -> list[str]:
    """The bodies of every ```language fenced block of ``page``, in order."""
    text = (GUIDES / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.S | re.M)


def expected_error(code: str) -> tuple[str, str, str] | None:
    """``(error name, base class, message)`` an example ends with, or ``None``."""
    lines = code.rstrip().splitlines()
    match = ERROR_LINE.match(lines[-1]) if lines else None
    return (match[1], match[2], match[3]) if match else None
