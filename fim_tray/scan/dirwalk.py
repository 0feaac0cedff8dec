"""Walking a folder by open folder descriptors (POSIX), so a folder swapped for a link during
a scan is refused rather than followed out of the watched folder; by path elsewhere."""

from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict

# On POSIX the walk holds each folder open and lists, stats and opens what is in it relative
# to that descriptor, with O_NOFOLLOW: a folder swapped for a link between the listing of its
# parent and the descent into it is refused, never followed out of the watched folder. Windows
# cannot list a descriptor and keeps the walk by path.
FD_WALK = (
    os.name == "posix"
    and os.scandir in os.supports_fd
    and os.open in os.supports_dir_fd
    and hasattr(os, "O_DIRECTORY")
)
DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class Replaced(OSError):
    """A folder to descend into is a link now: it is not followed. An OSError, so that where a
    folder that cannot be listed is just skipped (``only``), so is this one."""


class Dir:
    """An open folder, closed when the last of its listing and its subfolders waiting on the
    walk's stack lets go of it: at most one per level of depth is open at a time."""

    __slots__ = ("fd", "refs")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.refs = 1

    def release(self) -> None:
        self.refs -= 1
        if self.refs <= 0:
            self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# A folder still to walk: its full path, its relative path with a trailing "/", and (on POSIX)
# the open folder holding it, None for the root or a folder of ``only``.
Todo = tuple[str, str, "Dir | None"]


def list_folder(folder: str, parent: Dir | None) -> tuple[list[os.DirEntry[str]], Dir | None]:
    """The entries of a folder, and on POSIX the folder held open (its entries' ``path`` is then
    their name). ``parent`` is the open folder holding it, whose hold it takes over."""
    if not FD_WALK:
        with os.scandir(folder) as listing:
            return list(listing), None
    try:
        if parent is None:
            fd = os.open(folder, DIR_FLAGS)  # the root: only its last name is not followed
        else:
            name = os.path.basename(folder)
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
            except OSError as exc:
                # Linux says ENOTDIR for a link (O_DIRECTORY wins over O_NOFOLLOW), others ELOOP;
                # a file put in its place stays "cannot list folder", as before.
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(
                    os.lstat(name, dir_fd=parent.fd).st_mode
                ):
                    raise Replaced from exc
                raise
    finally:
        if parent is not None:
            parent.release()
    try:
        with os.scandir(fd) as listing:
            return list(listing), Dir(fd)
    except BaseException:
        os.close(fd)
        raise


def open_below(root: str, rel: str) -> Dir | None:
    """On POSIX, the open folder that holds the folder ``rel`` of ``root``, reached one name at a
    time without following a link; None for the root itself, or off POSIX."""
    if not FD_WALK or not rel:
        return None
    fd = os.open(root, DIR_FLAGS)
    try:
        for name in rel.split("/")[:-1]:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return Dir(fd)


class Opener:
    """Opens folders of one root by relative path as :func:`open_below` does, but from the
    nearest folder it opened before rather than from the root: a worker that scans a chain of
    folders one by one pays for each name once, not once per folder below it (a chain of
    thousands would otherwise cost the square of its depth). Keeps up to ``keep`` folders open;
    a folder held open is the one that was reached, wherever it is moved since, as in a walk."""

    def __init__(self, root: str, keep: int = 32) -> None:
        self.root = root
        self.keep = keep
        self._open: OrderedDict[str, int] = OrderedDict()  # rel -> fd, the newest last

    def holder(self, rel: str) -> Dir | None:
        """The open folder that holds ``rel`` (its own Dir, to release); None for the root itself
        or off POSIX."""
        if not FD_WALK or not rel:
            return None
        return Dir(os.dup(self._folder(rel.rpartition("/")[0])))

    def _folder(self, rel: str) -> int:
        """A descriptor of the folder ``rel`` ("" for the root), kept in the cache."""
        base = rel
        while base not in self._open and base:
            base = base.rpartition("/")[0]
        if base in self._open:
            self._open.move_to_end(base)
            fd = self._open[base]
        else:
            fd = self._keep("", os.open(self.root, DIR_FLAGS))
        if base == rel:
            return fd
        rest = rel[len(base) + 1 :] if base else rel
        done = base
        for name in rest.split("/"):
            done = f"{done}/{name}" if done else name
            fd = self._keep(done, os.open(name, DIR_FLAGS, dir_fd=fd))
        return fd

    def _keep(self, rel: str, fd: int) -> int:
        self._open[rel] = fd
        while len(self._open) > self.keep:
            _, old = self._open.popitem(last=False)
            os.close(old)
        return fd

    def close(self) -> None:
        while self._open:
            os.close(self._open.popitem()[1])
