"""The command line end to end: add, check, accept, on a real folder in a temporary home."""

from __future__ import annotations

from pathlib import Path

import pytest

from fim_tray.cli import main as cli
from tests.conftest import run_cli


def test_add_check_accept_cycle(tmp_path: Path, home: Path) -> None:
    watched = tmp_path / "docs"
    watched.mkdir()
    (watched / "todo.txt").write_text("one\n")
    assert run_cli("add", watched, home=home).returncode == 0
    clean = run_cli("check", watched, home=home)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == ""

    (watched / "todo.txt").write_text("one\ntwo\n")
    changed = run_cli("check", watched, home=home)
    assert changed.returncode == 1
    assert "modified" in changed.stdout and "todo.txt" in changed.stdout

    assert run_cli("accept", watched, home=home).returncode == 0
    assert run_cli("check", watched, home=home).returncode == 0


def test_version() -> None:
    result = run_cli("--version", home=Path("/nonexistent"))
    assert result.returncode == 0
    assert result.stdout.startswith("fim-tray ")


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["--debug", "check", "--full", "--json", "/w"],
        ["add", "/w", "--exclude", "*.tmp", "--exclude", "b/", "--keep-copies"],
        ["history", "--limit", "3"],
        ["restore", "/w", "f", "--force"],
        ["status", "--json"],
        [],
    ],
)
def test_a_command_parses_alone_as_among_all(argv: list[str]) -> None:
    """Only the parser of the command run is built; it must read the line as the full one."""
    alone = cli._build_parser(cli._command_in(argv)).parse_args(argv)
    assert vars(alone) == vars(cli._build_parser().parse_args(argv))


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["check", "--full"], "check"),
        (["--debug", "add", "x"], "add"),
        (["-h", "check"], None),  # the help of every command
        (["--version"], None),
        (["chek"], None),  # argparse names the real ones
        ([], None),
    ],
)
def test_the_command_is_found_only_where_it_is_plain(argv: list[str], command: str | None) -> None:
    assert cli._command_in(argv) == command


def test_an_unknown_command_lists_every_command(home: Path) -> None:
    run = run_cli("chek", home=home)
    assert run.returncode == 2
    assert "invalid choice: 'chek'" in run.stderr
    assert "'check'" in run.stderr and "'keep-copies'" in run.stderr
