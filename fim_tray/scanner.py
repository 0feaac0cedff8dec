"""Walks a watched folder without recursion and records every path in it as an ``Entry``."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import NamedTuple

# The walking thread calls the hashing helpers through the module (hashpool._open_file), not
# through names bound here, so one patch of hashpool reaches both the walk and the workers.
from fim_tray import hashpool, logs
from fim_tray.dirwalk import Dir, Replaced, Todo, list_folder, open_below
from fim_tray.errors import FolderMissingError, ScanCancelled
from fim_tray.hashing import DEFAULT_ALGORITHM

# The `X as X` names are re-exported: configuration, the service and tests take them from here.
from fim_tray.hashpool import BIG_FILE as BIG_FILE
from fim_tray.hashpool import DEFAULT_HASH_WORKERS as DEFAULT_HASH_WORKERS
from fim_tray.hashpool import MAX_HASH_WORKERS as MAX_HASH_WORKERS
from fim_tray.hashpool import (
    _describe,
    _entry_from_stat,
    _HashPool,
    _Job,
    _Outcome,
    _Stopped,
)
from fim_tray.hashpool import cpu_count as cpu_count
from fim_tray.hashpool import hash_threads as hash_threads
from fim_tray.models import Entry, EntryType, Problem, ScanResult
from fim_tray.throttle import Throttle

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

log = logs.getLogger(__name__)

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

Progress = Callable[[int], None]

# Why a folder could not be listed: Unlisted.kind, with the OS's reason in Unlisted.detail.
VANISHED = "vanished during the scan"
REPLACED = "was replaced during the scan"
CANNOT_LIST = "cannot list folder"


class Unlisted(NamedTuple):
    """Why a folder of the walk could not be listed."""

    kind: str
    detail: str | None = None


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


# Passed as the lstat result of a regular file that was not lstat'ed: add and full scans open
# every regular file anyway, and the open file's fstat says all that an lstat would have.
_UNSTATED = os.stat_result((0,) * 10)


# Holds a big file's place in the entries while a worker hashes it, so the entries come out in
# the order a serial scan gives; never part of a result.
_PENDING = Entry("file", -1, -1, -1, -1, -1, -1, -1, error="being hashed")


class Scanner:
    """One walk of one folder.

    ``previous`` lets a quick rescan reuse the digest of a file whose size, mtime, ctime and inode
    are unchanged; ``full=True`` re-hashes every file. ``stop`` ends the walk early with
    :class:`ScanCancelled`. Files of BIG_FILE bytes or more are hashed by up to ``hash_workers``
    threads (never more than the CPUs) while the walk goes on; the result is the same as a scan
    on one thread, entries, problems and their order included. ``throttle`` caps how fast the
    scan reads (every thread charges the same one); None reads at full speed.
    """

    def __init__(
        self,
        root: str,
        excludes: Iterable[str] = DEFAULT_EXCLUDES,
        algorithm: str = DEFAULT_ALGORITHM,
        previous: Mapping[str, Entry] | None = None,
        full: bool = False,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        root_dev: int | None = None,
        hash_workers: int = DEFAULT_HASH_WORKERS,
        throttle: Throttle | None = None,
        only: Collection[str] | None = None,
        processes: bool = False,
    ) -> None:
        self.root = root
        self.excludes = excludes
        self.algorithm = algorithm
        self.previous = previous
        self.full = full
        self.progress = progress
        self.stop = stop
        self.root_dev = root_dev  # the device the baseline was recorded on, to spot an unmount
        self.hash_workers = hash_workers
        self.throttle = throttle  # a cap on reading speed, shared by the hashing threads
        self.only = only  # relative paths: scan just these (and below folders)
        # A first baseline or full re-hash may run on worker processes (fim_tray.procscan);
        # only a caller with a single thread (the command line) asks for it, and only then.
        self.processes = processes
        self._entries: dict[str, Entry] = {}
        self._problems: list[Problem] = []
        self._unlisted: set[str] = set()
        self._hashed_files = 0
        self._hashed_bytes = 0
        self._pool: _HashPool | None = None
        self._pool_size = 0
        self._cancelled: Callable[[], bool] | None = None
        self._quick: Mapping[str, Entry] | None = None  # the records whose digest may serve
        # The folder being listed: its descriptor on POSIX (its entries' ``path`` is then just
        # their name), else None (their ``path`` is the full path).
        self._dir_fd: int | None = None
        self._folder = ""
        self._name_match: Callable[[str], object] | None = None
        self._path_match: Callable[[str], object] | None = None

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
        workers = self._pool_size = hash_threads(self.hash_workers)
        pool: _HashPool | None = None
        try:
            seen = self._walk_on_processes(workers)
            if seen is None:
                if workers:
                    pool = _HashPool(workers, self.algorithm, self.stop, self.throttle)
                self._pool = pool
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
        excluded = self._set_excluder()
        stop = self.stop
        if self.only is None or "" in self.only:
            stack: list[Todo] = [(self.root, "", None)]
            seen = 0
        else:
            stack, seen = self._targets(excluded)
        here: Dir | None = None

        def descend(name: str, rel: str) -> None:
            assert folder is not None
            if here is not None:
                here.refs += 1
            stack.append((os.path.join(folder, name), rel + "/", here))

        folder: str | None = None
        try:
            while stack:
                if stop is not None and stop.is_set():
                    raise _Stopped
                folder, prefix, parent = stack.pop()
                listing = self._list(folder, prefix, parent)
                if isinstance(listing, Unlisted):
                    self._unlistable(prefix, listing)
                    continue
                children, here = listing
                seen = self._record_listing(children, folder, prefix, here, descend, seen)
                if here is not None:
                    here.release()  # the listing's own hold; its subfolders hold it open
                    here = None
        finally:
            # A stop or an error ends the walk early: close every folder still held.
            self._dir_fd = None
            if here is not None:
                here.close()
            for _, _, held in stack:
                if held is not None:
                    held.close()
        return seen

    def _walk_on_processes(self, workers: int) -> int | None:
        """The walk of :func:`fim_tray.procscan.walk`, where it may run: a first baseline or a
        full re-hash of a whole folder at full speed, for a caller that asked for processes.
        None when it may not, or when a worker failed (the walk is then done here)."""
        if not (
            self.processes
            and workers
            and self._quick is None
            and self.only is None
            and self.throttle is None
        ):
            return None
        from fim_tray import procscan

        if not procscan.usable():
            return None
        self._set_excluder()
        try:
            return procscan.walk(self, workers, self.progress)
        except procscan.WorkersFailed as exc:
            log.warning("%s; scanning %s in this process instead", exc, self.root)
            self._entries, self._problems, self._unlisted = {}, [], set()
            self._hashed_files = self._hashed_bytes = 0
            return None

    def _set_excluder(self) -> Excluder:
        excluded = Excluder(self.excludes)
        # The compiled patterns, bound once: they are tried on every entry of the folder.
        self._name_match = excluded._name.match if excluded._name is not None else None
        self._path_match = excluded._path.match if excluded._path is not None else None
        return excluded

    def _list(
        self, folder: str, prefix: str, parent: Dir | None
    ) -> tuple[list[os.DirEntry[str]], Dir | None] | Unlisted:
        """The entries of ``folder`` and the folder held open (see :func:`list_folder`), or
        why it could not be listed."""
        try:
            return list_folder(folder, parent)
        except FileNotFoundError:
            return Unlisted(VANISHED)
        except Replaced:
            return Unlisted(REPLACED)
        except OSError as exc:
            return Unlisted(CANNOT_LIST, _describe(exc))

    def _unlistable(self, prefix: str, why: Unlisted) -> None:
        """Record that the folder ``prefix`` could not be listed, as the walk reaches it."""
        rel = prefix[:-1]
        if why.kind == VANISHED:
            if prefix:  # the folder went away during the walk: its parent saw it
                self._problems.append(Problem(rel, VANISHED))
                self._entries.pop(rel, None)
        elif why.kind == REPLACED:
            # A link put in the folder's place since its parent was listed: not followed, and
            # not recorded, as a file swapped for a link is not.
            self._problems.append(Problem(rel, REPLACED))
            self._entries.pop(rel, None)
        else:
            self._problems.append(Problem(rel or ".", f"cannot list folder: {why.detail}"))
            self._unlisted.add(rel)
            if prefix and rel in self._entries:
                self._entries[rel] = self._entries[rel]._replace(error=why.detail)

    def _record_listing(
        self,
        children: list[os.DirEntry[str]],
        folder: str,
        prefix: str,
        here: Dir | None,
        descend: Callable[[str, str], None],
        seen: int,
    ) -> int:
        """Record the entries of one listed folder, calling ``descend(name, rel)`` for each
        subfolder to walk; returns ``seen`` plus the entries recorded."""
        name_match, path_match = self._name_match, self._path_match
        progress, record = self.progress, self._record
        self._dir_fd = here.fd if here is not None else None
        self._folder = folder
        try:
            for child in children:
                name = child.name
                rel = prefix + name
                if (name_match is not None and name_match(name)) or (
                    path_match is not None and path_match(rel)
                ):
                    continue
                if record(child, rel):
                    descend(name, rel)
                seen += 1
                if progress is not None and seen % 1000 == 0:
                    progress(seen)
        finally:
            self._dir_fd = None
        return seen

    def _targets(self, excluded: Excluder) -> tuple[list[Todo], int]:
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
        stack: list[Todo] = []
        seen = 0
        try:
            for parent, names in by_parent.items():
                prefix = parent + "/" if parent else ""
                folder = os.path.join(self.root, parent) if parent else self.root
                try:
                    listing, here = list_folder(folder, open_below(self.root, parent))
                except OSError:
                    continue  # the parent is gone or unreadable now: nothing of it to record
                self._dir_fd = here.fd if here is not None else None
                self._folder = folder
                try:
                    for child in listing:
                        if child.name not in names:
                            continue
                        if self._record(child, prefix + child.name):
                            if here is not None:
                                here.refs += 1
                            stack.append(
                                (os.path.join(folder, child.name), prefix + child.name + "/", here)
                            )
                        seen += 1
                finally:
                    self._dir_fd = None
                    if here is not None:
                        here.release()
        except BaseException:
            for _, _, held in stack:
                if held is not None:
                    held.close()
            raise
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
                self._entries[rel] = self._stat_entry(rel, "file", st, None, old.digest)
                return False
            entry = self._file_entry(child.path, rel, st)
            if entry is not None:
                self._entries[rel] = entry
            return False
        if fmt == _IFLNK:
            try:
                target = os.readlink(child.path, dir_fd=self._dir_fd)
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
        self,
        rel: str,
        kind: EntryType,
        st: os.stat_result,
        target: str | None,
        digest: str | None = None,
    ) -> Entry:
        """The entry of a path not hashed now (``digest`` carries a file's unchanged hash on a
        quick rescan): the previous record itself when every field is the same (fewer objects,
        and compare sees at once that it did not change)."""
        size = st.st_size if kind in ("file", "symlink") else 0
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
            and old.digest == digest
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
            digest,
            target,
        )

    def _file_entry(self, name: str, rel: str, st: os.stat_result) -> Entry | None:
        """Hash one regular file (``name`` is its listing's ``path``: its name in the folder
        held open where there is one, else its full path): here when it is small, on a worker
        when it is big (its place is held until :meth:`_merge`). None when it is not recorded
        (vanished, replaced). ``st`` is its lstat, or ``_UNSTATED`` when none was taken."""
        pool = self._pool
        dir_fd = self._dir_fd
        if st is _UNSTATED:
            fd, before, failed = hashpool._open_file(name, None, dir_fd)
            if failed is not None:
                return self._count(rel, failed)
            assert before is not None
            if pool is None or before.st_size < BIG_FILE:
                outcome = hashpool._hash_open(
                    fd, before, before, self.algorithm, self._cancelled, self.throttle
                )
                return self._count(rel, outcome)
            os.close(fd)  # a worker opens it again: cheaper than open files waiting in a queue
            st = before
        elif pool is None or st.st_size < BIG_FILE:
            outcome = hashpool._hash_file(
                name, st, self.algorithm, self._cancelled, self.throttle, dir_fd
            )
            return self._count(rel, outcome)
        # A worker opens it later by full path, when the folder's descriptor may be closed: it
        # reads it only if it is still the very file seen here (a folder on the way may have
        # been swapped for a link meanwhile).
        path, same_as = (name, None) if dir_fd is None else (os.path.join(self._folder, name), st)
        pool.submit(_Job(path, rel, st, len(self._problems), same_as))
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
