"""Tests of fim_tray.store.lock.InstanceLock: one tray per data folder, across real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fim_tray.store.lock import InstanceLock

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
TRY = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fim_tray.store.lock import InstanceLock
    lock = InstanceLock(Path(sys.argv[1]))
    print(lock.acquire(), lock.holder(), flush=True)
    """
)
HOLD = TRY + "sys.stdin.read()\n"  # hold it until stdin closes (or the process is killed)


def try_in_another_process(path: Path) -> tuple[bool, str]:
    """Whether a fresh process acquires the lock, and the holder it then sees."""
    done = subprocess.run(
        [sys.executable, "-c", TRY, str(path)],
        capture_output=True, text=True, env=ENV, timeout=30, check=True,
    )  # fmt: skip
    answer, _, holder = done.stdout.strip().partition(" ")
    assert answer in ("True", "False"), done.stdout + done.stderr
    return answer == "True", holder.strip()


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    """Holder processes a test started; every one is ended however the test ends."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def start_holder(path: Path, holders: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    holders.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().split(" ")[0] == "True"
    return proc


def test_a_second_process_is_refused_while_this_one_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "instance.lock"
    lock = InstanceLock(path)
    assert lock.acquire()
    try:
        acquired, holder = try_in_another_process(path)
        assert not acquired
        assert holder == f"(process {os.getpid()})"
        assert lock.holder() == f" (process {os.getpid()})"
    finally:
        lock.release()
    acquired, _ = try_in_another_process(path)
    assert acquired


def test_release_twice_is_harmless(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path / "instance.lock")
    lock.release()  # never acquired
    assert lock.acquire()
    lock.release()
    lock.release()
    assert lock.acquire()
    lock.release()


def test_a_killed_holder_leaves_no_stale_lock(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "instance.lock"
    proc = start_holder(path, holders)
    here = InstanceLock(path)
    assert not here.acquire()
    assert here.holder() == f" (process {proc.pid})"
    acquired, holder = try_in_another_process(path)
    assert not acquired
    assert holder == f"(process {proc.pid})"

    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    acquired, holder = try_in_another_process(path)
    assert acquired
    assert holder.strip("()").split(" ")[0] == "process"  # it wrote its own (now ended) pid
    assert holder != f"(process {proc.pid})"


def test_a_holder_that_ends_normally_releases_it(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "instance.lock"
    proc = start_holder(path, holders)
    assert not try_in_another_process(path)[0]
    proc.communicate("", timeout=10)  # closes stdin: it exits
    lock = InstanceLock(path)
    assert lock.acquire()
    try:
        assert lock.holder() == f" (process {os.getpid()})"
    finally:
        lock.release()


def test_a_refused_acquire_keeps_no_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "instance.lock"
    first = InstanceLock(path)
    assert first.acquire()
    try:
        second = InstanceLock(path)
        before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
        for _ in range(20):
            assert not second.acquire()  # flock is per open file: refused in-process too
        after = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
        assert after == before
    finally:
        first.release()


def test_holder_is_empty_without_a_lock_file(tmp_path: Path) -> None:
    assert InstanceLock(tmp_path / "none.lock").holder() == ""
