"""The command line: listing, help, exit codes and one-line errors."""

from __future__ import annotations

import importlib.machinery
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attention_atlas.scenarios import all_scenarios
from tests.conftest import run_cli


def test_list_prints_one_scenario_a_line_slug_first() -> None:
    result = run_cli("list")
    assert result.returncode == 0
    slugs = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert slugs == [s.slug for s in all_scenarios()]


def test_help_names_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("build", "list", "serve"):
        assert command in result.stdout


def test_unknown_scenario_is_a_one_line_error_with_exit_2(project: Path) -> None:
    result = run_cli("build", "--only", "no-such-page", cwd=project)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no-such-page" in lines[0]
    assert all_scenarios()[0].slug in lines[0]
    assert "Traceback" not in result.stderr


def test_build_outside_a_project_names_mkdocs_yml(tmp_path: Path) -> None:
    result = run_cli("build", cwd=tmp_path)
    assert result.returncode == 2
    assert "mkdocs.yml" in result.stderr


def test_bad_flag_exits_2() -> None:
    assert run_cli("build", "--no-such-flag").returncode == 2


def test_check_exits_1_when_pages_are_missing(cached_project: Path) -> None:
    """Every generated page is missing (their text comes from the cache: nothing computes)."""
    result = run_cli("build", "--check", cwd=cached_project)
    assert result.returncode == 1, result.stderr
    for page in ["index.md", *(s.page_path for s in all_scenarios())]:
        assert f"stale: site_src/{page}" in result.stderr
    assert not (cached_project / "site_src" / "index.md").exists()
    assert not (cached_project / "site").exists()


def test_check_exits_0_when_pages_are_current(built_site: Path) -> None:
    result = run_cli("build", "--check", cwd=built_site)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr


#: Run the command as its console script does (``main()`` reading ``sys.argv``), then say
#: whether the slow optional module was loaded, and whether Altair still validates a URL.
PROGRAM = """
import sys
from attention_atlas import cli
sys.argv = ["attention-atlas", "export", "self-attention", "--format", "json", "--out", sys.argv[1]]
code = cli.main()
import altair as alt
alt.Chart(alt.UrlData("https://example.org/data.json")).mark_point().to_dict()
print(code, sys.modules.get("rfc3987_syntax") is not None)
"""


@pytest.mark.skipif(
    # On the path, whatever sys.modules says (the test processes decline it themselves).
    importlib.machinery.PathFinder.find_spec("rfc3987_syntax") is None,
    reason="rfc3987_syntax is not installed",
)
def test_the_program_starts_without_the_slow_optional_grammar(tmp_path: Path) -> None:
    """jsonschema loads rfc3987_syntax when it is there (0.7 s); the program declines it,
    and still validates and writes its chart."""
    out = tmp_path / "chart.json"
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(out)], capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["0", "False"], result.stderr
    assert out.stat().st_size > 1000
    called = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from attention_atlas import cli; "
            "cli.main(['list']); import altair; print(sys.modules.get('rfc3987_syntax') is None)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert called.stdout.splitlines()[-1] == "False", "a call with arguments changed the imports"


def test_a_dump_refused_for_its_values_is_refused_before_the_charts_load(tmp_path: Path) -> None:
    """Headers and values are both checked before the report's site machinery (Altair and
    the chart builders) is imported: a refusal takes a fraction of a second."""
    weights = np.full((4, 4), 0.25)
    weights[1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", attention=weights, tokens=np.array(list("abcd")))
    code = (
        "import sys; from attention_atlas import cli; "
        "code = cli.main(['report', 'nan.npz', '--out', 'report']); "
        "print(code, 'altair' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["2", "False"], result.stderr
    assert "NaN" in result.stderr and not (tmp_path / "report").exists()


#: Run the command in a fresh process; print its exit code and whether Altair was loaded.
CHECKED_EARLY = (
    "import sys; from attention_atlas import cli; "
    "code = cli.main(sys.argv[1:]); print(code, 'altair' in sys.modules)"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--out", "site_src"],
        ["build", "--out", "."],
        ["build", "--site-url", "example.org/atlas", "--out", "public"],
        ["report", "garbled.npz", "--out", "a-file"],
        ["report", "garbled.npz"],  # garbled-report/ is a file
        ["report", "--text", "it was tired", "--out", "a-file"],
    ],
)
def test_a_wrong_folder_or_address_is_refused_before_any_work(
    argv: list[str], built_site: Path, tmp_path: Path
) -> None:
    """The output folder (and the site's address) are checked before the dump is read and
    before the build or report machinery loads: a refusal takes a fraction of a second."""
    cwd = built_site if argv[0] == "build" else tmp_path
    (tmp_path / "garbled.npz").write_bytes(b"not a zip archive at all")
    (tmp_path / "a-file").write_text("a file of the user's\n")
    (tmp_path / "garbled-report").write_text("also the user's\n")
    result = subprocess.run(
        [sys.executable, "-c", CHECKED_EARLY, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["2", "False"], result.stderr
    flag = "--site-url" if "--site-url" in argv else "--out"
    assert result.stderr.startswith(f"error: {flag} "), result.stderr
    assert "garbled.npz" not in result.stderr  # the dump was never opened
    assert (tmp_path / "a-file").read_text() == "a file of the user's\n"
