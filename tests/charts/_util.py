"""Helpers shared by the chart tests."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from attention_atlas.charts import to_spec

ATTR = re.compile(r"data-spec='([^']*)'")


def spec_bytes(chart: Any) -> int:
    """Length in bytes of the compact JSON a page carries for ``chart``."""
    spec = to_spec(chart)
    return len(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def params(spec: dict[str, Any]) -> dict[str, Any]:
    """Top-level params of a spec, by name."""
    return {p["name"]: p.get("value") for p in spec.get("params", [])}


def exact_codes(spec: dict[str, Any], name: str) -> list[int | None]:
    """Exact-mode codes of the param ``name``, split as the browser does."""
    return [None if c == "" else int(c) for c in params(spec)[name].split(",")]


def spec_from_html(snippet: str) -> dict[str, Any]:
    """The spec carried by a figure snippet, read as a browser would."""
    found = ATTR.findall(snippet)
    assert len(found) == 1, snippet[:200]
    return json.loads(html.unescape(found[0]))


def auto_names(spec: Any) -> list[str]:
    """Altair's counter-based names (``param_3``, ``view_7``) anywhere in the spec."""
    text = json.dumps(spec)
    return re.findall(r'"(?:param|view)_\d+"', text)
