"""One Chromium and one served site for the whole ``tests/browser`` package.

The site is the ``built_site`` of ``tests/conftest.py`` (built once per session),
served over http on 127.0.0.1 at a free port by a thread.

The shared build names no address (no ``site_url``), so Material's instant navigation
stays off and every link names a file. Instant navigation runs only where ``site_url``
matches the page's address: ``deployed_site`` is the same site built with
``--site-url https://atlas.example.org/docs/``, and its pages are opened at that
address while Playwright answers every request to it from a local server
(``route_origin``): the browser sees exactly the production address, and nothing
outside the machine is ever contacted.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
    """Every page of the built site, discovered from its ``.html`` files."""
    found = site_pages(site)
    assert "index.html" in found and len(found) > 1, f"no pages found in {site}"
    return found


#: The address the deployed copy of the site is built for; never contacted (requests to
#: it are answered from a local server, see ``route_origin``).
DEPLOYED_URL = "https://atlas.example.org/docs/"


@pytest.fixture(scope="package")
def deployed_site(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built again with ``site_url=DEPLOYED_URL``, its pages from the shared
    build's cache (only MkDocs runs again)."""
    from attention_atlas.build import build
    from tests.conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("deployed") / "project")
    pages = site.parent / ".atlas-cache" / "pages"
    shutil.copytree(pages, root / ".atlas-cache" / "pages")
    build(root, site_url=DEPLOYED_URL)
    return root / "site"


@pytest.fixture(scope="package")
def deployed_served(deployed_site: Path) -> Iterator[str]:
    """Base URL of a local server holding :func:`deployed_site`."""
    with serve(deployed_site) as base_url:
        yield base_url


@pytest.fixture(scope="package")
def site_origin() -> str:
    """Where the deployed site lives (``DEPLOYED_URL`` without its last slash)."""
    return DEPLOYED_URL.rstrip("/")
