"""First baselines and full re-hashes on worker processes give exactly what a scan on one thread
gives, fall back to one when a worker fails, and leave no process behind."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fim_tray.errors import ScanCancelled
from fim_tray.scan import dirwalk, hashpool, processes
from fim_tray.scan import record as record_module
from fim_tray.scan.excludes import DEFAULT_EXCLUDES, Excluder
from fim_tray.scan.hashing import DEFAULT_ALGORITHM
from fim_tray.scan.record import REPLACED, VANISHED, Recorder
from fim_tray.scan.scanner import Scanner
from fim_tray.scan.throttle import Throttle
from tests.helpers import remove_chain
from tests.scan.test_scan_speed import assert_same, build_mixed, data_of, sabotage

pytestmark = pytest.mark.skipif(not processes.AVAILABLE, reason="no fork on this platform")


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The workers forked (their pids, seen by the parent), on a machine that looks like four
    CPUs; each must be gone (reaped) by the end of the test."""
    pids: list[int] = []
    real_fork = os.fork

    def spy() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", spy)
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 4)
    yield pids
    for pid in pids:
        with pytest.raises(ChildProcessError):  # already waited for: no zombie, none running
            os.waitpid(pid, os.WNOHANG)


def _tree(
    root: Path, folders: int = 120, files: int = 600, largest: int = 70_000
) -> dict[str, bytes]:
    """A random tree, every file with its own content: {relative path: content}."""
    rng = random.Random(7)
    dirs = [""]
    for i in range(folders):
        parent = dirs[rng.randrange(len(dirs))]
        rel = f"{parent}/d{i}" if parent else f"d{i}"
        (root / rel).mkdir(parents=True)
        dirs.append(rel)
    contents = {}
    for i in range(files):
        parent = dirs[rng.randrange(len(dirs))]
        rel = f"{parent}/f{i}" if parent else f"f{i}"
        contents[rel] = data_of(rng.randrange(0, largest), i)
        (root / rel).write_bytes(contents[rel])
    return contents


# None: a first baseline; {} with full: a full re-hash against a baseline that knows nothing.
@pytest.mark.parametrize(("previous", "full"), [(None, False), ({}, True)])
def test_processes_give_what_one_thread_gives(
    tmp_path: Path,
    forked: list[int],
    monkeypatch: pytest.MonkeyPatch,
    previous: dict[str, Any] | None,
    full: bool,
) -> None:
    root = build_mixed(tmp_path / "w")
    for i in range(30):  # more folders than workers, some deep
        (root / "many" / f"x{i % 5}" / f"y{i}").mkdir(parents=True)
        (root / "many" / f"x{i % 5}" / f"y{i}" / "f.txt").write_bytes(data_of(i * 100, i))
    sabotage(monkeypatch)  # unreadable, vanishing and restless files, in workers too
    serial = Scanner(str(root), previous=previous, full=full, hash_workers=1).run()
    assert forked == []
    spread = Scanner(str(root), previous=previous, full=full, processes=True).run()
    assert len(forked) == 3  # four processes: this one and three workers
    assert_same(serial, spread)
    assert {p.message for p in spread.problems} >= {
        "cannot be read: permission denied",
        "vanished during the scan",
        "kept changing while it was read",
    }


def test_every_file_hashed_from_its_own_content(tmp_path: Path, forked: list[int]) -> None:
    contents = _tree(tmp_path)
    result = Scanner(str(tmp_path), processes=True).run()
    assert forked
    digests = {p: e.digest for p, e in result.entries.items() if e.type == "file"}
    assert digests == {p: hashlib.sha256(c).hexdigest() for p, c in contents.items()}
    assert result.hashed_files == len(contents)
    assert result.hashed_bytes == sum(map(len, contents.values()))


def test_progress_counts_every_entry(tmp_path: Path, forked: list[int]) -> None:
    _tree(tmp_path, folders=50, files=2600, largest=100)
    seen: list[int] = []
    result = Scanner(str(tmp_path), processes=True, progress=seen.append).run()
    assert seen[-1] == len(result.entries) == 2650
    assert seen == sorted(seen) and seen[:2] == [1000, 2000]


def test_a_folder_that_cannot_be_listed_on_a_worker(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, folders=20, files=40)
    (tmp_path / "locked" / "inner").mkdir(parents=True)
    real_list = dirwalk.list_folder

    def refuse(folder: str, parent: Any) -> Any:
        if os.path.basename(folder) == "locked":  # as without read permission, for anyone
            if parent is not None:
                parent.release()
            raise PermissionError(13, "Permission denied", folder)
        return real_list(folder, parent)

    monkeypatch.setattr(record_module, "list_folder", refuse)
    serial = Scanner(str(tmp_path), hash_workers=1).run()
    spread = Scanner(str(tmp_path), processes=True).run()
    assert forked
    assert_same(serial, spread)
    assert spread.unlisted == {"locked"}
    assert spread.entries["locked"].error == "permission denied"
    assert "locked/inner" not in spread.entries


@pytest.mark.parametrize(
    "setting",
    [
        {"previous": {}},  # a quick rescan: stat only, nothing worth a process
        {"only": ["d1"]},  # a targeted rescan of a few paths
        {"throttle": Throttle(1e9)},  # a capped speed is one budget, kept on one process
        {"processes": False},  # not asked for: the tray and the monitor
        {"hash_workers": 1},  # one worker allowed: no other process either
    ],
)
def test_what_stays_on_this_process(
    tmp_path: Path, forked: list[int], setting: dict[str, Any]
) -> None:
    _tree(tmp_path, folders=10, files=30)
    Scanner(str(tmp_path), **{"processes": True, **setting}).run()
    assert forked == []


def test_no_fork_while_another_thread_runs(tmp_path: Path, forked: list[int]) -> None:
    """A fork copies only the calling thread: a lock another one held would never be let go."""
    _tree(tmp_path, folders=10, files=30)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        serial = Scanner(str(tmp_path), hash_workers=1).run()
        result = Scanner(str(tmp_path), processes=True).run()
    finally:
        release.set()
        other.join()
    assert forked == []
    assert_same(serial, result)


def test_a_worker_that_dies_is_replaced_by_a_scan_here(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    _tree(tmp_path)
    serial = Scanner(str(tmp_path), hash_workers=1).run()
    monkeypatch.setattr(processes, "_serve", lambda *args: os._exit(3))  # killed, as by OOM
    with caplog.at_level(logging.WARNING):
        result = Scanner(str(tmp_path), processes=True).run()
    assert forked
    assert_same(serial, result)
    assert "a worker process ended before its work was done" in caplog.text


def test_no_worker_allowed_is_a_scan_here(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    _tree(tmp_path)
    serial = Scanner(str(tmp_path), hash_workers=1).run()
    real_fork, calls = os.fork, []

    def limited() -> int:  # the second fork hits the process limit
        calls.append(1)
        if len(calls) > 1:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", limited)
    with caplog.at_level(logging.WARNING):
        result = Scanner(str(tmp_path), processes=True).run()
    assert_same(serial, result)
    assert "cannot start a worker process (Resource temporarily unavailable)" in caplog.text
    assert len(calls) == 2 and len(forked) == 1  # the one started was ended and waited for


def test_a_worker_that_fails_is_replaced_by_a_scan_here(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    _tree(tmp_path)
    serial = Scanner(str(tmp_path), hash_workers=1).run()
    parent, real_scan = os.getpid(), processes._scan_folder

    def broken(*args: Any) -> Any:
        if os.getpid() != parent:
            raise RuntimeError("a bug in a worker")
        return real_scan(*args)

    monkeypatch.setattr(processes, "_scan_folder", broken)
    with caplog.at_level(logging.WARNING):
        result = Scanner(str(tmp_path), processes=True).run()
    assert_same(serial, result)
    assert "a worker process failed: RuntimeError: a bug in a worker" in caplog.text


def test_a_stop_ends_the_workers(
    tmp_path: Path, forked: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    stop = threading.Event()
    real_scan = processes._scan_folder

    def then_stop(*args: Any) -> Any:
        found = real_scan(*args)
        stop.set()  # after the first folder this process scans
        return found

    monkeypatch.setattr(processes, "_scan_folder", then_stop)
    with pytest.raises(ScanCancelled):
        Scanner(str(tmp_path), processes=True, stop=stop).run()
    assert forked  # and the fixture checks that every one was waited for


def test_a_folder_gone_or_swapped_for_a_link_before_a_worker_reaches_it(tmp_path: Path) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to("real")
    recorder = Recorder(Excluder(DEFAULT_EXCLUDES), DEFAULT_ALGORITHM)
    root = dirwalk.Opener(str(tmp_path))
    told: list[str] = []
    gone = processes._scan_folder(recorder, root, "gone/", lambda prefix, names: told.extend(names))
    swapped = processes._scan_folder(recorder, root, "link/sub/", lambda prefix, names: None)
    listed = processes._scan_folder(recorder, root, "real/", lambda p, names: told.extend(names))
    root.close()
    assert (gone.why, swapped.why, listed.why) == ((VANISHED, None), (REPLACED, None), None)
    assert told == ["sub"] and listed.subfolders == ["sub"]
    assert list(listed.entries) == ["real/sub"]


def _chain(root: Path, depth: int) -> list[str]:
    """``d/d/.../d`` ``depth`` deep, made one name at a time (deeper than a path may be long);
    each folder's relative path."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    rels, rel = [], ""
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
        rel = f"{rel}/d" if rel else "d"
        rels.append(rel)
    os.close(fd)
    return rels


@pytest.mark.skipif(not dirwalk.FD_WALK, reason="folder handles are POSIX")
def test_a_deep_chain_costs_one_open_per_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reaching each folder of a chain in turn opens each name once, not once per folder below
    it: depth costs linear time (from the root each time, 600 deep would take 180,000 opens)."""
    rels = _chain(tmp_path, 600)
    opened = 0
    real_open = os.open

    def counting(*args: Any, **kwargs: Any) -> int:
        nonlocal opened
        opened += 1
        return real_open(*args, **kwargs)

    opener = dirwalk.Opener(str(tmp_path))
    monkeypatch.setattr(os, "open", counting)
    for rel in rels:
        held = opener.holder(rel + "/x")  # the folder ``rel``, as a worker reaches it
        assert held is not None
        assert os.path.samestat(os.fstat(held.fd), os.lstat(tmp_path / rel))
        held.close()
    monkeypatch.undo()
    opener.close()
    remove_chain(tmp_path)
    assert opened <= len(rels) + 2


@pytest.mark.skipif(not processes.AVAILABLE, reason="worker processes need fork")
def test_a_chain_2400_deep_is_recorded_whole_on_workers(tmp_path: Path) -> None:
    rels = _chain(tmp_path, 2400)
    try:
        found = Scanner(str(tmp_path), processes=True, full=True).run()
    finally:
        remove_chain(tmp_path)  # too deep for the cleaning up of temporary folders
    assert set(found.entries) == set(rels)
    assert not found.problems
