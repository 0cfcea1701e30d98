"""Publishing a built site: MkDocs in strict mode into a staging folder, then a swap.

``build`` (the tutorial) and ``dumps.report`` (a user's report) publish through
:func:`publishing`, which keeps four promises about the output folder ``DIR``:

- **Only our folders.** ``DIR`` is replaced only when it is new, empty, or carries the
  marker of :mod:`attention_atlas.fileio` (or looks exactly like a site an earlier
  version built); never the project, its docs or templates, a source tree, home or ``/``.
- **One writer.** A lock file ``.DIR.lock`` beside it lets one run at a time write
  ``DIR``; another waits up to :func:`lock_wait` seconds, then stops with exit 2.
- **No half site, ever.** The site is built in ``.DIR.build-*`` beside ``DIR`` (same
  filesystem) and exchanged with ``DIR`` in one step (``renameat2(RENAME_EXCHANGE)`` on
  Linux), so a kill at any instant leaves the old or the new site at ``DIR``. Where the
  exchange is not available, two renames go through ``.DIR.old-*``.
- **Nothing left behind.** The next run, holding the lock, puts a stranded
  ``.DIR.old-*`` back when ``DIR`` is missing and removes the staging and old folders
  of killed runs (only ours: named so and carrying the marker, or empty).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from attention_atlas import fileio
from attention_atlas.errors import AtlasError

#: Seconds a run waits for another one writing the same folder (environment override).
LOCK_WAIT_ENV = "ATLAS_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 60.0

#: What MkDocs-Material writes into a site; a legacy site holding anything else is foreign.
_SITE_SUFFIXES = frozenset(
    {".html", ".xml", ".gz", ".json", ".js", ".mjs", ".css", ".map", ".txt", ".md", ".pdf"}
    | {".svg", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico"}
    | {".woff", ".woff2", ".ttf", ".eot"}
)
_SITE_FILES_LIMIT = 50_000


def checkpoint(name: str) -> None:
    """Do nothing. Called where a kill would hurt most; the tests replace it to kill there."""


def lock_wait() -> float:
    """Seconds to wait for the lock: ``$ATLAS_LOCK_WAIT`` or :data:`DEFAULT_LOCK_WAIT`."""
    raw = os.environ.get(LOCK_WAIT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw.strip() else DEFAULT_LOCK_WAIT
    except ValueError:
        msg = f"{LOCK_WAIT_ENV}={raw!r}: expected a number of seconds"
        raise AtlasError(msg) from None


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


def run_mkdocs(config_file: Path, site_dir: Path, *, site_url: str | None = None) -> None:
    """``mkdocs build --strict`` into ``site_dir``; an ``AtlasError`` with the warnings if not.

    ``site_url``, when given, overrides the config's (canonical links, sitemap).
    """
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    with _mkdocs_logging() as messages:
        try:
            overrides = {} if site_url is None else {"site_url": site_url}
            config = load_config(str(config_file), site_dir=str(site_dir), strict=True, **overrides)
            mkdocs_build(config)
        except (MkDocsException, SystemExit) as exc:
            detail = "; ".join(messages) or str(exc)
            msg = f"{config_file}: mkdocs build --strict failed: {detail}"
            raise AtlasError(msg) from exc


# --------------------------------------------------------------------------- the folder


def looks_like_our_site(folder: Path) -> bool:
    """Whether ``folder`` is exactly what an earlier version's MkDocs build left there.

    Earlier versions wrote no marker. Such a site has MkDocs' ``index.html`` and
    ``sitemap.xml``, our chart renderer, no hidden entry at its top (MkDocs copies none),
    and only files of the kinds a site is made of; anything else makes it foreign.
    """
    try:
        index = (folder / "index.html").read_text(encoding="utf-8", errors="replace")
        if 'name="generator" content="mkdocs-' not in index:
            return False
        if not (folder / "sitemap.xml").is_file():
            return False
        if not (folder / "assets" / "atlas" / "atlas-charts.js").is_file():
            return False
        if any(name.startswith(".") for name in os.listdir(folder)):
            return False
        for count, path in enumerate(folder.rglob("*")):
            if count >= _SITE_FILES_LIMIT or path.is_symlink():
                return False
            if path.is_file() and path.suffix.lower() not in _SITE_SUFFIXES:
                return False
    except OSError:
        return False
    return True


def _parent_problem(out: Path) -> str | None:
    """Why the folder holding ``out`` cannot be written, or None."""
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder"
            with contextlib.suppress(OSError):
                if os.statvfs(parent).f_flag & os.ST_RDONLY:
                    return f"{parent} is on a read-only file system"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"{parent} is not writable"
            return None
    return None


def check_out(
    out: Path,
    *,
    kind: str = "site",
    protected: Mapping[Path, str] | None = None,
    looks_ours: Callable[[Path], bool] | None = looks_like_our_site,
) -> fileio.Ownership:
    """Fail early, before any work, when the ``kind`` cannot go to ``out``.

    Refuses folders the package did not make (see :func:`fileio.check_folder`), the
    current folder and any folder containing it, and places that cannot be written.
    """
    guarded = {Path.cwd(): "the current folder", **(protected or {})}
    ownership = fileio.check_folder(
        out, f"--out {out}", kind=kind, protected=guarded, looks_ours=looks_ours
    )
    problem = _parent_problem(out.resolve())
    if problem is not None:
        msg = f"--out {out}: cannot write there: {problem}"
        raise AtlasError(msg)
    return ownership


def _named_beside(out: Path, tag: str) -> list[Path]:
    """Folders beside ``out`` named ``.NAME.<tag>-*`` (not symlinks)."""
    prefix = f".{out.name}.{tag}-"
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()]


def _ours(folder: Path) -> bool:
    """A leftover of ours: it has our marker, or nothing but a marker half written.

    A run killed between creating its staging folder and finishing the marker leaves
    the folder empty or holding only the marker's temporary file.
    """
    try:
        return fileio.has_marker(folder) or all(map(fileio.is_partial_marker, folder.iterdir()))
    except OSError:
        return False


def recover(out: Path) -> list[str]:
    """Undo what killed runs left beside ``out``; call it holding ``out``'s lock.

    A stranded previous site (``.NAME.old-*``) goes back to ``out`` when ``out`` is
    missing (a rename: nothing can be lost). Staging and old folders that are ours are
    removed; anything else of that name is left alone. Returns what was done, for logs.
    """
    done = []
    olds = _named_beside(out, "old")
    if olds and not out.exists() and not out.is_symlink():
        newest = max(olds, key=lambda p: p.stat().st_mtime)
        os.replace(newest, out)
        olds.remove(newest)
        done.append(f"restored {out} from {newest.name}")
    for folder in [*olds, *_named_beside(out, "build")]:
        if _ours(folder):
            shutil.rmtree(folder, ignore_errors=True)
            done.append(f"removed {folder.name}")
    return done


# --------------------------------------------------------------------------- the swap

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one step; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # the filesystem or kernel has no exchange: two renames instead
    raise OSError(code, os.strerror(code), str(b))


def swap_into_place(built: Path, out: Path) -> None:
    """Replace ``out`` by ``built`` so that ``out`` is always a whole site, old or new."""
    if not out.exists():
        os.replace(built, out)
        return
    if not out.is_dir():
        msg = f"--out {out}: exists and is not a folder"
        raise AtlasError(msg)
    if _exchange(built, out):
        checkpoint("exchanged")  # ``built`` now holds the previous site
        shutil.rmtree(built, ignore_errors=True)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    os.replace(out, old)
    checkpoint("between-renames")  # a kill here is undone by the next run's recover()
    try:
        os.replace(built, out)
    except BaseException:
        os.replace(old, out)
        raise
    checkpoint("replaced")
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    wait = lock_wait()
    path = out.with_name(f".{out.name}.lock")
    try:
        # filelock retries a lock file it cannot create until the timeout: fail at once.
        path.touch(mode=fileio.file_mode(), exist_ok=True)
    except OSError as exc:
        msg = f"--out {out}: cannot write there ({fileio.explain(exc)})"
        raise AtlasError(msg) from exc
    lock = filelock.FileLock(path, timeout=wait)
    try:
        lock.acquire()
    except filelock.Timeout:
        msg = f"another build is writing {out} (waited {wait:g} s); try again when it ends"
        raise AtlasError(msg) from None
    except OSError as exc:
        msg = f"--out {out}: cannot write there ({fileio.explain(exc)})"
        raise AtlasError(msg) from exc
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def publishing(
    out: Path,
    *,
    kind: str = "site",
    protected: Mapping[Path, str] | None = None,
    looks_ours: Callable[[Path], bool] | None = looks_like_our_site,
    **fields: Any,
) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends without error, it becomes ``out``.

    Holds ``out``'s lock throughout. On success the staging folder gets the umask's modes
    and a marker listing every file's SHA-256 (plus ``fields``), then replaces ``out``;
    on any error it is removed and ``out`` stays as it was.
    """
    out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"--out {out}: cannot write there ({fileio.explain(exc)})"
        raise AtlasError(msg) from exc
    with _locked(out):
        try:
            recover(out)
            if check_out(out, kind=kind, protected=protected, looks_ours=looks_ours) == "legacy":
                fileio.write_marker(out, kind)  # adopt it, so its leftovers are ours too
            staging = fileio.make_folder(out.parent, f".{out.name}.build-")
        except OSError as exc:
            msg = f"--out {out}: cannot write there ({fileio.explain(exc)})"
            raise AtlasError(msg) from exc
        try:
            fileio.write_marker(staging, kind, state="staging")
            yield staging
            fileio.set_modes(staging)
            fileio.write_marker(staging, kind, files=fileio.manifest(staging), **fields)
            checkpoint("staged")
            swap_into_place(staging, out)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            reason = fileio.explain(exc, within=out.parent)
            msg = f"--out {out}: the {kind} was not replaced: {reason}"
            raise AtlasError(msg) from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
