"""Atomic file writes: a reader never sees a half-written file, and unchanged bytes stay."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    Returns False, touching nothing, when ``path`` already holds exactly these bytes
    (so modification times, and tools watching them, see only real changes). Text is
    written as UTF-8. Raises ``OSError`` when the folder cannot be written.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_file() and path.read_bytes() == raw:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
