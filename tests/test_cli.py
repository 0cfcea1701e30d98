"""The command line: listing, help, exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

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
