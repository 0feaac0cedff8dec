"""What a watcher shows is its own business, and a few ways to lose a change by accident are
closed: a check beside a monitor, a folder removed and added again, an empty name, a closed
stdout, a data folder a monitor cannot write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fim_tray.cli.output import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from tests.helpers import cli, cli_env, make_tree


def _monitor(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "monitor", "--interval", "1"],
        env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _stop(monitor: subprocess.Popen[str]) -> tuple[str, str]:
    monitor.terminate()
    out, err = monitor.communicate(timeout=15)
    return out, err


def test_a_check_beside_a_monitor_never_silences_it(tmp_path: Path, home: Path) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == EXIT_OK
    monitor = _monitor(home)
    try:
        time.sleep(2)  # its first look
        (root / "a.txt").write_text("changed\n")
        assert cli("check", home=home).returncode == EXIT_CHANGES  # marks it announced
        time.sleep(4)
    finally:
        out, err = _stop(monitor)
    assert "modified    a.txt" in out, (out, err)
    assert out.count("a.txt") == 1  # and once


def test_remove_says_in_the_history_what_was_still_to_review(tmp_path: Path, home: Path) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == EXIT_OK
    (root / "a.txt").write_text("EVIL\n")
    assert cli("check", home=home).returncode == EXIT_CHANGES
    assert cli("remove", root, home=home).returncode == EXIT_OK
    assert cli("add", root, home=home).returncode == EXIT_OK  # a new baseline takes it in
    lines = cli("history", "--json", home=home).json_lines()
    assert [(e["change"], e["path"]) for e in lines] == [("modified", "a.txt"), ("unwatched", ".")]
    assert lines[1]["pending"] == ["a.txt"]
    human = cli("history", home=home).out.splitlines()[-1]
    assert human.endswith(f"{root}  (1 change(s) still to review went with it)")
    assert cli("history", "--verify", home=home).returncode == EXIT_OK


def test_empty_names_are_refused(tmp_path: Path, home: Path) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == EXIT_OK
    (root / "a.txt").write_text("two\n")
    refused = cli("accept", root, "--file", "", home=home)
    assert refused.returncode == EXIT_ERROR and "empty name" in refused.err
    assert cli("check", home=home).returncode == EXIT_CHANGES  # nothing was accepted
    added = cli("add", "", home=home, cwd=tmp_path)
    assert added.returncode == EXIT_ERROR and "empty name" in added.err


def test_a_closed_stdout_is_an_error_for_a_command_with_results(
    tmp_path: Path, home: Path
) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == EXIT_OK
    (root / "a.txt").write_text("two\n")
    done = subprocess.run(
        [sys.executable, "-m", "fim_tray", "check"], env=cli_env(home), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, timeout=30, check=False,
        preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert done.returncode == EXIT_ERROR, done.stderr
    assert "standard output is closed" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only mount needs root")
def test_a_monitor_on_a_read_only_data_folder_still_prints_changes(
    tmp_path: Path, home: Path
) -> None:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == EXIT_OK
    data = home / "data"
    subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], check=True)
        (root / "a.txt").write_text("changed\n")
        monitor = _monitor(home)
        try:
            time.sleep(5)
        finally:
            out, err = _stop(monitor)
        assert "modified    a.txt" in out, (out, err)
        assert "Watching anyway" in err
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)


def test_list_json_still_parses_with_unlisted_baselines(tmp_path: Path, home: Path) -> None:
    first = make_tree(tmp_path / "a", {"a.txt": "a\n"})
    second = make_tree(tmp_path / "b", {"b.txt": "b\n"})
    assert cli("add", first, home=home).returncode == EXIT_OK
    older = (home / "config" / "config.json").read_bytes()
    assert cli("add", second, home=home).returncode == EXIT_OK
    (home / "config" / "config.json").write_bytes(older)  # an older copy put back
    run = cli("list", "--json", home=home)
    assert run.returncode == EXIT_ERROR and "older copy was put back" in run.err
    assert [json.loads(line)["folder"] for line in run.out.splitlines()] == [str(first)]
