"""The command line end to end: add, check, accept, on a real folder in a temporary home."""

from __future__ import annotations

from pathlib import Path

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
