"""One folder listed and recorded as entries and problems: the walk on one thread and the worker
processes both record through a :class:`Recorder`, so their findings are the same."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Container, Mapping
from typing import NamedTuple

from fim_tray.models import DEVICE_TYPES, Entry, EntryType, Problem
from fim_tray.records import Records, alike, is_dir, pack, records_of, same_details, stat_key
from fim_tray.scan import hashpool, xattrs
from fim_tray.scan.dirwalk import Dir, Replaced, list_folder
from fim_tray.scan.excludes import Excluder
from fim_tray.scan.hashpool import BIG_FILE, HashPool, Job, Outcome, describe_error
from fim_tray.scan.throttle import Throttle

Progress = Callable[[int], None]

# Why a folder could not be listed: Unlisted.kind, with the OS's reason in Unlisted.detail.
VANISHED = "vanished during the scan"
REPLACED = "was replaced during the scan"
CANNOT_LIST = "cannot list folder"

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

# Passed as the lstat result of a regular file that was not lstat'ed: add and full scans open
# every regular file anyway, and the open file's fstat says all that an lstat would have.
_UNSTATED = os.stat_result((0,) * 10)

# Holds a big file's place in the entries while a worker hashes it, so the entries come out in
# the order a serial scan gives; never part of a result.
_PENDING = Entry("file", -1, -1, -1, -1, -1, -1, -1, error="being hashed")
_PENDING_RECORD = pack(_PENDING)

Listing = tuple[list[os.DirEntry[str]], Dir | None]


class Unlisted(NamedTuple):
    """Why a folder of the walk could not be listed."""

    kind: str
    detail: str | None = None


def list_dir(folder: str, parent: Dir | None) -> Listing | Unlisted:
    """The entries of ``folder`` and the folder held open (see :func:`list_folder`), or why it
    could not be listed."""
    try:
        return list_folder(folder, parent)
    except FileNotFoundError:
        return Unlisted(VANISHED)
    except Replaced:
        return Unlisted(REPLACED)
    except OSError as exc:
        return Unlisted(CANNOT_LIST, describe_error(exc))


class Recorder:
    """What a scan has found (``entries``, ``problems``, the ``unlisted`` folders, the files and
    bytes hashed) and how each listed folder is recorded into it.

    ``previous`` lets a quick rescan reuse the digest of a file whose size, mtime, ctime and inode
    are unchanged (``full`` re-hashes every file). Files of BIG_FILE bytes or more go to ``pool``
    when there is one; :meth:`merge` puts what it found in their places.
    """

    def __init__(
        self,
        excluder: Excluder,
        algorithm: str,
        *,
        previous: Mapping[str, Entry] | None = None,
        full: bool = False,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
        throttle: Throttle | None = None,
        pool: HashPool | None = None,
        consume: bool = False,
    ) -> None:
        self.excluder = excluder
        self.algorithm = algorithm
        self.previous = previous
        self.full = full
        self.progress = progress
        self.cancelled = cancelled
        self.throttle = throttle
        self.pool = pool
        self.entries = Records()
        self.problems: list[Problem] = []
        self.unlisted: set[str] = set()
        self.hashed_files = 0
        self.hashed_bytes = 0
        packed = None if previous is None else records_of(previous)  # a test may give a dict
        self._previous = packed
        # The records whose digest may serve, packed: compared as bytes with what is found.
        self._quick = None if full else packed
        # ``consume``: what is found exactly as ``previous`` has it is not kept in ``entries``
        # but taken out of ``previous`` (counted in ``unchanged``). A check then holds the
        # baseline and what changed, never a second copy of the tree, and compares what is
        # left of each. Folders are always kept (a folder that then cannot be listed is
        # marked in ``entries``).
        self.consume = consume
        self._against = packed if consume else None
        self.unchanged = 0
        # The folder being listed: its descriptor on POSIX (its entries' ``path`` is then just
        # their name), else None (their ``path`` is the full path).
        self._dir_fd: int | None = None
        self._folder = ""

    def fresh(
        self, pool: HashPool | None, *, worker: bool = False, whole: bool = False
    ) -> Recorder:
        """A recorder with the same settings and nothing found yet. ``worker``: for a worker
        process, which reports no progress and has no stop of its own (its parent kills it).
        ``whole``: it keeps all it finds (never ``consume``), for a part of the walk that is
        put into this recorder later, which consumes it then."""
        return type(self)(
            self.excluder,
            self.algorithm,
            previous=self.previous,
            full=self.full,
            progress=None if worker else self.progress,
            cancelled=None if worker else self.cancelled,
            throttle=self.throttle,
            pool=pool,
            consume=self.consume and not (worker or whole),
        )

    def unlistable(self, prefix: str, why: Unlisted) -> None:
        """Record that the folder ``prefix`` could not be listed, as the walk reaches it."""
        rel = prefix[:-1]
        if why.kind == VANISHED:
            if prefix:  # the folder went away during the walk: its parent saw it
                self.problems.append(Problem(rel, VANISHED))
                self.entries.pop(rel, None)
        elif why.kind == REPLACED:
            # A link put in the folder's place since its parent was listed: not followed, and
            # not recorded, as a file swapped for a link is not.
            self.problems.append(Problem(rel, REPLACED))
            self.entries.pop(rel, None)
        else:
            self.problems.append(Problem(rel or ".", f"cannot list folder: {why.detail}"))
            self.unlisted.add(rel)
            if prefix and rel in self.entries:
                self.entries[rel] = self.entries[rel]._replace(error=why.detail)

    def record_listing(
        self,
        children: list[os.DirEntry[str]],
        folder: str,
        prefix: str,
        here: Dir | None,
        descend: Callable[[str, str], None],
        seen: int,
        names: Container[str] | None = None,
    ) -> int:
        """Record the entries of one listed folder (only those in ``names``, when given),
        calling ``descend(name, rel)`` for each subfolder to walk; returns ``seen`` plus the
        entries recorded."""
        name_match, path_match = self.excluder.name_match, self.excluder.path_match
        skips = self.excluder.skips_entry
        progress, record = self.progress, self.record_entry
        self._dir_fd = here.fd if here is not None else None
        self._folder = folder
        try:
            for child in children:
                name = child.name
                if names is not None and name not in names:
                    continue
                rel = prefix + name
                if (
                    (name_match is not None and name_match(name))
                    or (path_match is not None and path_match(rel))
                ) and skips(child, rel):
                    continue
                if record(child, rel):
                    descend(name, rel)
                seen += 1
                if progress is not None and seen % 1000 == 0:
                    progress(seen)
        finally:
            self._dir_fd = None
        return seen

    def merge(self, jobs: list[Job]) -> None:
        """Put what the pool found where a serial scan would have: each entry in its held
        place, each problem at the position it would have had among the others."""
        for job in reversed(jobs):  # last first, so the earlier jobs' positions still hold
            assert job.outcome is not None  # wait() raised for any job without one
            entry, problem, files, nbytes = job.outcome
            if problem is not None:
                self.problems.insert(job.problems_at, Problem(job.rel, problem))
            self.hashed_files += files
            self.hashed_bytes += nbytes
            if entry is None:
                self.entries.pop(job.rel, None)
            elif self.entries.record(job.rel) == _PENDING_RECORD:
                record = pack(entry)
                if self._unchanged(job.rel, record):
                    del self.entries[job.rel]
                else:
                    self.entries.put(job.rel, record)  # in its held place

    def keep(self, rel: str, record: bytes) -> None:
        """Keep the packed ``record`` found for ``rel`` (see ``consume``)."""
        if self._unchanged(rel, record):
            return
        self.entries.put(rel, record)

    def _unchanged(self, rel: str, record: bytes) -> bool:
        """Whether ``record`` is as ``previous`` has it for a check that consumes it (at most
        its ctime and inode moved, which no comparison reports): then taken out of it."""
        against = self._against
        if against is None or is_dir(record):
            return False
        old = against.record(rel)
        if old is None or not (old == record or alike(old, record)):
            return False
        del against[rel]
        self.unchanged += 1
        return True

    def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
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
                entry = self.file_entry(child.path, rel, _UNSTATED)
                if entry is not None:
                    self._keep_entry(rel, entry)
                return False
        try:
            st = child.stat(follow_symlinks=False)
        except FileNotFoundError:
            self.problems.append(Problem(rel, "vanished during the scan"))
            return False
        except OSError as exc:
            self.problems.append(Problem(rel, f"cannot read its details: {describe_error(exc)}"))
            return False
        fmt = st.st_mode & _IFMT
        quick = self._quick
        old_record = quick.record(rel) if quick is not None else None
        if old_record is not None and fmt != _IFLNK:
            # A quick rescan: the details found, packed, are compared with the previous record
            # as bytes before any object is built. All the same (for a file: size, mtime, ctime
            # and inode, so the content is taken as unchanged; only `check --full` reads it
            # again): the previous record itself is kept.
            kind = "dir" if fmt == _IFDIR else _TYPES.get(fmt, "other")
            size = (
                st.st_size
                if fmt == _IFREG
                else (st.st_rdev if kind in DEVICE_TYPES else 0)
            )
            key = stat_key(
                size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode & _PERMS,
                st.st_uid, st.st_gid,
            )  # fmt: skip
            if key is not None and same_details(old_record, key, kind, digest=fmt == _IFREG):
                self.keep(rel, old_record)
                return kind == "dir"
        if fmt == _IFREG:
            # Same size, mtime, ctime and inode, some other detail changed (mode, owner): the
            # digest still serves.
            old = quick.get(rel) if quick is not None and old_record is not None else None
            if (
                old is not None
                and old.ino == st.st_ino
                and old.mtime_ns == st.st_mtime_ns
                and old.ctime_ns == st.st_ctime_ns
                and old.size == st.st_size
                and old.type == "file"
                and old.digest is not None
            ):
                entry = self._stat_entry(child.name, rel, "file", st, None, old.digest)
                self._keep_entry(rel, entry)
                return False
            entry = self.file_entry(child.path, rel, st)
            if entry is not None:
                self._keep_entry(rel, entry)
            return False
        if fmt == _IFLNK:
            try:
                target = os.readlink(child.path, dir_fd=self._dir_fd)
            except OSError as exc:
                self._keep_entry(
                    rel, hashpool.entry_from_stat(st, "symlink", error=describe_error(exc))
                )
                return False
            self._keep_entry(rel, self._stat_entry(child.name, rel, "symlink", st, target))
            return False
        # Folders, FIFOs, sockets and devices are recorded by type and never opened.
        kind = "dir" if fmt == _IFDIR else _TYPES.get(fmt, "other")
        self._keep_entry(rel, self._stat_entry(child.name, rel, kind, st, None))
        return kind == "dir"

    def _keep_entry(self, rel: str, entry: Entry) -> None:
        if entry is _PENDING:  # its place held for merge(), which keeps what is found
            self.entries.put(rel, _PENDING_RECORD)
            return
        record = pack(entry)
        previous = self._previous
        if previous is not None:
            old = previous.record(rel)
            if old == record:  # the previous record itself: shared, and seen at once as same
                record = old
        self.keep(rel, record)

    def _stat_entry(
        self,
        name: str,
        rel: str,
        kind: EntryType,
        st: os.stat_result,
        target: str | None,
        digest: str | None = None,
    ) -> Entry:
        """The entry of a path not hashed now (``digest`` carries a file's unchanged hash on a
        quick rescan): the previous record itself when every field is the same (fewer objects,
        and compare sees at once that it did not change)."""
        if kind in ("file", "symlink"):
            size = st.st_size
        else:  # a device node's number takes the place of a size it does not have
            size = st.st_rdev if kind in DEVICE_TYPES else 0
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
        # Extended attributes: read again only where ctime moved (a change to them moves it),
        # or on an add or a full check, which read everything.
        if old is not None and self._quick is not None and old.ctime_ns == st.st_ctime_ns:
            attributes = old.xattrs
        else:
            attributes = xattrs.read(os.path.join(self._folder, name))
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
            None,
            attributes,
        )

    def file_entry(self, name: str, rel: str, st: os.stat_result) -> Entry | None:
        """Hash one regular file (``name`` is its listing's ``path``: its name in the folder
        held open where there is one, else its full path): here when it is small, on the pool
        when it is big (its place is held until :meth:`merge`). None when it is not recorded
        (vanished, replaced). ``st`` is its lstat, or ``_UNSTATED`` when none was taken.

        The hashing helpers are called through the module (``hashpool.open_file``), not names
        bound here, so one patch of hashpool reaches both this thread and the pool."""
        pool = self.pool
        dir_fd = self._dir_fd
        if st is _UNSTATED:
            fd, before, failed = hashpool.open_file(name, None, dir_fd)
            if failed is not None:
                return self._count(rel, failed)
            assert before is not None
            if pool is None or before.st_size < BIG_FILE:
                outcome = hashpool.hash_open(
                    fd, before, before, self.algorithm, self.cancelled, self.throttle
                )
                return self._count(rel, outcome)
            os.close(fd)  # a worker opens it again: cheaper than open files waiting in a queue
            st = before
        elif pool is None or st.st_size < BIG_FILE:
            outcome = hashpool.hash_checked(
                name, st, self.algorithm, self.cancelled, self.throttle, dir_fd
            )
            return self._count(rel, outcome)
        # A worker opens it later by full path, when the folder's descriptor may be closed: it
        # reads it only if it is still the very file seen here (a folder on the way may have
        # been swapped for a link meanwhile).
        path, same_as = (name, None) if dir_fd is None else (os.path.join(self._folder, name), st)
        pool.submit(Job(path, rel, st, len(self.problems), same_as))
        return _PENDING

    def _count(self, rel: str, outcome: Outcome) -> Entry | None:
        """Take in what hashing one file found; returns its entry."""
        entry, problem, files, nbytes = outcome
        if problem is not None:
            self.problems.append(Problem(rel, problem))
        self.hashed_files += files
        self.hashed_bytes += nbytes
        return entry
