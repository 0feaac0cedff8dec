"""A change found is always reported, even when the data folder cannot record it: a full disk or a
read-only data folder gives the change, exit 1 and a warning; a link planted at the history gives
the change and exit 2 (the state is not trusted); nothing is accepted that the history cannot
record."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fim_tray.cli.output import EXIT_CHANGES, EXIT_ERROR
from tests.helpers import Run, cli, err_lines, make_tree, plant_link

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="mounting a disk needs root")


@contextlib.contextmanager
def mounted(where: Path, *options: str) -> Iterator[None]:
    done = subprocess.run(["mount", *options, str(where)], capture_output=True, text=True)
    assert done.returncode == 0, f"mount failed as root: {done.stderr}"
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@contextlib.contextmanager
def full_data_folder(home: Path) -> Iterator[None]:
    """The data folder moved onto a tiny disk, then filled up."""
    data = home / "data"
    saved = home / "saved"
    data.rename(saved)
    data.mkdir(mode=0o700)
    try:
        with mounted(data, "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs"):
            subprocess.run(["cp", "-a", f"{saved}/.", str(data)], check=True)
            with contextlib.suppress(OSError), open(data / "filler", "wb") as filler:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            yield
    finally:  # the disk as it was before it filled up
        data.rmdir()
        saved.rename(data)


@contextlib.contextmanager
def read_only_data_folder(home: Path) -> Iterator[None]:
    data = home / "data"
    with mounted(data, "--bind", str(data)):
        done = subprocess.run(["mount", "-o", "remount,bind,ro", str(data)], capture_output=True)
        assert done.returncode == 0, done.stderr
        yield


def watched(tmp_path: Path, home: Path) -> Path:
    root = make_tree(tmp_path / "w", {"a.txt": "one\n", "b.txt": "two\n"})
    assert cli("add", root, home=home).returncode == 0
    (root / "a.txt").write_text("changed\n")
    return root


def reported(run: Run) -> list[str]:
    return [json.loads(line)["path"] for line in run.out.splitlines()]


@needs_root
@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_change_is_reported_when_it_cannot_be_recorded(
    how: str, tmp_path: Path, home: Path
) -> None:
    root = watched(tmp_path, home)
    events = home / "data" / "events.jsonl"
    before = events.read_bytes() if events.exists() else b""
    jam = full_data_folder if how == "full" else read_only_data_folder
    with jam(home):
        run = cli("check", "--json", home=home)
        assert run.returncode == EXIT_CHANGES, run.err
        assert reported(run) == ["a.txt"]
        warning = [line for line in err_lines(run) if "WARNING" in line]
        assert len(warning) == 1, run.err
        assert ("disk is full" if how == "full" else "may not write there") in warning[0]
        assert "Traceback" not in run.err

        text = cli("check", home=home)  # again: still reported, still not recorded
        assert text.returncode == EXIT_CHANGES
        assert "a.txt" in text.out

        refused = cli("accept", home=home)  # nothing taken in that the history cannot record
        assert refused.returncode == EXIT_ERROR
        assert "Nothing was accepted" in refused.err
    assert (events.read_bytes() if events.exists() else b"") == before
    after = cli("check", "--json", home=home)  # the disk back: recorded now, as new
    assert after.returncode == EXIT_CHANGES
    assert [json.loads(line)["new"] for line in after.out.splitlines()] == [True]
    assert root.exists()


def test_a_link_at_the_history_is_an_error_but_the_change_is_still_shown(
    tmp_path: Path, home: Path
) -> None:
    watched(tmp_path, home)
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    events = home / "data" / "events.jsonl"
    with contextlib.suppress(FileNotFoundError):
        events.unlink()
    plant_link(events, victim)
    run = cli("check", "--json", home=home)
    assert run.returncode == EXIT_ERROR
    assert reported(run) == ["a.txt"]
    assert "link is in its place" in run.err
    assert victim.read_bytes() == b""


def test_state_moved_into_a_watched_folder_is_left_out_not_reported(tmp_path: Path) -> None:
    """The state moved inside a watched folder at run time (its parent swapped for a link): the
    files fim-tray writes there are never reported as changes, the person is told why; anything
    else put there is reported like any file."""
    outer = tmp_path / "outer"
    home = outer / "state"
    root = make_tree(tmp_path / "w", {"a.txt": "one\n"})
    assert cli("add", root, home=home).returncode == 0
    outer.rename(root / "moved")
    outer.symlink_to(root / "moved")
    for _ in range(3):  # each check writes the state: none of it may come back as a change
        run = cli("check", "--json", home=home)
        found = [json.loads(line) for line in run.out.splitlines()]
        assert found, run.err
        assert all(c["after"]["type"] == "dir" for c in found), found  # its folders, once
        assert "own state is in this folder" in run.err
    assert cli("accept", home=home).returncode == 0
    planted = root / "moved" / "state" / "data" / "evil.sh"
    planted.write_text("rm -rf ~\n")
    run = cli("check", "--json", home=home)
    paths = [json.loads(line)["path"] for line in run.out.splitlines()]
    assert paths == ["moved/state/data/evil.sh"]
