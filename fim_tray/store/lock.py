"""The data-directory lock: two fim-tray processes never write the same state at once."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from fim_tray import jsonio
from fim_tray.errors import LockedError, StorageError

# flock does not exclude threads sharing one descriptor, so threads take this first. Not
# re-entrant in effect: a nested data_lock opens a second descriptor and waits on the first.
_thread_lock = threading.RLock()


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
        pid = int(jsonio.read_own(path, limit=64).strip() or b"0")
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
        try:
            jsonio.private_dir(path.parent)
            fd = jsonio.open_own(path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise StorageError(
                f"Could not open the lock file {path}: {jsonio.write_failure(exc)}. Check that the "
                "data folder exists, is a folder and may be written."
            ) from exc
        try:
            deadline = time.monotonic() + timeout
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"fim-tray is busy: another fim-tray{_holder(path)} is saving its state "
                        f"and did not finish within {timeout:g} s. Try again in a moment."
                    )
                time.sleep(0.05)
            with contextlib.suppress(OSError):  # the process id is for messages only
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            try:
                yield
            finally:
                _unlock(fd)
        finally:
            os.close(fd)


class InstanceLock:
    """A lock held for a whole process's life, so a second tray knows one is running.

    The operating system drops it when the process ends, however it ends.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """True when this process now holds it; False when another process does."""
        try:
            jsonio.private_dir(self.path.parent)
            fd = jsonio.open_own(self.path, os.O_RDWR | os.O_CREAT)
        except OSError as exc:
            raise StorageError(
                f"Could not open the lock file {self.path}: {exc.strerror or exc}. Check that "
                "the data folder exists, is a folder and may be written."
            ) from exc
        if not _try_lock(fd):
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """`` (process N)`` naming the holder, or an empty string."""
        return _holder(self.path)

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None
