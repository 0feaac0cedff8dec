"""The ``fim-tray ignore`` command: add, list, remove, and plain errors with exit status 2."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from tests.helpers import cli, make_tree


def test_ignore_list_remove(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = make_tree(tmp_path / "w", {"a.txt": "a\n", "app.log": "1\n"})
    assert cli("add", root, home=home).returncode == 0
    (root / "app.log").write_text("noise\n")
    assert cli("check", root, home=home).returncode == 1
    run = cli("ignore", root, "*.log", home=home)
    assert run.returncode == 0 and "1 pending change dropped: app.log" in run.err
    assert cli("check", root, home=home).returncode == 0
    listed = cli("ignore", root, "--list", home=home)
    assert listed.returncode == 0 and listed.out.splitlines() == ["*.log"]
    assert "ignores *.log" in cli("status", home=home).out
    assert "ignored" in cli("history", home=home).out
    assert cli("ignore", root, "--remove", "*.log", home=home).returncode == 0
    assert cli("ignore", root, "--list", home=home).out == ""
    missing = cli("ignore", root, "--remove", "*.log", home=home)
    assert missing.returncode == 2 and "is not ignored" in missing.err
    assert cli("ignore", root, home=home).returncode == 2
    assert cli("ignore", root, "", home=home).returncode == 2
    assert cli("ignore", tmp_path / "nowhere", "*.x", home=home).returncode == 2


def test_remove_puts_back_the_records_the_pattern_set_aside(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = make_tree(
        tmp_path / "w", {"a.txt": "a\n", "same.log": "same\n", "logs/changed.log": "old\n"}
    )
    assert cli("add", root, home=home).returncode == 0
    before = {o["path"]: o for o in cli("check", "--json", "--full", root, home=home).json_lines()}
    assert before == {}
    assert cli("ignore", root, "*.log", home=home).returncode == 0
    (root / "logs" / "changed.log").write_text("new while ignored\n")
    (root / "fresh.log").write_text("made while ignored\n")
    assert cli("check", root, home=home).returncode == 0  # all of it hidden
    status = cli("status", home=home)  # the records set aside are no baseline of their own
    assert status.returncode == 0 and "belong to folders" not in status.err
    removed = cli("ignore", root, "--remove", "*.log", home=home)
    assert removed.returncode == 0
    run = cli("check", "--json", root, home=home)
    assert run.returncode == 1
    found = {o["path"]: o for o in run.json_lines()}
    assert set(found) == {"logs/changed.log", "fresh.log"}  # same.log: no change
    assert found["logs/changed.log"]["change"] == "modified"
    old = hashlib.sha256(b"old\n").hexdigest()
    assert found["logs/changed.log"]["before"]["digest"].endswith(old)
    assert found["fresh.log"]["change"] == "added"
    assert list((home / "data" / "baselines").glob("*.ignored.*")) == []  # nothing left aside
    assert "2 baseline records it set aside put back" in removed.err


def test_an_absolute_pattern_is_taken_relative_or_refused_plainly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = make_tree(tmp_path / "w", {"a.txt": "a\n", "logs/app.log": "1\n"})
    assert cli("add", root, home=home).returncode == 0
    run = cli("ignore", root, f"{root}/logs/*.log", home=home)
    assert run.returncode == 0, run.err
    said = "taken as logs/*.log, relative to the watched folder"
    assert run.err.splitlines()[0] == f"fim-tray: {root}/logs/*.log: {said}"
    assert cli("ignore", root, "--list", home=home).out.splitlines() == ["logs/*.log"]
    (root / "logs" / "app.log").write_text("noise\n")
    assert cli("check", root, home=home).returncode == 0  # the pattern does hide it
    outside = cli("ignore", root, f"{tmp_path}/other/*.log", home=home)
    assert outside.returncode == 2 and outside.out == ""
    assert f"is outside the watched folder {root}" in outside.err
    assert len(outside.err.splitlines()) == 1
    assert cli("ignore", root, "--list", home=home).out.splitlines() == ["logs/*.log"]
    removed = cli("ignore", root, "--remove", f"{root}/logs/*.log", home=home)  # as it was added
    assert removed.returncode == 0 and "no longer ignoring logs/*.log" in removed.err


def test_a_pending_name_not_utf8_is_dropped_and_said_and_a_pattern_not_utf8_refused(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    root = make_tree(tmp_path / "w", {"a.txt": "a\n"})
    assert cli("add", root, home=home).returncode == 0
    with open(os.path.join(os.fsencode(root), b"caf\xe9.log"), "wb") as odd:
        odd.write(b"noise\n")
    assert cli("check", root, home=home).returncode == 1
    run = cli("ignore", root, "*.log", home=home)
    assert run.returncode == 0 and "1 pending change dropped: caf\\xe9.log" in run.err
    assert cli("check", root, home=home).returncode == 0
    (line,) = [
        e for e in cli("history", "--json", home=home).json_lines() if e["change"] == "ignored"
    ]
    assert line["dropped"] == [] and base64.b64decode(line["dropped_b64"][0]) == b"caf\xe9.log"
    assert "(*.log, 1 pending change dropped)" in cli("history", home=home).out
    refused = cli("ignore", root, b"caf\xe9*", home=home)
    assert refused.returncode == 2 and "must be text (UTF-8)" in refused.err
    assert cli("ignore", root, "--list", home=home).out.splitlines() == ["*.log"]
