"""One numbering on every page: layers, heads and token positions count from 0, and a
token keeps its position in every view of its sentence."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

PAGES = "site_src/tutorial"


def _specs(text: str) -> list[dict[str, Any]]:
    return [json.loads(html.unescape(s)) for s in re.findall(r"data-spec='([^']*)'", text)]


def _params(spec: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p.get("value") for p in spec.get("params", []) if "value" in p}


def test_no_page_counts_layers_or_heads_from_1(built_site: Path) -> None:
    """A page with L layers and H heads names no layer past L - 1 nor head past H - 1
    ("layers 1–2" of 2 layers counts from 1)."""
    sizes = re.compile(r"\b(\d+) layers × (\d+) heads")  # \b: one try per run of digits
    ranges = re.compile(r"\b(layers|heads) (\d+)\s*[–-]\s*(\d+)")
    found, checked = [], 0
    for page in sorted((built_site / PAGES).glob("*.md")):
        text = page.read_text(encoding="utf-8")
        declared = sizes.findall(text)
        if not declared:
            continue
        layers = max(int(n) for n, _ in declared)
        heads = max(int(h) for _, h in declared)
        for kind, first, last in ranges.findall(text):
            checked += 1
            top = layers if kind == "layers" else heads
            if int(last) > top - 1 or int(first) > int(last):
                found.append(f"{page.name}: {kind} {first}–{last} (of {top})")
    assert checked, "no page names a range of layers or heads"
    assert not found, found


def test_the_self_attention_table_names_its_second_column_runner_up(built_site: Path) -> None:
    text = (built_site / PAGES / "self-attention.md").read_text(encoding="utf-8")
    assert "| Query word | Attends most to | Weight | Runner-up |" in text


def test_a_token_keeps_its_position_when_special_tokens_are_hidden(built_site: Path) -> None:
    """Every words-only view of the real-model page labels its rows and columns by their
    positions in the full sentence (the views with every token label by index)."""
    text = (built_site / PAGES / "real-model.md").read_text(encoding="utf-8")
    specs = _specs(text)
    full: dict[tuple[str, ...], list[str]] = {}
    for spec in specs:
        for name, value in _params(spec).items():
            if name.endswith("_rl") and isinstance(value, list) and "[CLS]" in value:
                full[tuple(t for t in value if t not in ("[CLS]", "[SEP]"))] = value
    checked = 0
    for spec in specs:
        params = _params(spec)
        for name, value in params.items():
            if not name.endswith("_rl") or "[CLS]" in value:
                continue
            tokens = full.get(tuple(value))
            if tokens is None:
                continue
            positions = params.get(name[:-3] + "_rp")
            assert positions is not None, f"{name}: a words-only view numbers rows from 0"
            assert [tokens[p] for p in positions] == value
            checked += 1
    assert checked >= 2, "no words-only view found on the real-model page"
