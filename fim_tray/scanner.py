"""Walks a watched folder without recursion and records every path in it as an ``Entry``."""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

from fim_tray.errors import FolderMissingError, ScanCancelled
from fim_tray.hashing import BUFFER_SIZE, DEFAULT_ALGORITHM, OPEN_FLAGS, hash_fd
from fim_tray.models import Entry, EntryType, Problem, ScanResult
from fim_tray.throttle import Throttle

log = logging.getLogger(__name__)

# Editor swap files, OS litter and office lock files: they change constantly and mean nothing.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim's write test file
    ".DS_Store",
    "._*",  # macOS resource forks on foreign disks
    "Thumbs.db",
    "desktop.ini",
    "~$*",  # Microsoft Office lock files
    ".~lock.*#",  # LibreOffice lock files
    ".goutputstream-*",  # GTK's temporary save files
)

_TYPES: dict[int, EntryType] = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "blockdev",
}
# The file type and permission bits of st_mode, as stat.S_IFMT and stat.S_IMODE take them, without
# a function call for each of 50,000 entries.
_IFMT = 0o170000
_PERMS = 0o7777
_IFREG = stat.S_IFREG
_IFDIR = stat.S_IFDIR
_IFLNK = stat.S_IFLNK

# Files at least this big are hashed on worker threads; smaller ones on the walking thread. hashlib
# and reads release the GIL only for the call itself: for a small file the per-file Python work
# (GIL-bound) dominates and a second thread only adds switching (measured: slower); a big file is
# one long GIL-free stretch per 1 MiB chunk, which another CPU can take.
BIG_FILE = BUFFER_SIZE
DEFAULT_HASH_WORKERS = 4  # a desktop monitor should not take every core; disks rarely feed more
MAX_HASH_WORKERS = 64
STOP_POLL = 0.1  # seconds: how often the walking thread looks at ``stop`` while workers hash

Progress = Callable[[int], None]
# What hashing one file found: its entry (None when it is not recorded), a problem to report,
# and the files and bytes read (a file that changed while it was read is read twice).
_Outcome = tuple[Entry | None, str | None, int, int]


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


class Excluder:
    """Glob patterns: a pattern without ``/`` matches a name at any depth, one with ``/`` the
    path relative to the watched folder. All patterns are compiled into one regular expression."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = list(patterns)  # read twice below: a generator would be empty the second time
        names = [p for p in patterns if "/" not in p]
        paths = [p.strip("/") for p in patterns if "/" in p]
        self._name = self._compile(names)
        self._path = self._compile(paths)

    @staticmethod
    def _compile(patterns: list[str]) -> re.Pattern[str] | None:
        if not patterns:
            return None
        flags = re.IGNORECASE if os.name == "nt" else 0
        return re.compile("|".join(fnmatch.translate(p) for p in patterns), flags)

    def __call__(self, name: str, rel: str) -> bool:
        return bool(
            (self._name is not None and self._name.match(name))
            or (self._path is not None and self._path.match(rel))
        )


def _entry_from_stat(st: os.stat_result, kind: EntryType, **extra: str | None) -> Entry:
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


def _describe(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or exc.__class__.__name__


class _Stopped(Exception):
    """``stop`` was seen set (between folders, between the chunks of a big file, or while the
    workers hash); :meth:`Scanner.run` turns it into ScanCancelled."""


# Passed as the lstat result of a regular file that was not lstat'ed: add and full scans open
# every regular file anyway, and the open file's fstat says all that an lstat would have.
_UNSTATED = os.stat_result((0,) * 10)


def _unreadable(path: str, st: os.stat_result | None, exc: OSError) -> _Outcome:
    """A file recorded as unreadable, with what its lstat says (taken now if it was not)."""
    why = _describe(exc)
    if st is None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None, "vanished during the scan", 0, 0
        except OSError as lstat_exc:
            return None, f"cannot read its details: {_describe(lstat_exc)}", 0, 0
    return _entry_from_stat(st, "file", error=why), f"cannot be read: {why}", 0, 0


def _open_file(
    path: str, st: os.stat_result | None
) -> tuple[int, os.stat_result | None, _Outcome | None]:
    """Open a regular file for hashing: ``(fd, its fstat, None)``, or ``(-1, None, outcome)``
    when it cannot be hashed. ``st`` is its lstat, or None when it was not taken."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        return -1, None, (None, "vanished during the scan", 0, 0)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
            return -1, None, (None, "was replaced during the scan", 0, 0)
        return -1, None, _unreadable(path, st, exc)
    try:
        # Checked on the open file: a FIFO or device swapped in after the listing is never read
        # (O_NONBLOCK let the open return at once).
        before = os.fstat(fd)
    except OSError as exc:
        os.close(fd)
        return -1, None, _unreadable(path, st, exc)
    if not stat.S_ISREG(before.st_mode):
        os.close(fd)
        return -1, None, (None, "was replaced during the scan", 0, 0)
    return fd, before, None


def _hash_open(
    fd: int,
    before: os.stat_result,
    st: os.stat_result,
    algorithm: str,
    cancelled: Callable[[], bool] | None,
    throttle: Throttle | None = None,
) -> _Outcome:
    """Hash a file :func:`_open_file` opened (``before`` is its fstat), and close it. A file
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
                    raise _Stopped
                after = os.fstat(fd)
            except OSError as exc:
                why = _describe(exc)
                return (
                    _entry_from_stat(st, "file", error=why),
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
    )
    return entry, problem, files, nbytes


def _hash_file(
    path: str,
    st: os.stat_result,
    algorithm: str,
    cancelled: Callable[[], bool] | None,
    throttle: Throttle | None = None,
) -> _Outcome:
    """Open, check and hash one regular file that ``lstat`` saw as ``st``.

    It touches no scan state, so a worker thread can run it; the walking thread runs the very
    same code for small files, which keeps parallel and serial scans identical.
    """
    fd, before, failed = _open_file(path, st)
    if failed is not None:
        return failed
    assert before is not None
    return _hash_open(fd, before, st, algorithm, cancelled, throttle)


# Holds a big file's place in the entries while a worker hashes it, so the entries come out in
# the order a serial scan gives; never part of a result.
_PENDING = Entry("file", -1, -1, -1, -1, -1, -1, -1, error="being hashed")


class _Job:
    """One big file for the workers, and where its problem goes among the scan's problems."""

    __slots__ = ("failure", "outcome", "path", "problems_at", "rel", "st")

    def __init__(self, path: str, rel: str, st: os.stat_result, problems_at: int) -> None:
        self.path = path
        self.rel = rel
        self.st = st
        self.problems_at = problems_at
        self.outcome: _Outcome | None = None
        self.failure: BaseException | None = None


class _HashPool:
    """Up to ``size`` threads that hash big files while the walk goes on.

    Threads start only when a big file needs hashing (quick rescans and folders of small files
    start none) and from the scanning thread, so they inherit its priority (the monitor lowers
    it). Each reuses one 1 MiB buffer: memory stays constant whatever the file sizes.
    :meth:`close` ends and joins every thread, so none outlives its scan.
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
        self.jobs: list[_Job] = []
        self._abort = threading.Event()
        self._todo: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def cancelled(self) -> bool:
        return self._abort.is_set() or (self.stop is not None and self.stop.is_set())

    def submit(self, job: _Job) -> None:
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

    def _do(self, job: _Job) -> None:
        if not self.cancelled():
            try:
                job.outcome = _hash_file(
                    job.path, job.st, self.algorithm, self.cancelled, self.throttle
                )
            except BaseException as exc:  # raised again on the scanning thread, by wait()
                job.failure = exc
        self._done.put(job)

    def _work(self) -> None:
        while (job := self._todo.get()) is not None:
            self._do(job)

    def wait(self) -> None:
        """Until every submitted file is hashed; raises what a worker raised, and ``_Stopped``
        (within STOP_POLL) when ``stop`` is set."""
        for _ in self.jobs:
            while True:
                try:
                    job = self._done.get(timeout=STOP_POLL)
                    break
                except queue.Empty:
                    if self.cancelled():
                        raise _Stopped from None
            if job.failure is not None:
                raise job.failure
            if job.outcome is None:  # skipped: a stop came first
                raise _Stopped

    def close(self) -> None:
        """Stop every worker (a file being hashed is left within one chunk) and join it."""
        self._abort.set()
        for _ in self._threads:
            self._todo.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()


@dataclass
class Scanner:
    """One walk of one folder.

    ``previous`` lets a quick rescan reuse the digest of a file whose size, mtime, ctime and inode
    are unchanged; ``full=True`` re-hashes every file. ``stop`` ends the walk early with
    :class:`ScanCancelled`. Files of BIG_FILE bytes or more are hashed by up to ``hash_workers``
    threads (never more than the CPUs) while the walk goes on; the result is the same as a scan
    on one thread, entries, problems and their order included. ``throttle`` caps how fast the
    scan reads (every thread charges the same one); None reads at full speed.
    """

    root: str
    excludes: Iterable[str] = DEFAULT_EXCLUDES
    algorithm: str = DEFAULT_ALGORITHM
    previous: Mapping[str, Entry] | None = None
    full: bool = False
    progress: Progress | None = None
    stop: threading.Event | None = None
    root_dev: int | None = None  # the device the baseline was recorded on, to spot an unmount
    hash_workers: int = DEFAULT_HASH_WORKERS
    throttle: Throttle | None = None  # a cap on reading speed, shared by the hashing threads
    only: Collection[str] | None = None  # relative paths: scan just these (and below folders)
    _entries: dict[str, Entry] = field(default_factory=dict, init=False)
    _problems: list[Problem] = field(default_factory=list, init=False)
    _unlisted: set[str] = field(default_factory=set, init=False)
    _hashed_files: int = field(default=0, init=False)
    _hashed_bytes: int = field(default=0, init=False)
    _pool: _HashPool | None = field(default=None, init=False, repr=False)
    _cancelled: Callable[[], bool] | None = field(default=None, init=False, repr=False)
    _quick: Mapping[str, Entry] | None = field(default=None, init=False, repr=False)

    def run(self) -> ScanResult:
        started = time.monotonic()
        root_dev = self._check_root()
        if self.root_dev is not None and root_dev != self.root_dev:
            raise FolderMissingError(
                f"The watched folder {self.root} is now on a different disk than when its "
                "baseline was recorded. Was its disk unmounted or replaced? Nothing was compared."
            )
        self._cancelled = self.stop.is_set if self.stop is not None else None
        self._quick = None if self.full else self.previous  # the records whose digest may serve
        workers = hash_threads(self.hash_workers)
        pool: _HashPool | None = None
        if workers:
            pool = _HashPool(workers, self.algorithm, self.stop, self.throttle)
        self._pool = pool
        try:
            seen = self._walk()
            if pool is not None:
                pool.wait()
                self._merge(pool.jobs)
        except _Stopped:
            raise ScanCancelled(
                f"The scan of {self.root} was stopped before it finished."
            ) from None
        finally:
            if pool is not None:
                pool.close()
            self._pool = None
        self._check_root(root_dev)
        if self.progress is not None:
            self.progress(seen)
        return ScanResult(
            root_dev=root_dev,
            entries=self._entries,
            problems=tuple(self._problems),
            unlisted=frozenset(self._unlisted),
            hashed_files=self._hashed_files,
            hashed_bytes=self._hashed_bytes,
            seconds=time.monotonic() - started,
        )

    def _walk(self) -> int:
        """Record everything under the root, depth first without recursion; returns the count."""
        excluded = Excluder(self.excludes)
        # The compiled patterns, bound once: this loop runs for every entry of the folder.
        name_match = excluded._name.match if excluded._name is not None else None
        path_match = excluded._path.match if excluded._path is not None else None
        stop, progress, record = self.stop, self.progress, self._record
        if self.only is None or "" in self.only:
            stack: list[tuple[str, str]] = [(self.root, "")]
            seen = 0
        else:
            stack, seen = self._targets(excluded)
        while stack:
            if stop is not None and stop.is_set():
                raise _Stopped
            folder, prefix = stack.pop()
            try:
                with os.scandir(folder) as listing:
                    children = list(listing)
            except FileNotFoundError:
                if prefix:  # the folder went away during the walk: its parent saw it, now gone
                    self._problems.append(Problem(prefix[:-1], "vanished during the scan"))
                    self._entries.pop(prefix[:-1], None)
                continue
            except OSError as exc:
                rel = prefix[:-1] if prefix else "."
                self._problems.append(Problem(rel, f"cannot list folder: {_describe(exc)}"))
                self._unlisted.add(prefix[:-1])
                if prefix and rel in self._entries:
                    self._entries[rel] = replace(self._entries[rel], error=_describe(exc))
                continue
            for child in children:
                name = child.name
                rel = prefix + name
                if (name_match is not None and name_match(name)) or (
                    path_match is not None and path_match(rel)
                ):
                    continue
                if record(child, rel):
                    stack.append((child.path, rel + "/"))
                seen += 1
                if progress is not None and seen % 1000 == 0:
                    progress(seen)
        return seen

    def _targets(self, excluded: Excluder) -> tuple[list[tuple[str, str]], int]:
        """Record each path of ``only`` (what file events said was touched) and return the
        folders among them to walk. A path that is gone is simply not recorded: compared with
        the baseline, it and everything below it are removed."""
        wanted = sorted({p.strip("/") for p in self.only or ()})
        tops = [p for i, p in enumerate(wanted) if not any(_below(p, q) for q in wanted[:i])]
        by_parent: dict[str, set[str]] = {}
        for rel in tops:
            parts = rel.split("/")
            if any(excluded(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts)):
                continue  # an excluded name, or inside an excluded folder
            by_parent.setdefault("/".join(parts[:-1]), set()).add(parts[-1])
        stack: list[tuple[str, str]] = []
        seen = 0
        for parent, names in by_parent.items():
            prefix = parent + "/" if parent else ""
            try:
                with os.scandir(os.path.join(self.root, parent)) as listing:
                    children = [c for c in listing if c.name in names]
            except OSError:
                continue  # the parent is gone or unreadable now: nothing of it to record
            for child in children:
                if self._record(child, prefix + child.name):
                    stack.append((child.path, prefix + child.name + "/"))
                seen += 1
        return stack, seen

    def _check_root(self, expect_dev: int | None = None) -> int:
        """The root must exist and be a folder, before the walk and still after it."""
        try:
            st = os.lstat(self.root)  # a watched folder swapped for a link is not followed
        except OSError as exc:
            raise FolderMissingError(
                f"The watched folder {self.root} cannot be opened ({_describe(exc)}). "
                "Was it moved, deleted or unmounted? Its baseline is kept; reconnect it, or stop "
                "watching it with `fim-tray remove`."
            ) from exc
        if stat.S_ISLNK(st.st_mode):
            raise FolderMissingError(
                f"The watched path {self.root} is no longer a folder but a link to another place; "
                "it was not followed."
            )
        if not stat.S_ISDIR(st.st_mode):
            raise FolderMissingError(f"The watched path {self.root} is no longer a folder.")
        if expect_dev is not None and st.st_dev != expect_dev:
            raise FolderMissingError(f"The watched folder {self.root} changed during the scan.")
        return st.st_dev

    def _record(self, child: os.DirEntry[str], rel: str) -> bool:
        """Record one directory entry; True when it is a folder to descend into."""
        if self._quick is None:
            # Add and full scans open every regular file: its fstat then says what an lstat
            # would, so the lstat is skipped (a sixth of the time of a first baseline). The
            # listing's d_type tells a regular file without a syscall; O_NOFOLLOW and the
            # fstat catch anything swapped in since.
            try:
                regular = child.is_file(follow_symlinks=False)
            except OSError:
                regular = False  # the lstat below says why
            if regular:
                entry = self._file_entry(child.path, rel, _UNSTATED)
                if entry is not None:
                    self._entries[rel] = entry
                return False
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            self._problems.append(Problem(rel, "vanished during the scan"))
            return False
        except OSError as exc:
            self._problems.append(Problem(rel, f"cannot read its details: {_describe(exc)}"))
            return False
        fmt = st.st_mode & _IFMT
        if fmt == _IFREG:
            # A quick rescan: the stat fields are compared with the previous record before any
            # object is built. Same size, mtime, ctime and inode: the content is taken as
            # unchanged (only `check --full` reads it again).
            quick = self._quick
            old = quick.get(rel) if quick is not None else None
            if (
                old is not None
                and old.ino == st.st_ino
                and old.mtime_ns == st.st_mtime_ns
                and old.ctime_ns == st.st_ctime_ns
                and old.size == st.st_size
                and old.type == "file"
                and old.digest is not None
            ):
                mode = st.st_mode & _PERMS
                if (
                    old.mode == mode
                    and old.uid == st.st_uid
                    and old.gid == st.st_gid
                    and old.error is None
                    and old.target is None
                ):
                    self._entries[rel] = old  # the same record: compare skips it at once
                else:
                    self._entries[rel] = Entry(
                        "file",
                        st.st_size,
                        st.st_mtime_ns,
                        st.st_ctime_ns,
                        st.st_ino,
                        mode,
                        st.st_uid,
                        st.st_gid,
                        old.digest,
                    )
                return False
            entry = self._file_entry(child.path, rel, st)
            if entry is not None:
                self._entries[rel] = entry
            return False
        if fmt == _IFLNK:
            try:
                target = os.readlink(child.path)
            except OSError as exc:
                self._entries[rel] = _entry_from_stat(st, "symlink", error=_describe(exc))
                return False
            self._entries[rel] = self._stat_entry(rel, "symlink", st, target)
            return False
        # Folders, FIFOs, sockets and devices are recorded by type and never opened.
        kind = "dir" if fmt == _IFDIR else _TYPES.get(fmt, "other")
        self._entries[rel] = self._stat_entry(rel, kind, st, None)
        return kind == "dir"

    def _stat_entry(
        self, rel: str, kind: EntryType, st: os.stat_result, target: str | None
    ) -> Entry:
        """The entry of a path that is not hashed: the previous record itself when every field
        is the same (fewer objects, and compare sees at once that it did not change)."""
        size = st.st_size if kind == "symlink" else 0
        mode = st.st_mode & _PERMS
        old = self.previous.get(rel) if self.previous is not None else None
        if (
            old is not None
            and old.ino == st.st_ino
            and old.mtime_ns == st.st_mtime_ns
            and old.ctime_ns == st.st_ctime_ns
            and old.type == kind
            and old.size == size
            and old.mode == mode
            and old.uid == st.st_uid
            and old.gid == st.st_gid
            and old.target == target
            and old.digest is None
            and old.error is None
        ):
            return old
        return Entry(
            kind,
            size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
            mode,
            st.st_uid,
            st.st_gid,
            None,
            target,
        )

    def _file_entry(self, path: str, rel: str, st: os.stat_result) -> Entry | None:
        """Hash one regular file: here when it is small, on a worker when it is big (its place
        is held until :meth:`_merge`). None when it is not recorded (vanished, replaced).
        ``st`` is its lstat, or ``_UNSTATED`` when none was taken."""
        pool = self._pool
        if st is _UNSTATED:
            fd, before, failed = _open_file(path, None)
            if failed is not None:
                return self._count(rel, failed)
            assert before is not None
            if pool is None or before.st_size < BIG_FILE:
                outcome = _hash_open(
                    fd, before, before, self.algorithm, self._cancelled, self.throttle
                )
                return self._count(rel, outcome)
            os.close(fd)  # a worker opens it again: cheaper than open files waiting in a queue
            st = before
        elif pool is None or st.st_size < BIG_FILE:
            outcome = _hash_file(path, st, self.algorithm, self._cancelled, self.throttle)
            return self._count(rel, outcome)
        pool.submit(_Job(path, rel, st, len(self._problems)))
        return _PENDING

    def _count(self, rel: str, outcome: _Outcome) -> Entry | None:
        """Take in what hashing one file found; returns its entry."""
        entry, problem, files, nbytes = outcome
        if problem is not None:
            self._problems.append(Problem(rel, problem))
        self._hashed_files += files
        self._hashed_bytes += nbytes
        return entry

    def _merge(self, jobs: list[_Job]) -> None:
        """Put what the workers found where a serial scan would have: each entry in its held
        place, each problem at the position it would have had among the others."""
        for job in reversed(jobs):  # last first, so the earlier jobs' positions still hold
            assert job.outcome is not None  # wait() raised for any job without one
            entry, problem, files, nbytes = job.outcome
            if problem is not None:
                self._problems.insert(job.problems_at, Problem(job.rel, problem))
            self._hashed_files += files
            self._hashed_bytes += nbytes
            if entry is None:
                self._entries.pop(job.rel, None)
            elif self._entries.get(job.rel) is _PENDING:
                self._entries[job.rel] = entry


def _below(path: str, folder: str) -> bool:
    """True when ``path`` is ``folder`` or inside it (relative, ``/``-separated paths)."""
    return path == folder or path.startswith(folder + "/")
