"""Bad input on the command line: exit code 2, one line naming the file or field, no
traceback, and the folder a previous run wrote left byte-for-byte as it was.

Every case runs ``python -m attention_atlas ...`` as a subprocess. ``report`` cases aim at a
copy of a report built beforehand (which a good run would replace); ``build`` cases run
in the session's built project and aim at its site.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import pickle
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

TOKENS = np.array(["[CLS]", "the", "cat", "[SEP]"])


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def uniform(*shape: int) -> np.ndarray:
    return np.full(shape, 1.0 / shape[-1])


def savez(path: Path, **fields: object) -> Path:
    np.savez(path, **fields)  # type: ignore[arg-type]
    return path


def good(path: Path) -> Path:
    return savez(path, attention=uniform(2, 4, 4), tokens=TOKENS)


class Touch:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[Path]]:
        return (Path.touch, (self.marker,))


def _objects_in_attention(path: Path) -> Path:
    weights = np.empty((4, 4), dtype=object)
    weights[...] = 0.25
    weights[0, 0] = Touch(path.with_suffix(".ran"))
    return savez(path, attention=weights, tokens=TOKENS)


def _objects_in_tokens(path: Path) -> Path:
    tokens = np.array([Touch(path.with_suffix(".ran")), "the", "cat", "[SEP]"], dtype=object)
    return savez(path, attention=uniform(4, 4), tokens=tokens)


def _raw_pickle_member(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("attention.npy", pickle.dumps(Touch(path.with_suffix(".ran"))))
        with archive.open("tokens.npy", "w") as handle:
            np.lib.format.write_array(handle, TOKENS)
    return path


def _pickle_file(path: Path) -> Path:
    path.write_bytes(pickle.dumps({"attention": Touch(path.with_suffix(".ran"))}))
    return path


def _truncated(path: Path) -> Path:
    data = good(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _write(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return make


def _declares_80_gb(path: Path) -> Path:
    """A small archive whose ``attention`` header declares 80 GB of float32 (and no data)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (20, 1000, 1000, 1000)}
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("attention.npy", "w") as handle:
            np.lib.format.write_array_header_1_0(handle, header)
        with archive.open("tokens.npy", "w") as handle:
            np.lib.format.write_array(handle, np.array([f"t{i}" for i in range(1000)]))
    return path


def _longer_than_declared(path: Path) -> Path:
    """A 4 x 4 map whose member goes on with a MiB of zeros after its declared data."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("attention.npy", "w") as handle:
            np.lib.format.write_array(handle, uniform(4, 4))
            handle.write(bytes(2**20))
        with archive.open("tokens.npy", "w") as handle:
            np.lib.format.write_array(handle, TOKENS)
    return path


def _not_npy_member(path: Path) -> Path:
    good(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "what this run was\n")
    return path


def _fields(**fields: object) -> Callable[[Path], Path]:
    return lambda path: savez(path, **fields)


def _with(value: float, row_fill: float) -> np.ndarray:
    weights = np.full((4, 4), row_fill)
    weights[1, 2] = value
    return weights


#: name -> (how to write FILE.npz, words the one-line message must contain).
BAD_FILES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "empty file": (_write(b""), ("empty",)),
    "text, not a zip": (_write(b"attention,tokens\n0.5,a\n"), ("not a .npz",)),
    "truncated archive": (_truncated, ("truncated",)),
    "a pickle, not an archive": (_pickle_file, ("not a .npz",)),
    "pickled objects in attention": (_objects_in_attention, ("'attention'", "pickled")),
    "pickled objects in tokens": (_objects_in_tokens, ("'tokens'", "pickled")),
    "raw pickle as a member": (_raw_pickle_member, ("'attention'",)),
    "missing attention": (_fields(tokens=TOKENS), ("'attention'", "missing")),
    "missing tokens": (_fields(attention=uniform(4, 4), words=TOKENS), ("'tokens'", "missing")),
    "1-D attention": (_fields(attention=uniform(4), tokens=TOKENS), ("'attention'", "(4,)")),
    "5-D attention": (
        _fields(attention=uniform(1, 1, 2, 4, 4), tokens=TOKENS),
        ("'attention'", "(1, 1, 2, 4, 4)"),
    ),
    "text attention": (
        _fields(attention=np.array([["a", "b"], ["c", "d"]]), tokens=TOKENS[:2]),
        ("'attention'", "dtype"),
    ),
    "3 tokens for 4 queries": (
        _fields(attention=uniform(2, 4, 4), tokens=TOKENS[:3]),
        ("'tokens'", "3 tokens"),
    ),
    "5 tokens for 4 queries": (
        _fields(attention=uniform(4, 4), tokens=np.array([*TOKENS, "x"])),
        ("'tokens'", "5 tokens"),
    ),
    "M != N without key_tokens": (
        _fields(attention=uniform(4, 6), tokens=TOKENS),
        ("'key_tokens'", "6"),
    ),
    "key_tokens not matching M": (
        _fields(attention=uniform(4, 6), tokens=TOKENS, key_tokens=TOKENS),
        ("'key_tokens'", "6"),
    ),
    "NaN": (_fields(attention=_with(np.nan, 0.25), tokens=TOKENS), ("'attention'", "NaN")),
    "+inf": (_fields(attention=_with(np.inf, 0.25), tokens=TOKENS), ("'attention'", "infinite")),
    "-inf": (_fields(attention=_with(-np.inf, 0.25), tokens=TOKENS), ("'attention'", "infinite")),
    "negative weights": (
        _fields(attention=_with(-0.5, 0.5), tokens=TOKENS),
        ("'attention'", "negative"),
    ),
    "a header declaring 80 GB": (
        _declares_80_gb,
        ("'attention'", "(20, 1000, 1000, 1000)", "float32", "--max-memory"),
    ),
    "data longer than its header": (_longer_than_declared, ("'attention'", "more data")),
    "a member that is not .npy": (_not_npy_member, ("'notes.txt'", "not a .npy")),
}


@dataclass
class Outcome:
    result: subprocess.CompletedProcess[str]
    target: Path
    before: dict[str, str]
    named: str


@pytest.fixture(scope="module")
def previous_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report built from a good dump: what every bad run must leave alone.

    Made in this process (it is the setting, not what is tested; the bad runs are the
    command as a user types it).
    """
    from attention_atlas import cli

    folder = tmp_path_factory.mktemp("previous")
    good(folder / "run.npz")
    assert cli.main(["report", str(folder / "run.npz"), "--out", str(folder / "report")]) == 0
    return folder / "report"


@pytest.fixture(scope="module")
def bad_file_outcomes(
    previous_report: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """Every bad file run against its own copy of the previous report, four at a time."""
    base = tmp_path_factory.mktemp("bad")
    before = tree_digest(previous_report)
    jobs = {}
    for i, (case, (make, _)) in enumerate(sorted(BAD_FILES.items())):
        folder = base / f"case-{i}"
        folder.mkdir()
        target = folder / "report"
        shutil.copytree(previous_report, target)
        path = make(folder / "bad.npz")
        jobs[case] = (folder, target, path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            case: pool.submit(run_cli, "report", path.name, "--out", "report", cwd=folder)
            for case, (folder, _, path) in jobs.items()
        }
        return {
            case: Outcome(futures[case].result(), target, before, path.name)
            for case, (_, target, path) in jobs.items()
        }


#: A line of ``build``'s progress report (one a page), printed before any error.
PROGRESS = re.compile(r"^\s*(computed|cached|unavailable)\s+\S+\s+\(\d+\.\d+ s\)$")


def assert_refused(outcome: Outcome, *words: str, progress: bool = False) -> None:
    """Exit 2, one stderr line that names the file and ``words``, no traceback, no change.

    With ``progress``, ``build``'s per-page progress lines may come before that line.
    """
    result = outcome.result
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    if progress:
        lines = [line for line in lines if not PROGRESS.match(line)]
    assert len(lines) == 1, result.stderr
    assert outcome.named in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == "", result.stdout
    assert tree_digest(outcome.target) == outcome.before, "the previous report changed"


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_and_the_previous_report_kept(
    case: str, bad_file_outcomes: dict[str, Outcome]
) -> None:
    outcome = bad_file_outcomes[case]
    assert_refused(outcome, *BAD_FILES[case][1])
    assert not outcome.target.parent.joinpath("bad.ran").exists(), "a pickle was loaded"
    leftovers = sorted(p.name for p in outcome.target.parent.iterdir())
    assert leftovers == ["bad.npz", "report"], leftovers  # no staging folder left behind


def test_a_missing_file_and_a_folder_are_refused(previous_report: Path, tmp_path: Path) -> None:
    before = tree_digest(previous_report)
    (tmp_path / "folder.npz").mkdir()
    for name, word in (("nothing.npz", "not found"), ("folder.npz", "folder")):
        result = run_cli("report", name, "--out", str(previous_report), cwd=tmp_path)
        assert_refused(Outcome(result, previous_report, before, name), word)


def test_rows_not_summing_to_one_warn_in_one_line_and_are_drawn_as_given(
    tmp_path: Path,
) -> None:
    """Documented behaviour (generator/userdata.py): a warning, not an error."""
    weights = uniform(2, 4, 4)
    weights[1, 3] = [0.5, 0.5, 0.5, 0.5]
    savez(tmp_path / "rows.npz", attention=weights, tokens=TOKENS)
    result = run_cli("report", "rows.npz", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    for word in ("rows.npz", "'attention'", "L0 H1 row 3 sums to 2", "not renormalised"):
        assert word in warnings[0], warnings[0]
    assert "not renormalised" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- output folders


def test_report_into_unwritable_places_is_refused(previous_report: Path, tmp_path: Path) -> None:
    good(tmp_path / "run.npz")
    (tmp_path / "a-file").write_text("not a folder")
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.md").write_text("keep me")
    cases = {
        "/proc/attention-atlas-report": ("/proc/attention-atlas-report", "cannot write"),
        "a-file": ("a-file", "not a folder"),
        "a-file/report": ("a-file/report", "cannot write"),
        "notes": ("notes", "not an attention-atlas report"),
    }
    before = {p: tree_digest(p) for p in (previous_report, precious)}
    for out, (named, word) in cases.items():
        result = run_cli("report", "run.npz", "--out", out, cwd=tmp_path)
        assert_refused(Outcome(result, precious, before[precious], named), word)
    assert (tmp_path / "a-file").read_text() == "not a folder"
    assert tree_digest(previous_report) == before[previous_report]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "notes", "run.npz"]


@pytest.fixture
def built(built_site: Path) -> tuple[Path, dict[str, str]]:
    """The session's built project and a digest of its site."""
    return built_site, tree_digest(built_site / "site")


def test_unknown_scenario_is_refused_and_the_site_kept(built: tuple[Path, dict[str, str]]) -> None:
    root, before = built
    result = run_cli("build", "--only", "nope", cwd=root)
    assert_refused(Outcome(result, root / "site", before, "nope"))


@pytest.mark.parametrize(
    "out", ["/proc/attention-atlas-site", "{root}/mkdocs.yml/site", "{root}/mkdocs.yml"]
)
def test_build_into_unwritable_places_is_refused_and_the_site_kept(
    built: tuple[Path, dict[str, str]], out: str
) -> None:
    root, before = built
    target = out.format(root=root)
    result = run_cli("build", "--out", target, cwd=root)
    assert_refused(Outcome(result, root / "site", before, target), "--out", progress=True)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("build", "--no-such-flag"), "--no-such-flag"),
        (("build", "--only"), "--only"),
        (("report",), "give FILE"),
        (("report", "run.npz", "--out"), "--out"),
        (("list", "extra"), "extra"),
        (("no-such-command",), "no-such-command"),
    ],
)
def test_bad_flags_are_one_line_errors_with_exit_2(
    args: tuple[str, ...], named: str, built: tuple[Path, dict[str, str]]
) -> None:
    root, before = built
    result = run_cli(*args, cwd=root)
    assert_refused(Outcome(result, root / "site", before, named))
