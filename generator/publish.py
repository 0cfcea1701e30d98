"""Publishing a built site: MkDocs in strict mode into a staging folder, then a swap.

The staging folder sits beside the output folder (same filesystem), so replacing the
output is a rename and a reader never sees a half-built site. ``build`` (the tutorial)
and ``dumps.report`` (a user's report) publish through here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from attention_atlas.errors import AtlasError


@contextlib.contextmanager
def _mkdocs_logging() -> Iterator[list[str]]:
    """Collect MkDocs warnings so a strict failure can say what went wrong."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("mkdocs")
    handler = Collect(level=logging.WARNING)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def run_mkdocs(config_file: Path, site_dir: Path) -> None:
    """``mkdocs build --strict`` into ``site_dir``; an ``AtlasError`` with the warnings if not."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    with _mkdocs_logging() as messages:
        try:
            config = load_config(str(config_file), site_dir=str(site_dir), strict=True)
            mkdocs_build(config)
        except (MkDocsException, SystemExit) as exc:
            detail = "; ".join(messages) or str(exc)
            msg = f"{config_file}: mkdocs build --strict failed: {detail}"
            raise AtlasError(msg) from exc


def swap_into_place(built: Path, out: Path) -> None:
    """Replace ``out`` by ``built`` with renames, so ``out`` is never half-written."""
    if out.exists() and not out.is_dir():
        msg = f"--out {out}: exists and is not a folder"
        raise AtlasError(msg)
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(built, out)
    shutil.rmtree(old, ignore_errors=True)


def check_out(out: Path) -> None:
    """Fail early, before any work, when the site cannot go to ``out``."""
    if out.exists() and not out.is_dir():
        msg = f"--out {out}: exists and is not a folder"
        raise AtlasError(msg)
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                msg = f"--out {out}: {parent} is a file, not a folder"
                raise AtlasError(msg)
            if not os.access(parent, os.W_OK | os.X_OK):
                msg = f"--out {out}: {parent} is not writable"
                raise AtlasError(msg)
            return


def prepare_staging(out: Path) -> Path:
    """A fresh temporary folder beside ``out`` (same filesystem, so the swap is a rename)."""
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.build-"))
    except OSError as exc:
        msg = f"--out {out}: cannot write there ({exc.strerror})"
        raise AtlasError(msg) from exc
