"""LaTeX to MathML at build time: Chromium renders MathML natively, so pages need no math JS."""

from __future__ import annotations

from functools import lru_cache

import latex2mathml.converter
from markupsafe import Markup


@lru_cache(maxsize=512)
def math(latex: str, display: bool = False) -> Markup:
    """MathML for ``latex``; ``display=True`` gives a centred block equation."""
    mode = "block" if display else "inline"
    html = latex2mathml.converter.convert(latex, display=mode)
    if display:
        # Python-Markdown treats a block-level tag on its own line as raw HTML.
        return Markup(f'<div class="atlas-math">{html}</div>')
    # Python-Markdown counts <math> as block-level: a line that opens with it would
    # leave its paragraph. A span keeps inline maths inline wherever the line breaks.
    return Markup(f"<span>{html}</span>")
