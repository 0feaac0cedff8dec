"""Tests of fim_tray.store.lock: exclusion across processes and threads, timeouts, dead holders."""

from __future__ import annotations

import errno
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from fim_tray.errors import LockedError, StorageError
from fim_tray.store.lock import data_lock

pytestmark = pytest.mark.skipif(os.name == "nt", reason="fork and SIGKILL are POSIX")

_ctx = multiprocessing.get_context("fork")


def _hold(
    path: str,
    ready: multiprocessing.synchronize.Event,
    release: multiprocessing.synchronize.Event,
) -> None:
    with data_lock(Path(path), timeout=5):
        ready.set()
        release.wait(20)


def _start_holder(
    path: Path,
) -> tuple[multiprocessing.process.BaseProcess, multiprocessing.synchronize.Event]:
    ready = _ctx.Event()
    release = _ctx.Event()
    proc = _ctx.Process(target=_hold, args=(str(path), ready, release))
    proc.start()
    assert ready.wait(10), "the child never took the lock"
    return proc, release


def test_lock_file_names_the_holder_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "lock"
    with data_lock(path, timeout=1):
        assert path.read_text() == f"{os.getpid()}\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_released_after_the_block_even_on_error(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with pytest.raises(RuntimeError), data_lock(path, timeout=1):
        raise RuntimeError("boom")
    started = time.monotonic()
    with data_lock(path, timeout=1):
        pass
    assert time.monotonic() - started < 0.5


def test_another_process_holding_it_makes_us_wait_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc, release = _start_holder(path)
    try:
        started = time.monotonic()
        with pytest.raises(LockedError) as caught, data_lock(path, timeout=0.3):
            pytest.fail("took a lock another process holds")
        waited = time.monotonic() - started
        assert 0.3 <= waited < 3
        assert f"(process {proc.pid})" in caught.value.message
        assert "Try again" in caught.value.message
    finally:
        release.set()
        proc.join(10)
    assert proc.exitcode == 0


def test_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc, release = _start_holder(path)
    releaser = threading.Timer(0.3, release.set)
    releaser.start()
    try:
        started = time.monotonic()
        with data_lock(path, timeout=10):
            waited = time.monotonic() - started
            assert path.read_text() == f"{os.getpid()}\n"
        assert 0.25 <= waited < 5
    finally:
        releaser.join(5)
        release.set()
        proc.join(10)


def test_a_killed_holder_does_not_block_the_next_taker(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    proc, _release = _start_holder(path)
    os.kill(proc.pid or 0, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    started = time.monotonic()
    with data_lock(path, timeout=2):
        pass
    assert time.monotonic() - started < 1


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    log: list[str] = []

    def second() -> None:
        with data_lock(path, timeout=5):
            log.append("second in")

    with data_lock(path, timeout=5):
        log.append("first in")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)  # give the second thread time to try
        log.append("first out")
    thread.join(5)
    assert log == ["first in", "first out", "second in"]


def test_a_full_disk_does_not_keep_the_lock_from_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The holder's process id is written into the lock file for messages only.
    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    path = tmp_path / "lock"
    ran = []
    monkeypatch.setattr(os, "write", full_disk)
    with data_lock(path, timeout=1):
        ran.append(True)
    monkeypatch.undo()
    assert ran == [True]
    with data_lock(path, timeout=1):
        pass


def test_a_lock_file_that_cannot_be_made_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data folder should be")
    with pytest.raises(StorageError, match="lock"), data_lock(tmp_path / "data" / "lock", 1):
        pytest.fail("ran without the lock")
