"""Where a report goes: its folder, checked before any work.

Light on purpose: the command checks the folder before it reads the dump or loads the
report machinery, so a wrong ``--out`` is refused in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

from attention_atlas import publish


def report_folder(path: str | Path, out: Path | None = None) -> Path:
    """``out``, or ``<file stem>-report`` in the current folder; resolved."""
    return (out if out is not None else Path.cwd() / f"{Path(path).stem}-report").resolve()


def check_report_folder(out: Path) -> None:
    """Refuse a file, or a folder the package did not make, before any work."""
    publish.check_out(out, kind="report", looks_ours=None)
