"""Frozen value objects shared by every layer: file entries, changes, scan and check results."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from itertools import repeat
from typing import Any, Literal

EntryType = Literal["file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev", "other"]
ChangeKind = Literal["added", "removed", "modified", "metadata", "unreadable"]


@dataclass(frozen=True, slots=True)
class Entry:
    """What the baseline knows of one path inside a watched folder.

    ``digest`` is set for readable regular files only; ``target`` for symlinks (never followed);
    ``error`` says why a file or folder could not be read (its content is then unknown).
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


ENTRY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Entry))
# Slot descriptors: setting a field through them skips the frozen dataclass's __setattr__, and
# map() over a whole column runs in C: three times faster than Entry(...) per entry.
_SETTERS = tuple(Entry.__dict__[name].__set__ for name in ENTRY_FIELDS)


def entries_from_columns(paths: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[Entry]:
    """The entries whose fields are ``columns`` (one per ENTRY_FIELDS, each as long as
    ``paths``), built in bulk for the 50,000 of a baseline or a scan; ValueError when a column
    is missing or of the wrong length (map() would stop at the shortest, leaving fields unset)."""
    count = len(paths)
    if len(columns) != len(ENTRY_FIELDS) or any(len(column) != count for column in columns):
        raise ValueError("entry columns of the wrong number or length")
    objs = list(map(object.__new__, repeat(Entry, count)))
    for setter, column in zip(_SETTERS, columns, strict=True):
        deque(map(setter, objs, column), maxlen=0)  # runs the map, keeps nothing
    return objs


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a scan could not do for one path; the scan went on without it."""

    path: str
    message: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one walk of a watched folder saw."""

    entries: dict[str, Entry]
    problems: tuple[Problem, ...] = ()
    unlisted: frozenset[str] = frozenset()  # folders whose content could not be listed
    hashed_files: int = 0
    hashed_bytes: int = 0
    seconds: float = 0.0
    root_dev: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
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
        """A stable key for "this exact change", used to tell new changes from pending ones."""
        after = self.after
        state = (
            ""
            if after is None
            else f"{after.type}|{after.digest}|{after.target}|{after.mode}|{after.uid}|"
            f"{after.gid}|{after.size}|{after.mtime_ns}|{after.error}"
        )
        text = f"{self.kind}|{self.path}|{state}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Folder:
    """A watched folder as the configuration holds it."""

    path: str
    id: str
    algorithm: str = "sha256"
    excludes: tuple[str, ...] = ()
    keep_copies: bool = False  # opt-in: store file contents so changes can be diffed and restored


@dataclass(frozen=True, slots=True)
class FolderReport:
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


@dataclass(frozen=True, slots=True)
class Event:
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
    extra: dict[str, object] = field(default_factory=dict)
