"""Frozen value objects shared by every layer: file entries, changes, scan and check results.

They are named tuples rather than dataclasses: a no-change ``check`` of a few files is mostly
start-up, and making the engine's dataclasses (with the import of ``dataclasses``, which brings
``inspect``, ``ast`` and ``dis``) took a third of it. A named tuple is made in a tenth of the
time, is as immutable, and builds 50,000 entries from columns in C.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

EntryType = Literal["file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev", "other"]
ChangeKind = Literal["added", "removed", "modified", "metadata", "unreadable"]


class Entry(NamedTuple):
    """What the baseline knows of one path inside a watched folder.

    ``digest`` is set for readable regular files only; ``target`` for symlinks (never followed);
    ``error`` says why a file or folder could not be read (its content is then unknown).
    ``size`` is 0 for folders and the like; for a device node, which has no size, it holds the
    device number (``st_rdev``, see :attr:`rdev`), so a swapped device is a change.
    ``xattrs`` are its extended attributes as ``scan/xattrs.py`` keeps them (None: none).
    """

    type: EntryType
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    mode: int
    uid: int
    gid: int
    digest: str | None = None
    target: str | None = None
    error: str | None = None
    xattrs: str | None = None

    @property
    def rdev(self) -> int | None:
        """A device node's device number (kept in ``size``); None for anything else."""
        return self.size if self.type in DEVICE_TYPES else None


DEVICE_TYPES = frozenset({"chardev", "blockdev"})
ENTRY_FIELDS: tuple[str, ...] = Entry._fields
_new = tuple.__new__  # an Entry from an iterable of its fields, in C (no check of their count)


def entries_from_columns(paths: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[Entry]:
    """The entries whose fields are ``columns`` (one per ENTRY_FIELDS, each as long as
    ``paths``), built in bulk for the 50,000 of a baseline or a scan; ValueError when a column
    is missing or of the wrong length (zip() would stop at the shortest)."""
    count = len(paths)
    if len(columns) != len(ENTRY_FIELDS) or any(len(column) != count for column in columns):
        raise ValueError("entry columns of the wrong number or length")
    entries: list[Entry] = list(map(_new, repeat(Entry, count), zip(*columns, strict=True)))
    return entries


class Problem(NamedTuple):
    """Something a scan could not do for one path; the scan went on without it."""

    path: str
    message: str


class ScanResult(NamedTuple):
    """Everything one walk of a watched folder saw."""

    entries: Mapping[str, Entry]  # a Records (fim_tray.records), packed
    problems: tuple[Problem, ...] = ()
    unlisted: frozenset[str] = frozenset()  # folders whose content could not be listed
    hashed_files: int = 0
    hashed_bytes: int = 0
    seconds: float = 0.0
    root_dev: int | None = None
    # every entry seen: those in ``entries``, and those a check found as its baseline had
    # them and did not keep (see Scanner's ``consume``); -1 when not counted
    found: int = -1

    @property
    def files(self) -> int:
        """How many entries the walk saw."""
        return self.found if self.found >= 0 else len(self.entries)


# A path file events name for its own entry only, not for what is under it: a folder whose
# listing changed (each name added or removed in it has an event of its own).
ITSELF = "/."


def split_scope(paths: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The paths file events named, relative: (those to rescan with all that is under them,
    those whose own entry alone is to be read again; see ITSELF)."""
    whole: set[str] = set()
    itself: set[str] = set()
    for path in paths:
        if path.endswith(ITSELF):
            itself.add(path[: -len(ITSELF)].strip("/"))
        else:
            whole.add(path.strip("/"))
    return frozenset(whole), frozenset(itself - whole)


ChangeKey = tuple[str, str]  # (path, Change.signature()): see Change.key


class Change(NamedTuple):
    """One difference between a baseline and the folder as it is now.

    ``fields`` names what differs for ``metadata`` changes (mode, uid, gid, mtime, ...).
    ``suspicious`` marks content that changed while size and mtime stayed the same: the sign of
    tampering with the timestamp put back, or of silent corruption.
    """

    kind: ChangeKind
    path: str
    before: Entry | None
    after: Entry | None
    fields: tuple[str, ...] = ()
    suspicious: bool = False

    def signature(self) -> str:
        """A stable key for "this exact change", used to tell new changes from pending ones.

        The fields are encoded without ambiguity (the ``repr`` of a tuple quotes and escapes
        every string), so no name or link target, whatever ``|`` or quotes it holds, can make
        two different changes share a signature."""
        after = self.after
        state = (
            None
            if after is None
            else (
                after.type, after.digest, after.target, after.mode, after.uid, after.gid,
                after.size, after.mtime_ns, after.error, after.xattrs,
            )
        )  # fmt: skip
        text = repr((self.kind, self.path, state))  # ASCII-safe: surrogates come out escaped
        return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:32]

    def key(self) -> ChangeKey:
        """The change as a person saw it: its path and its signature. An accept names both, so
        a window that showed one path can never accept another's change."""
        return (self.path, self.signature())


class Folder(NamedTuple):
    """A watched folder as the configuration holds it."""

    path: str
    id: str
    algorithm: str = "sha256"
    excludes: tuple[str, ...] = ()
    keep_copies: bool = False  # opt-in: store file contents so changes can be diffed and restored
    notify: bool = True  # the tray's notifications for its changes (off: the icon and menu only)


class Writer(NamedTuple):
    """A process of this user that had a file open for writing: "gedit (pid 4321)"."""

    name: str
    pid: int

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


class FolderReport(NamedTuple):
    """The outcome of checking one watched folder."""

    folder: Folder
    time: datetime
    changes: tuple[Change, ...] = ()
    new: tuple[Change, ...] = ()  # the changes not reported by an earlier check
    problems: tuple[Problem, ...] = ()
    error: str | None = None
    files: int = 0
    seconds: float = 0.0
    pending: int | None = None  # changes pending in the whole folder, when ``changes`` is not
    # path -> a process that had the file open for writing when its file event arrived (a
    # hint, never a claim; see platform/writers.py)
    hints: Mapping[str, Writer] = MappingProxyType({})
    # the changes were found but could not be recorded (a full or read-only data folder):
    # reported all the same, with this beside them
    warning: str | None = None
    missing: bool = False  # ``error`` says the folder itself is gone, unmounted or replaced


class Event(NamedTuple):
    """One line of the change history."""

    id: str
    time: datetime
    folder: str
    path: str
    change: str
    suspicious: bool = False
    fields: tuple[str, ...] = ()
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    signature: str | None = None  # of the change as detected: see Change.signature
    extra: Mapping[str, object] = MappingProxyType({})
    verified: bool = False  # its line's MAC holds: written by this install, unedited


# -- extended attributes as an entry keeps them (read by scan/xattrs.py) ------------------------

CAPS = "security.capability"
ACLS = ("system.posix_acl_access", "system.posix_acl_default")


def escape_xattr_name(name: str) -> str:
    """A name that cannot break the kept string's lines and ``=``, nor its JSON: ``%``, ``=``,
    a newline and each byte that is not UTF-8 (read as a surrogate) written as ``%XX``."""
    name = name.replace("%", "%25").replace("=", "%3D").replace("\n", "%0A")
    return "".join(f"%{ord(c) - 0xDC00:02X}" if "\udc80" <= c <= "\udcff" else c for c in name)


def _unescape(name: str) -> str:
    """The name as read (bytes that are not UTF-8 back as surrogates)."""
    parts = name.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        code = int(part[:2], 16) if len(part) >= 2 and _is_hex(part[:2]) else None
        if code is None:
            out.append("%" + part)
        elif code >= 0x80:
            out.append(chr(0xDC00 + code) + part[2:])
        else:
            out.append(chr(code) + part[2:])
    return "".join(out)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def xattr_map(kept: str | None) -> dict[str, str]:
    """The ``{name: summary}`` of a kept string."""
    if not kept:
        return {}
    found = {}
    for line in kept.split("\n"):
        name, _, value = line.partition("=")
        found[_unescape(name)] = value
    return found


def xattr_kinds(before: str | None, after: str | None) -> tuple[str, ...]:
    """What kind of attribute differs, beyond ``xattrs``: ``caps`` and ``acl``."""
    old, new = xattr_map(before), xattr_map(after)
    found = []
    if old.get(CAPS) != new.get(CAPS):
        found.append("caps")
    if any(old.get(name) != new.get(name) for name in ACLS):
        found.append("acl")
    return tuple(found)


def gained_caps(before: str | None, after: str | None) -> bool:
    """A capability set that appeared or changed: what a file may do as root grew, or may have."""
    new = xattr_map(after).get(CAPS)
    return new is not None and new != xattr_map(before).get(CAPS)
