"""Hashes the regular files a scan finds: opening them safely, hashing one on the walking thread,
and the pool of worker threads that hashes big ones while the walk goes on."""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
import time
from collections.abc import Callable

from fim_tray import logs
from fim_tray.models import Entry, EntryType
from fim_tray.scan import xattrs
from fim_tray.scan.hashing import BUFFER_SIZE, OPEN_FLAGS, hash_fd
from fim_tray.scan.throttle import Throttle

log = logs.getLogger(__name__)

_PERMS = 0o7777  # the permission bits of st_mode, as stat.S_IMODE takes them, without a call
# How long close() waits for each worker. A worker stuck in a read on a dead network share never
# comes back; waiting for it would hang Ctrl-C and Quit, and as a daemon it cannot keep the
# process alive, so after this it is left behind (with a warning).
JOIN_TIMEOUT = 3.0

# Files at least this big are hashed on worker threads; smaller ones on the walking thread. hashlib
# and reads release the GIL only for the call itself: for a small file the per-file Python work
# (GIL-bound) dominates and a second thread only adds switching; a big file is
# one long GIL-free stretch per 1 MiB chunk, which another CPU can take.
BIG_FILE = BUFFER_SIZE
DEFAULT_HASH_WORKERS = 4  # a desktop monitor should not take every core; disks rarely feed more
MAX_HASH_WORKERS = 64
STOP_POLL = 0.1  # seconds: how often the walking thread looks at ``stop`` while workers hash

# What hashing one file found: its entry (None when it is not recorded), a problem to report,
# and the files and bytes read (a file that changed while it was read is read twice).
Outcome = tuple[Entry | None, str | None, int, int]


def cpu_count() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one (containers, taskset),
    else every CPU."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def hash_threads(setting: int = DEFAULT_HASH_WORKERS) -> int:
    """Worker threads a scan may use for big files: one per CPU, at most ``setting``. One (or a
    single CPU) means none: every file is hashed on the walking thread, one at a time."""
    workers = max(1, min(setting, MAX_HASH_WORKERS, cpu_count()))
    return workers if workers > 1 else 0


def entry_from_stat(st: os.stat_result, kind: EntryType, **extra: str | None) -> Entry:
    return Entry(
        kind,
        st.st_size if kind in ("file", "symlink") else 0,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        st.st_mode & _PERMS,
        st.st_uid,
        st.st_gid,
        **extra,
    )


def describe_error(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or exc.__class__.__name__


class Stopped(Exception):
    """``stop`` was seen set (between folders, between the chunks of a big file, or while the
    workers hash); :meth:`Scanner.run` turns it into ScanCancelled."""


def _unreadable(
    path: str, st: os.stat_result | None, exc: OSError, dir_fd: int | None = None
) -> Outcome:
    """A file recorded as unreadable, with what its lstat says (taken now if it was not)."""
    why = describe_error(exc)
    if st is None:
        try:
            st = os.lstat(path, dir_fd=dir_fd)
        except FileNotFoundError:
            return None, "vanished during the scan", 0, 0
        except OSError as lstat_exc:
            return None, f"cannot read its details: {describe_error(lstat_exc)}", 0, 0
    return entry_from_stat(st, "file", error=why), f"cannot be read: {why}", 0, 0


def open_file(
    path: str,
    st: os.stat_result | None,
    dir_fd: int | None = None,
    same_as: os.stat_result | None = None,
) -> tuple[int, os.stat_result | None, Outcome | None]:
    """Open a regular file for hashing: ``(fd, its fstat, None)``, or ``(-1, None, outcome)``
    when it cannot be hashed. ``st`` is its lstat, or None when it was not taken. ``path`` is
    relative to ``dir_fd`` when one is given. With ``same_as``, a file other than that one (by
    device and inode) is not read: a worker opens by full path, and a folder on the way may have
    been swapped for a link since the walk saw the file."""
    try:
        fd = os.open(path, OPEN_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return -1, None, (None, "vanished during the scan", 0, 0)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
            return -1, None, (None, "was replaced during the scan", 0, 0)
        return -1, None, _unreadable(path, st, exc, dir_fd)
    try:
        # Checked on the open file: a FIFO or device swapped in after the listing is never read
        # (O_NONBLOCK let the open return at once).
        before = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        return -1, None, _unreadable(path, st, exc, dir_fd)
    if not stat.S_ISREG(before.st_mode) or (
        same_as is not None and (before.st_dev, before.st_ino) != (same_as.st_dev, same_as.st_ino)
    ):
        os.close(fd)
        return -1, None, (None, "was replaced during the scan", 0, 0)
    return fd, before, None


def hash_open(
    fd: int,
    before: os.stat_result,
    st: os.stat_result,
    algorithm: str,
    cancelled: Callable[[], bool] | None,
    throttle: Throttle | None = None,
) -> Outcome:
    """Hash a file :func:`open_file` opened (``before`` is its fstat), and close it. A file
    that changed while it was read is read once more. ``st`` is what an error entry records."""
    files = nbytes = 0
    problem = None
    try:
        for attempt in range(2):
            try:
                if attempt:
                    before = os.fstat(fd)
                    if not stat.S_ISREG(before.st_mode):
                        return None, "was replaced during the scan", files, nbytes
                digest = hash_fd(fd, algorithm, before.st_size, cancelled, throttle)
                if digest is None:
                    raise Stopped
                after = os.fstat(fd)
            except OSError as exc:
                why = describe_error(exc)
                return (
                    entry_from_stat(st, "file", error=why),
                    f"cannot be read: {why}",
                    files,
                    nbytes,
                )
            files += 1
            nbytes += after.st_size
            if after.st_size == before.st_size and after.st_mtime_ns == before.st_mtime_ns:
                break
        else:
            problem = "kept changing while it was read"
        attributes = xattrs.read(fd)
    finally:
        os.close(fd)
    entry = Entry(
        "file",
        after.st_size,
        after.st_mtime_ns,
        after.st_ctime_ns,
        after.st_ino,
        after.st_mode & _PERMS,
        after.st_uid,
        after.st_gid,
        digest,
        None,
        None,
        attributes,
    )
    return entry, problem, files, nbytes


def hash_checked(
    path: str,
    st: os.stat_result,
    algorithm: str,
    cancelled: Callable[[], bool] | None,
    throttle: Throttle | None = None,
    dir_fd: int | None = None,
    same_as: os.stat_result | None = None,
) -> Outcome:
    """Open, check and hash one regular file that ``lstat`` saw as ``st`` (``dir_fd`` and
    ``same_as`` as for :func:`open_file`).

    It touches no scan state, so a worker thread can run it; the walking thread runs the very
    same code for small files, which keeps parallel and serial scans identical.
    """
    fd, before, failed = open_file(path, st, dir_fd, same_as)
    if failed is not None:
        return failed
    assert before is not None
    return hash_open(fd, before, st, algorithm, cancelled, throttle)


class Job:
    """One big file for the workers, and where its problem goes among the scan's problems."""

    __slots__ = ("failure", "outcome", "path", "problems_at", "rel", "same_as", "st")

    def __init__(
        self,
        path: str,
        rel: str,
        st: os.stat_result,
        problems_at: int,
        same_as: os.stat_result | None = None,
    ) -> None:
        self.path = path
        self.rel = rel
        self.st = st
        self.problems_at = problems_at
        self.same_as = same_as
        self.outcome: Outcome | None = None
        self.failure: BaseException | None = None


class HashPool:
    """Up to ``size`` threads that hash big files while the walk goes on.

    Threads start only when a big file needs hashing (quick rescans and folders of small files
    start none) and from the scanning thread, so they inherit its priority (the monitor lowers
    it). Each reuses one 1 MiB buffer: memory stays constant whatever the file sizes.
    :meth:`close` ends and joins every thread, so none outlives its scan (but one stuck in a
    read that never returns, which is left behind after JOIN_TIMEOUT).
    """

    def __init__(
        self,
        size: int,
        algorithm: str,
        stop: threading.Event | None,
        throttle: Throttle | None = None,
    ) -> None:
        self.size = size
        self.algorithm = algorithm
        self.stop = stop
        self.throttle = throttle  # one for the whole scan: the cap holds across the threads
        self.jobs: list[Job] = []
        self._abort = threading.Event()
        self._todo: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def cancelled(self) -> bool:
        return self._abort.is_set() or (self.stop is not None and self.stop.is_set())

    def submit(self, job: Job) -> None:
        self.jobs.append(job)
        if len(self._threads) < min(self.size, len(self.jobs)):
            # A daemon: a read stuck on a dead network share must not keep the process alive.
            thread = threading.Thread(
                target=self._work, name=f"fim-tray-hash-{len(self._threads) + 1}", daemon=True
            )
            try:
                thread.start()
            except RuntimeError:  # no more threads allowed (a process limit): go on without
                log.debug("cannot start a hashing thread", exc_info=True)
                if not self._threads:
                    self._do(job)  # right here, as a serial scan would
                    return
            else:
                self._threads.append(thread)
        self._todo.put(job)

    def _do(self, job: Job) -> None:
        if not self.cancelled():
            try:
                job.outcome = hash_checked(
                    job.path,
                    job.st,
                    self.algorithm,
                    self.cancelled,
                    self.throttle,
                    same_as=job.same_as,
                )
            except BaseException as exc:  # raised again on the scanning thread, by wait()
                job.failure = exc
        self._done.put(job)

    def _work(self) -> None:
        while (job := self._todo.get()) is not None:
            self._do(job)

    def wait(self) -> None:
        """Until every submitted file is hashed; raises what a worker raised, and ``Stopped``
        (within STOP_POLL) when ``stop`` is set."""
        for _ in self.jobs:
            while True:
                try:
                    job = self._done.get(timeout=STOP_POLL)
                    break
                except queue.Empty:
                    if self.cancelled():
                        raise Stopped from None
            if job.failure is not None:
                raise job.failure
            if job.outcome is None:  # skipped: a stop came first
                raise Stopped

    def close(self) -> None:
        """Stop every worker (a file being hashed is left within one chunk) and join it, waiting
        JOIN_TIMEOUT in all: a worker stuck in a read that never returns is left behind."""
        self._abort.set()
        for _ in self._threads:
            self._todo.put(None)
        # One deadline for all of them: several workers stuck on the same dead share must not
        # multiply the wait.
        deadline = time.monotonic() + JOIN_TIMEOUT
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning(
                    "%s did not stop within %g s (a read stuck on an unreachable disk?); "
                    "leaving it behind",
                    thread.name,
                    JOIN_TIMEOUT,
                )
        self._threads.clear()
