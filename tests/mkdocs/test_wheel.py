"""The built wheel, installed in a clean virtual environment, builds a third-party site.

This is what a doc author does: ``pip install attention-atlas`` next to MkDocs, add
``attention-atlas`` to ``plugins:`` and write fences. Nothing from this checkout is
importable inside the environment (no system site-packages), so a missing package
file, entry point or dependency fails here. The environment is created without pip
and filled by this interpreter's pip (``pip --python``), which saves a pip install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixture_site"

#: Files a wheel is built from (copied, so building writes nothing into the checkout).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "generator", "templates")


#: Dependency wheels kept between runs, so that only the first run downloads them.
WHEELHOUSE = Path(
    os.environ.get("ATLAS_TEST_WHEELHOUSE", Path.home() / ".cache" / "attention-atlas" / "wheels")
)


def install(wheel: Path, python: Path, cwd: Path) -> None:
    """``pip install WHEEL`` into the environment of ``python``, dependencies included.

    Dependencies come from the wheelhouse when it has them all; otherwise they are
    downloaded from the package index into it first.
    """
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    offline = [*pip, "install", "--no-compile", "--no-index", "--find-links", str(WHEELHOUSE)]
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [*offline, str(wheel)], cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode == 0:
        return
    run([sys.executable, "-m", "pip", "download", "-q", "-d", str(WHEELHOUSE), str(wheel)], cwd)
    for own in WHEELHOUSE.glob("attention_atlas-*"):
        own.unlink()  # only ever install the wheel just built
    run([*offline, str(wheel)], cwd)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, f"{args[:3]} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment with the freshly built wheel installed; its bin folder."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in WHEEL_SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True
            )
        elif path.is_file():
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(wheels)],
        tmp_path,
    )
    (wheel,) = wheels.glob("attention_atlas-*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    install(wheel, bin_dir / ("python.exe" if os.name == "nt" else "python"), tmp_path)
    return bin_dir


def clean_env(bin_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


@pytest.mark.slow
def test_wheel_in_a_clean_venv_builds_the_fixture_site(venv_bin: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    site = tmp_path / "fixture_site"
    shutil.copytree(FIXTURE, site)
    env = clean_env(venv_bin)
    # The package comes from the environment, never from this checkout.
    where = run(
        [str(venv_bin / "python"), "-c", "import attention_atlas; print(attention_atlas.__file__)"],
        site,
        env,
    )
    assert str(venv_bin.parent) in where, where
    log = run(
        [str(venv_bin / "mkdocs"), "build", "--strict", "-d", str(tmp_path / "out")], site, env
    )

    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert page.count('class="atlas-chart"') == 2, log
    assert "<code>attention" not in page
    assert "<b>the</b>" not in page
    assert '<div class="site-note">' in page
    assets = tmp_path / "out" / "assets" / "atlas"
    assert [p for p in assets.iterdir() if p.suffix == ".js"]
    print(f"mkdocs build with the installed plugin: {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
def test_wheel_report_and_export_commands(venv_bin: Path, tmp_path: Path) -> None:
    env = clean_env(venv_bin)
    npz = FIXTURE / "docs" / "data" / "tiny.npz"
    cli = str(venv_bin / "attention-atlas")
    run([cli, "report", str(npz), "--out", str(tmp_path / "report")], tmp_path, env)
    assert (tmp_path / "report" / "heads" / "layer-0.html").is_file()
    run(
        [cli, "export", str(npz), "--format", "png", "--out", str(tmp_path / "map.png")],
        tmp_path,
        env,
    )
    assert (tmp_path / "map.png").read_bytes().startswith(b"\x89PNG")
