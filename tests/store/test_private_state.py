"""fim-tray's state is private and its own: folders 0700 and files 0600 whatever the umask, folders
made wider by an older version tightened, and a state file or folder that belongs to another user
refused by name (another user who could write there could forge the baseline and the key)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fim_tray.store.paths import Paths, folder_id
from tests.helpers import cli, make_tree

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534
UMASK_000 = ("sh", "-c", 'umask 000 && exec "$@"', "sh")


def _paths(home: Path) -> Paths:
    return Paths(data_dir=home / "data", config_dir=home / "config")


def _modes(home: Path) -> dict[str, int]:
    found = {}
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = os.path.join(root, name)
            found[os.path.relpath(path, home)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_state_is_private_under_umask_000(tmp_path: Path) -> None:
    home = tmp_path / "state"
    watched = make_tree(tmp_path / "docs", {"a.txt": "a", "b.txt": "b"})
    assert cli("add", watched, "--keep-copies", home=home, wrap=UMASK_000).returncode == 0
    (watched / "a.txt").write_text("changed")
    assert cli("check", home=home, wrap=UMASK_000).returncode == 1
    assert cli("accept", home=home, wrap=UMASK_000).returncode == 0
    modes = _modes(home)
    assert {"data", "config", "data/baselines", "data/snapshots", "config/install.key"} <= set(
        modes
    )
    assert stat.S_IMODE(home.stat().st_mode) == 0o700  # made by fim-tray: private too
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_folders_made_wider_are_tightened_on_the_next_write(tmp_path: Path) -> None:
    home = tmp_path / "state"
    watched = make_tree(tmp_path / "docs", {"a.txt": "a"})
    assert cli("add", watched, home=home).returncode == 0
    paths = _paths(home)
    for folder in (paths.data_dir, paths.config_dir, paths.baselines_dir):
        folder.chmod(0o777)  # what an older version left under umask 000
    (watched / "a.txt").write_text("changed")
    assert cli("check", home=home).returncode == 1  # writes the pending file and the history
    other = make_tree(tmp_path / "other", {"b.txt": "b"})
    assert cli("add", other, home=home).returncode == 0  # writes the settings
    for folder in (paths.data_dir, paths.config_dir, paths.baselines_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")
@pytest.mark.parametrize("which", ["baseline", "pending", "key", "config", "history", "data"])
def test_state_of_another_user_is_refused_by_name(tmp_path: Path, which: str) -> None:
    home = tmp_path / "state"
    watched = make_tree(tmp_path / "docs", {"a.txt": "a"})
    assert cli("add", watched, home=home).returncode == 0
    (watched / "a.txt").write_text("changed")
    assert cli("check", home=home).returncode == 1  # a pending file and a history line
    paths = _paths(home)
    fid = folder_id(str(watched))
    target = {
        "baseline": paths.baseline_file(fid),
        "pending": paths.pending_file(fid),
        "key": paths.key_file,
        "config": paths.config_file,
        "history": paths.events_file,
        "data": paths.data_dir,
    }[which]
    before = target.read_bytes() if target.is_file() else None
    os.chown(target, NOBODY, NOBODY)
    (watched / "b.txt").write_text("new")
    # (command, whether it stops): a baseline, key, settings or data folder not ours stops every
    # command; a pending file not ours is not used (every change is announced again), with a
    # warning; a history not ours is not shown (exit 2), and adding to it stops a check.
    expected = {
        "pending": [("check", False)],
        "history": [("check", True), ("history", True)],
    }.get(which, [("check", True), ("accept", True)])
    for command, stops in expected:
        run = cli(command, home=home)
        assert str(target) in run.err and "uid 65534" in run.err, run.err
        assert "not to the user running fim-tray" in run.err
        if stops:
            assert run.returncode == 2, (command, run.err)
        else:
            assert "WARNING" in run.err and run.returncode != 2, (command, run.err)
    if before is not None and which != "pending":  # a pending file not ours is replaced
        assert target.read_bytes() == before  # refused, not rewritten


@pytest.mark.skipif(not IS_ROOT, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("folder", ["data", "data/baselines", "config", "data/snapshots"])
def test_a_state_folder_of_another_user_is_refused_naming_it_and_its_owner(
    tmp_path: Path, folder: str
) -> None:
    home = tmp_path / "state"
    watched = make_tree(tmp_path / "docs", {"a.txt": "a"})
    assert cli("add", watched, "--keep-copies", home=home).returncode == 0
    os.chown(home / folder, NOBODY, NOBODY)
    for command in ("check", "list", "history"):
        run = cli(command, home=home)
        assert run.returncode == 2, (command, run.err)
        said = run.out + run.err
        assert f"{home / folder} cannot be used" in said and "uid 65534" in said, said
