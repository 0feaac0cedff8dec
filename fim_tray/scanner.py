"""Walks a watched folder without recursion and records every path in it as an ``Entry``."""

from __future__ import annotations

import errno
import fnmatch
import io
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from fim_tray.errors import FolderMissingError, ScanCancelled
from fim_tray.hashing import DEFAULT_ALGORITHM, OPEN_FLAGS, hash_stream
from fim_tray.models import Entry, EntryType, Problem, ScanResult

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

Progress = Callable[[int], None]


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
        type=kind,
        size=st.st_size if kind in ("file", "symlink") else 0,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        ino=st.st_ino,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        **extra,
    )


def _describe(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or exc.__class__.__name__


@dataclass
class Scanner:
    """One walk of one folder.

    ``previous`` lets a quick rescan reuse the digest of a file whose size, mtime, ctime and inode
    are unchanged; ``full=True`` re-hashes every file. ``lstat`` and ``scandir`` are seams for
    tests; ``stop`` ends the walk early with :class:`ScanCancelled`.
    """

    root: str
    excludes: Iterable[str] = DEFAULT_EXCLUDES
    algorithm: str = DEFAULT_ALGORITHM
    previous: Mapping[str, Entry] | None = None
    full: bool = False
    progress: Progress | None = None
    stop: threading.Event | None = None
    root_dev: int | None = None  # the device the baseline was recorded on, to spot an unmount
    _entries: dict[str, Entry] = field(default_factory=dict, init=False)
    _problems: list[Problem] = field(default_factory=list, init=False)
    _unlisted: set[str] = field(default_factory=set, init=False)
    _hashed_files: int = field(default=0, init=False)
    _hashed_bytes: int = field(default=0, init=False)

    def run(self) -> ScanResult:
        started = time.monotonic()
        root_dev = self._check_root()
        if self.root_dev is not None and root_dev != self.root_dev:
            raise FolderMissingError(
                f"The watched folder {self.root} is now on a different disk than when its "
                "baseline was recorded. Was its disk unmounted or replaced? Nothing was compared."
            )
        excluded = Excluder(self.excludes)
        stack: list[tuple[str, str]] = [(self.root, "")]
        seen = 0
        while stack:
            if self.stop is not None and self.stop.is_set():
                raise ScanCancelled(f"The scan of {self.root} was stopped before it finished.")
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
                if excluded(name, rel):
                    continue
                if self._record(child, rel):
                    stack.append((child.path, rel + "/"))
                seen += 1
                if self.progress is not None and seen % 1000 == 0:
                    self.progress(seen)
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
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            self._problems.append(Problem(rel, "vanished during the scan"))
            return False
        except OSError as exc:
            self._problems.append(Problem(rel, f"cannot read its details: {_describe(exc)}"))
            return False
        kind = _TYPES.get(stat.S_IFMT(st.st_mode), "other")
        if kind == "file":
            entry = self._file_entry(child.path, rel, st)
            if entry is not None:
                self._entries[rel] = entry
            return False
        if kind == "symlink":
            try:
                target: str | None = os.readlink(child.path)
            except OSError as exc:
                self._entries[rel] = _entry_from_stat(st, kind, error=_describe(exc))
                return False
            self._entries[rel] = _entry_from_stat(st, kind, target=target)
            return False
        # Folders, FIFOs, sockets and devices are recorded by type and never opened.
        self._entries[rel] = _entry_from_stat(st, kind)
        return kind == "dir"

    def _file_entry(self, path: str, rel: str, st: os.stat_result) -> Entry | None:
        old = self.previous.get(rel) if self.previous is not None else None
        if (
            not self.full
            and old is not None
            and old.type == "file"
            and old.digest is not None
            and old.same_stat(_entry_from_stat(st, "file"))
        ):
            return _entry_from_stat(st, "file", digest=old.digest)
        try:
            fd = os.open(path, OPEN_FLAGS)
        except FileNotFoundError:
            self._problems.append(Problem(rel, "vanished during the scan"))
            return None
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):
                self._problems.append(Problem(rel, "was replaced during the scan"))
                return None
            self._problems.append(Problem(rel, f"cannot be read: {_describe(exc)}"))
            return _entry_from_stat(st, "file", error=_describe(exc))
        with io.FileIO(fd, "rb", closefd=True) as stream:
            for _attempt in range(2):
                try:
                    before = os.fstat(fd)
                    if not stat.S_ISREG(before.st_mode):
                        self._problems.append(Problem(rel, "was replaced during the scan"))
                        return None
                    os.lseek(fd, 0, os.SEEK_SET)
                    digest = hash_stream(stream, self.algorithm)
                    after = os.fstat(fd)
                except OSError as exc:
                    self._problems.append(Problem(rel, f"cannot be read: {_describe(exc)}"))
                    return _entry_from_stat(st, "file", error=_describe(exc))
                self._hashed_files += 1
                self._hashed_bytes += after.st_size
                if (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
                    break
            else:
                self._problems.append(Problem(rel, "kept changing while it was read"))
        return _entry_from_stat(after, "file", digest=digest)
