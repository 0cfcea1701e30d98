"""Shared fixtures: a throwaway copy of the project and one site built from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> Path:
    """Copy what a build reads (mkdocs.yml and the hand-written part of site_src/)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    ignore = shutil.ignore_patterns("tutorial", "index.md", "atlas")
    shutil.copytree(ROOT / "site_src", dest / "site_src", ignore=ignore)
    return dest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m attention_atlas ARGS`` in ``cwd``, as a user types it; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "attention_atlas", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole site, built once per test session; returns the project folder."""
    from attention_atlas.build import build

    root = copy_project(tmp_path_factory.mktemp("built") / "project")
    build(root)
    return root
