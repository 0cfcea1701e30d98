"""One Chromium and one served site for the whole ``tests/browser`` package.

The site is the ``built_site`` of ``tests/conftest.py`` (built once per session),
served over http on 127.0.0.1 at a free port by a thread.

Instant navigation: Material only intercepts links when ``site_url`` (here
``http://127.0.0.1:8000/``) matches the page's origin. Binding port 8000 is not
robust (it may be taken, possibly by a developer's ``attention-atlas serve`` of a
different site), and rebuilding with another ``site_url`` costs a second MkDocs
build. Instead, ``site_origin`` pages are opened at the ``site_url`` origin and
Playwright answers every request to it from our server (``route_origin``): the
browser sees exactly the production origin, and port 8000 is never contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.browser._browser import launch_chromium, serve, site_pages


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Headless Chromium; skips (or fails under CI) when it is not installed."""
    with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="package")
def site(chromium: Any, request: pytest.FixtureRequest) -> Path:
    """The built site; asked for only once Chromium is known to be there (the build is slow)."""
    built_site: Path = request.getfixturevalue("built_site")
    return built_site / "site"


@pytest.fixture(scope="package")
def served(site: Path) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT/``) of the built site."""
    with serve(site) as base_url:
        yield base_url


@pytest.fixture(scope="package")
def pages(site: Path) -> list[str]:
    """Every page of the built site, discovered from its ``index.html`` files."""
    found = site_pages(site)
    assert "" in found and len(found) > 1, f"no pages found in {site}"
    return found


@pytest.fixture(scope="package")
def site_origin(site: Path) -> str:
    """Origin of the site's ``site_url`` (``http://127.0.0.1:8000``)."""
    config = yaml.load((site.parent / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
    parts = urlsplit(str(config["site_url"]))
    return f"{parts.scheme}://{parts.netloc}"


class _Loader(yaml.SafeLoader):
    """Safe YAML that skips MkDocs' ``!!python/name:`` tags instead of failing on them."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
