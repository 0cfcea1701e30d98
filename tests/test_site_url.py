"""The built site opens anywhere: links name files, no address of the build machine, and
``--site-url`` for a deployment; the search index finds shapes in any spelling."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from attention_atlas.build import finish_search_index
from attention_atlas.errors import AtlasError
from attention_atlas.project import check_site_url
from tests.conftest import run_cli

HREF = re.compile(r'\shref="([^"]*)"')


def test_the_site_names_no_address_and_every_link_names_a_file(built_site: Path) -> None:
    site = built_site / "site"
    problems = []
    # 404.html is served by a web server in place of any missing page, so its links are
    # rooted at the site's root (or its --site-url path); it is never opened from disk.
    pages = sorted(p for p in site.rglob("*.html") if "assets" not in p.parts)
    pages = [p for p in pages if p.name != "404.html"]
    assert len(pages) > 5
    for page in pages:
        text = page.read_text(encoding="utf-8")
        rel = page.relative_to(site)
        if 'rel="canonical"' in text:
            problems.append(f"{rel}: carries a canonical link")
        if "127.0.0.1" in text or "localhost" in text:
            problems.append(f"{rel}: names the build machine")
        for href in HREF.findall(text):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site (the project's links), or a place on this page
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file():
                problems.append(f"{rel}: {href} names no file ({target})")
    assert not problems, "\n".join(problems)


def test_the_search_index_holds_shapes_as_one_term_and_loads_from_disk(built_site: Path) -> None:
    search = built_site / "site" / "search"
    text = (search / "search_index.json").read_text(encoding="utf-8")
    data = json.loads(text)
    words = " ".join(d["title"] + " " + d["text"] for d in data["docs"])
    assert "4×2" in words
    assert not re.search(r"(?<![\w.])\d+ [x×] ?\d+(?![\w.])", words)
    script = (search / "search_index.js").read_text(encoding="utf-8")
    assert script == f"var __index = {text};\n"


def test_shapes_become_one_term_and_nothing_else_changes(tmp_path: Path) -> None:
    folder = tmp_path / "search"
    folder.mkdir()
    docs = [
        {"location": "a.html", "title": "Why 4 × 2?", "text": "I expected 3x4, got 4×2."},
        {"location": "b.html", "title": "Hex", "text": "0x1F, v2.0 x 3, 6 x cats, x 4"},
    ]
    (folder / "search_index.json").write_text(json.dumps({"config": {}, "docs": docs}))
    finish_search_index(tmp_path)
    out = json.loads((folder / "search_index.json").read_text(encoding="utf-8"))["docs"]
    assert out[0]["title"] == "Why 4×2?"
    assert out[0]["text"] == "I expected 3×4, got 4×2."
    assert out[1] == docs[1]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://example.org/atlas", "https://example.org/atlas/"),
        ("http://docs.example.org/", "http://docs.example.org/"),
        ("https://example.org", "https://example.org/"),
    ],
)
def test_a_site_url_ends_with_a_slash(given: str, expected: str) -> None:
    assert check_site_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["example.org/atlas", "/atlas/", "ftp://example.org/", "https://", "https://x/?q=1", ""]
)
def test_a_site_url_that_is_not_an_address_is_refused(bad: str) -> None:
    with pytest.raises(AtlasError, match="--site-url"):
        check_site_url(bad)


def test_the_cli_refuses_a_bad_site_url_in_one_line(project: Path) -> None:
    proc = run_cli("build", "--site-url", "example.org/atlas", cwd=project)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--site-url" in lines[0] and "example.org/atlas" in lines[0]
    assert not (project / "site").exists()
