"""A save killed at any of its writes (kill -9, power loss) leaves the old state or the new one,
never a false tamper alarm; and an older copy of the saved state put back, with or without its
pending file, is refused by generation."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import cli, make_tree

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="strace is Linux's")
ALARMS = ("older", "tamper", "not the one", "altered", "put back", "missing")


def _strace() -> str:
    path = shutil.which("strace")
    if path is None:  # ./dev.sh test installs it
        pytest.fail("strace is not installed")
    return path


def _state(tmp_path: Path) -> tuple[Path, Path]:
    """A watched folder with changes pending, and its state, ready for an accept."""
    home = tmp_path / "template"
    docs = make_tree(tmp_path / "docs", {"a.txt": "a\n", "b.txt": "b\n"})
    assert cli("add", docs, "--keep-copies", home=home).returncode == 0
    (docs / "a.txt").write_text("changed\n")
    (docs / "c.txt").write_text("new\n")
    assert cli("check", home=home).returncode == 1
    return docs, home


def _no_alarm(home: Path) -> None:
    for command in ("check", "list"):
        run = cli(command, home=home)
        assert run.returncode in (0, 1), (command, run.err)
        assert not any(word in run.err for word in ALARMS), (command, run.err)


# Each write an accept commits by, and how many of them it makes at least: the baseline, its
# cache, the generation record and the pending file are renamed into place; the backup is a
# hard link; fsync makes each durable.
@pytest.mark.parametrize(("syscall", "writes"), [("rename", 4), ("linkat", 1), ("fsync", 3)])
def test_an_accept_killed_at_any_write_never_raises_a_false_alarm(
    tmp_path: Path, syscall: str, writes: int
) -> None:
    strace = _strace()
    _docs, template = _state(tmp_path)
    killed = 0
    for when in range(1, 12):
        home = tmp_path / f"{syscall}-{when}"
        shutil.copytree(template, home, symlinks=True)
        inject = f"inject={syscall}:signal=KILL:when={when}"
        run = cli("accept", home=home, wrap=(strace, "-f", "-qq", "-o", os.devnull, "-e", inject))
        if run.returncode != -9 and run.returncode != 137:
            break  # fewer writes than `when`: every one has been cut
        killed += 1
        _no_alarm(home)
        again = cli("accept", home=home)  # and the accept can simply be done again
        assert again.returncode == 0, again.err
        assert cli("check", home=home).returncode == 0
    assert killed >= writes  # the test really cut the accept at each of them


def test_an_older_copy_put_back_is_refused_with_or_without_its_pending_file(
    tmp_path: Path,
) -> None:
    _docs, home = _state(tmp_path)
    baselines = home / "data" / "baselines"
    old = tmp_path / "old-data"
    shutil.copytree(home / "data", old)
    assert cli("accept", home=home).returncode == 0
    for variant in ("whole", "no pending", "bak only"):
        shutil.rmtree(home / "data")
        shutil.copytree(old, home / "data")
        if variant == "no pending":
            for pending in baselines.glob("*.pending.json"):
                pending.unlink()
        if variant == "bak only":  # the current files, with the backup put in place
            for bak in baselines.glob("*.json.bak"):
                shutil.copyfile(bak, bak.with_suffix(""))
            for leftover in [*baselines.glob("*.cache"), *baselines.glob("*.pending.json")]:
                leftover.unlink()
        for command in ("check", "accept", "list", "status"):
            run = cli(command, home=home)
            assert run.returncode == 2, (variant, command, run.err)
            said = run.out + run.err
            assert "older than the last one written (generation 1 < 2)" in said, said


def test_a_copy_from_before_a_remove_and_add_is_still_older(tmp_path: Path) -> None:
    docs, home = _state(tmp_path)
    assert cli("accept", home=home).returncode == 0  # generation 2
    old = tmp_path / "old-baselines"
    shutil.copytree(home / "data" / "baselines", old)
    assert cli("remove", docs, home=home).returncode == 0
    assert cli("add", docs, home=home).returncode == 0  # generation 3, not 1 again
    baselines = home / "data" / "baselines"
    for saved in old.glob("*.json"):
        shutil.copyfile(saved, baselines / saved.name)
    for leftover in baselines.glob("*.cache"):
        leftover.unlink()
    run = cli("check", home=home)
    assert run.returncode == 2 and "(generation 2 < 3)" in run.err, run.err
