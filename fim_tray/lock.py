"""The data-directory lock: two fim-tray processes never write the same state at once."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from fim_tray.errors import LockedError

_thread_lock = threading.RLock()  # flock does not exclude threads sharing one descriptor


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text().strip() or "0")
        if pid:
            return f" (process {pid})"
    return ""


@contextlib.contextmanager
def data_lock(path: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the lock file at ``path`` for the ``with`` block, waiting up to ``timeout`` seconds.

    The operating system releases the lock when a process dies, so a ``kill -9`` never leaves a
    stale lock behind.
    """
    with _thread_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"Another fim-tray{_holder(path)} is saving its state and did not finish "
                        f"within {timeout:.0f} s. Try again in a moment."
                    )
                time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)
