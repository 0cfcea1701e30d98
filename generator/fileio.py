"""The one writer: every file the package writes goes through this module.

Three promises, kept here once:

- **Atomic.** A file is written to a temporary name beside it and renamed into place,
  so a reader (or a killed run) never leaves half a file behind.
- **Readable as the umask says.** ``mkstemp``/``mkdtemp`` create 0600/0700 whatever the
  umask; every file and folder made here is set to ``0666``/``0777`` less the umask (read
  once per process), so with umask 022 a web server running as another user can read it.
- **Folders we did not make are never touched.** A folder the package writes as a whole
  (a site, a report, the chart assets) carries a marker file, :data:`MARKER`, naming the
  tool; :func:`check_folder` refuses a non-empty folder without one, and always refuses
  the filesystem root, the home folder and source trees.

MkDocs writes a site's HTML itself, into a staging folder made here; ``publish`` then
sets its modes with :func:`set_modes` and swaps it into place.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import attention_atlas
from attention_atlas.errors import AtlasError

#: The marker file at the top of every folder the package writes as a whole.
MARKER = ".attention-atlas"
#: Markers written by earlier versions (reports only); still recognised.
LEGACY_MARKERS = (".attention-atlas-report",)
TOOL = "attention-atlas"

#: Entries that make a folder someone's source tree: never an output folder.
SOURCE_TREE = (".git", "pyproject.toml")
#: Entries named first when a refused folder's content is described.
_NOTABLE = (*SOURCE_TREE, ".hg", ".svn", "setup.py", "mkdocs.yml", "README.md", "site_src")

_CHUNK = 1 << 20

Ownership = Literal["absent", "empty", "ours", "legacy"]


# --------------------------------------------------------------------------- the cache


#: Environment variable naming the user's cache folder (overrides the XDG default).
CACHE_ENV = "ATTENTION_ATLAS_CACHE"


def cache_root() -> Path:
    """The user's cache folder for Attention Atlas (not created here).

    ``$ATTENTION_ATLAS_CACHE`` if set and non-empty, else
    ``$XDG_CACHE_HOME/attention-atlas``, else ``~/.cache/attention-atlas``.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "attention-atlas"


# --------------------------------------------------------------------------- modes


@lru_cache(maxsize=1)
def umask() -> int:
    """The process's umask, read once (``os.umask`` can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file: ``0666`` less the umask (0644 under umask 022)."""
    return 0o666 & ~umask()


def folder_mode() -> int:
    """Mode of a new folder: ``0777`` less the umask (0755 under umask 022)."""
    return 0o777 & ~umask()


def set_modes(tree: Path) -> None:
    """Give ``tree`` and everything below it the umask's modes (symlinks are left alone)."""
    os.chmod(tree, folder_mode())
    for folder, dirs, files in os.walk(tree):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, folder_mode())
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode())


# --------------------------------------------------------------------------- files


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` (not the temporary file it happened on)."""
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def write_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically, with the umask's mode.

    Raises ``OSError`` naming ``path`` when it cannot be written (a full disk, a
    read-only folder); no temporary file is left behind.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise _named(exc, path) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically, with the umask's mode."""
    write_chunks(path, [data.encode("utf-8") if isinstance(data, str) else data])


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Write ``data`` to ``path`` atomically unless it already holds exactly these bytes.

    Returns False when the bytes are the same, leaving the file and its modification time
    as they were (so tools watching it see only real changes) but for its mode, which is
    set to the umask's when it differs. Text is written as UTF-8. Raises ``OSError``
    naming ``path`` when it cannot be written.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.is_file() and path.stat().st_size == len(raw) and path.read_bytes() == raw:
            if stat.S_IMODE(path.stat().st_mode) != file_mode():
                os.chmod(path, file_mode())  # written 0600 by an earlier version
            return False
    except OSError:
        pass  # unreadable: write it anew, and let the write report what is wrong
    write_atomic(path, raw)
    return True


def make_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder in ``parent`` (created if missing), with the umask's mode."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    os.chmod(folder, folder_mode())
    return folder


def vouch(data: bytes | str) -> dict[str, Any]:
    """What :func:`read_vouched` later checks a file against: its size and SHA-256."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


def read_vouched(path: Path, record: object) -> str | None:
    """The text of ``path`` when it still matches ``record`` (from :func:`vouch`); else None.

    Sized before it is read (a file of another size is not the one recorded), a link is
    never followed, and the hash is checked after; a missing or unreadable file, or a
    record that is not one, is None too.
    """
    if not isinstance(record, dict):
        return None
    try:
        if path.is_symlink() or path.stat().st_size != record.get("bytes"):
            return None
        raw = path.read_bytes()
        if hashlib.sha256(raw).hexdigest() != record.get("sha256"):
            return None
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    hashed = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hashed.update(chunk)
    return hashed.hexdigest()


def manifest(tree: Path) -> dict[str, str]:
    """Every file below ``tree`` (but the marker) -> its SHA-256, keyed by POSIX path."""
    files = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != MARKER:
            files[path.relative_to(tree).as_posix()] = digest(path)
    return files


def damaged(tree: Path, files: Mapping[str, str]) -> list[str]:
    """The files of a manifest that are missing below ``tree`` or whose bytes changed."""
    bad = []
    for rel, expected in sorted(files.items()):
        path = tree / rel
        try:
            if not path.is_file() or digest(path) != expected:
                bad.append(rel)
        except OSError:
            bad.append(rel)
    return bad


# --------------------------------------------------------------------------- markers


def has_marker(folder: Path) -> bool:
    """Whether ``folder`` holds a marker (ours or an earlier version's) as a plain file."""
    for name in (MARKER, *LEGACY_MARKERS):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            return True
    return False


def read_marker(folder: Path) -> dict[str, Any]:
    """The marker's content; ``{}`` when it is missing, unreadable or garbled."""
    try:
        data = json.loads((folder / MARKER).read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("tool") == TOOL else {}


def marker_text(kind: str, **fields: Any) -> str:
    """The marker of a folder of ``kind`` ("site", "report", "assets"), with ``fields``."""
    data = {"tool": TOOL, "kind": kind, "version": attention_atlas.__version__, **fields}
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def is_partial_marker(path: Path) -> bool:
    """Whether ``path`` is a marker's temporary file, left by a run killed mid-write."""
    name = path.name
    return name.startswith(f".{MARKER}.") and name.endswith(".tmp") and path.is_file()


def write_marker(folder: Path, kind: str, **fields: Any) -> None:
    write_if_changed(folder / MARKER, marker_text(kind, **fields))


# --------------------------------------------------------------------------- guard


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def _entries(folder: Path, limit: int = 10_000) -> list[str]:
    names = []
    with os.scandir(folder) as scan:
        for entry in scan:
            names.append(entry.name)
            if len(names) > limit:
                break
    return sorted(names)


def describe(names: list[str]) -> str:
    """``holds 14 entries, among them .git and pyproject.toml``."""
    count = f"more than {len(names) - 1}" if len(names) > 10_000 else str(len(names))
    shown = [n for n in _NOTABLE if n in names] or names
    shown = shown[:3]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"
    if len(names) <= len(shown):
        return f"holds {listed}"
    return f"holds {count} entries, among them {listed}"


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_folder(
    path: Path,
    label: str,
    *,
    kind: str,
    protected: Mapping[Path, str] | None = None,
    looks_ours: Callable[[Path], bool] | None = None,
) -> Ownership:
    """Decide whether the package may replace the folder ``path``; refuse if not.

    Parameters
    ----------
    path : Path
        The output folder (symlinks are resolved before deciding).
    label : str
        How the message names it, such as ``"--out site"``.
    kind : str
        What goes there ("site", "report", "assets"), for the message.
    protected : mapping of Path to str, optional
        Folders never to replace nor contain (the project folder, the docs folder, ...),
        each with a description.
    looks_ours : callable, optional
        Recognises a folder written by an earlier version, before markers.

    Returns
    -------
    str
        "absent", "empty", "ours" (it holds a marker) or "legacy" (``looks_ours``).

    Raises
    ------
    AtlasError
        One line saying what the folder is or holds, and what to do.
    """
    target = path.resolve()
    noun = "assets folder" if kind == "assets" else kind
    advice = f"choose a new or empty folder for the {kind}"
    refusals = {Path(target.anchor): "the filesystem root"}
    home = _home()
    if home is not None:
        refusals[home] = "your home folder"
    refusals |= {p.resolve(): what for p, what in (protected or {}).items()}
    if target in refusals:
        try:
            held = f" and {describe(_entries(target))}" if any(target.iterdir()) else ""
        except OSError:
            held = ""
        msg = f"{label}: is {refusals[target]}{held}; {advice}, such as a new subfolder"
        raise AtlasError(msg)
    for folder, what in refusals.items():
        if folder != Path(target.anchor) and folder != home and _is_within(folder, target):
            msg = f"{label}: contains {what} ({folder}); {advice}"
            raise AtlasError(msg)
    if not target.exists():
        if target.is_symlink():
            msg = f"{label}: is a broken symbolic link; {advice}"
            raise AtlasError(msg)
        return "absent"
    if not target.is_dir():
        msg = f"{label}: exists and is not a folder; {advice}"
        raise AtlasError(msg)
    try:
        names = _entries(target)
    except OSError as exc:
        msg = f"{label}: cannot be read ({exc.strerror}); {advice}"
        raise AtlasError(msg) from exc
    source = [n for n in SOURCE_TREE if n in names]
    if source:
        msg = f"{label}: {describe(names)} (a source tree); {advice}"
        raise AtlasError(msg)
    if not names:
        return "empty"
    if has_marker(target):
        return "ours"
    if looks_ours is not None and looks_ours(target):
        return "legacy"
    msg = (
        f"{label}: not an attention-atlas {noun} ({describe(names)}, no {MARKER} marker); "
        f"{advice} (attention-atlas replaces only folders it made)"
    )
    raise AtlasError(msg)


def reason(exc: OSError) -> str:
    """What went wrong, in words (``"no space left on the device (the disk is full)"``)."""
    words = {
        errno.ENOSPC: "no space left on the device (the disk is full)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
    }
    return words.get(exc.errno or 0, exc.strerror or str(exc))


def explain(exc: OSError, within: Path | None = None) -> str:
    """One line for an ``OSError``: the path and what went wrong, in words.

    With ``within``, a path outside that folder is left out (a copy that failed for a
    full disk names its source, which would mislead).
    """
    where = exc.filename
    if where is None or (within is not None and not _is_within(Path(where), within)):
        return reason(exc)
    return f"{where}: {reason(exc)}"
