"""Compares a baseline with a fresh scan: added, removed, modified and metadata changes."""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from itertools import compress
from operator import eq, is_, not_

from fim_tray.models import DEVICE_TYPES, Change, Entry, gained_caps, xattr_kinds
from fim_tray.records import Records, unpack

# Folder timestamps and sizes move whenever a child is added or removed; those children are
# reported themselves, so for folders only permissions and ownership count.
_DIR_FIELDS = ("mode", "uid", "gid", "xattrs")
_FILE_FIELDS = ("mode", "uid", "gid", "size", "mtime_ns", "xattrs")
# A device node's size field holds its device number (see Entry.rdev).
_DEVICE_FIELDS = ("mode", "uid", "gid", "rdev", "mtime_ns", "xattrs")
_SET_ID = stat.S_ISUID | stat.S_ISGID


def _under(path: str, folders: Iterable[str]) -> bool:
    return any(folder == "" or path.startswith(folder + "/") for folder in folders)


def compare_entry(path: str, old: Entry, new: Entry) -> Change | None:
    """The change between two records of one path, or None when they agree."""
    if old is new:  # a quick rescan hands back the very record it found unchanged
        return None
    if old.type != new.type:
        return Change("modified", path, old, new, fields=("type",))
    if new.error is not None and old.error is None:
        return Change("unreadable", path, old, new)
    content_changed = (
        old.type == "file"
        and (
            (old.digest != new.digest and new.digest is not None)
            # unreadable now, as it was: a new size still says the content changed
            or (new.digest is None and old.size != new.size)
        )
    ) or (old.type == "symlink" and old.target != new.target)
    # The fields are named one by one only when one differs: most records agree on all.
    names: tuple[str, ...]
    if new.type == "dir":
        same = (
            old.mode == new.mode
            and old.uid == new.uid
            and old.gid == new.gid
            and old.xattrs == new.xattrs
        )
        names = _DIR_FIELDS
    else:
        same = (
            old.mode == new.mode
            and old.uid == new.uid
            and old.gid == new.gid
            and old.size == new.size
            and old.mtime_ns == new.mtime_ns
            and old.xattrs == new.xattrs
        )
        names = _DEVICE_FIELDS if new.type in DEVICE_TYPES else _FILE_FIELDS
    fields = () if same else tuple(n for n in names if getattr(old, n) != getattr(new, n))
    if "xattrs" in fields:  # and which kind: capabilities, ACLs
        fields += xattr_kinds(old.xattrs, new.xattrs)
    if content_changed:
        suspicious = (
            new.type == "file"
            and old.digest is not None  # a file unreadable before had no content to compare
            and old.size == new.size
            and old.mtime_ns == new.mtime_ns
        )
        return Change("modified", path, old, new, fields=fields, suspicious=suspicious)
    if fields:
        # What a program may do as root grew: flagged like content changed in secret.
        gained = bool(new.mode & _SET_ID & ~old.mode) or gained_caps(old.xattrs, new.xattrs)
        return Change("metadata", path, old, new, fields=fields, suspicious=gained)
    return None


def compare(
    baseline: Mapping[str, Entry],
    current: Mapping[str, Entry],
    unlisted: Iterable[str] = (),
) -> list[Change]:
    """Every difference, sorted by path.

    Paths under a folder that could not be listed (``unlisted``) are unknown, not removed: that
    folder is reported once as unreadable instead of every file in it as removed.
    """
    unlisted = tuple(unlisted)
    changes: list[Change] = []
    if isinstance(baseline, Records) and isinstance(current, Records):
        # Packed records: those equal as bytes (in C, by map()) are unchanged, and only the
        # others are unpacked. On 400,000 unchanged files nothing is unpacked at all.
        pairs = list(current.packed_items())
        before = list(map(baseline.record, current))
        same = list(map(eq, before, (record for _, record in pairs)))
        found = same.count(True)  # paths of the baseline seen again: all means none removed
        for (path, record), old_record in compress(
            zip(pairs, before, strict=True), map(not_, same)
        ):
            new = unpack(record)
            if old_record is None:
                changes.append(Change("added", path, None, new))
                continue
            found += 1
            change = compare_entry(path, unpack(old_record), new)
            if change is not None:
                changes.append(change)
    else:
        # The baseline's record of each current path, and whether it is the very record a
        # quick rescan reused (unchanged: nothing to compare). Both in C, by map().
        olds = list(map(baseline.get, current))
        reused = list(map(is_, olds, current.values()))
        found = reused.count(True)
        others = compress(zip(current, current.values(), olds, strict=True), map(not_, reused))
        for path, new, old in others:
            if old is None:
                changes.append(Change("added", path, None, new))
                continue
            found += 1
            change = compare_entry(path, old, new)
            if change is not None:
                changes.append(change)
    if found < len(baseline):
        for path in baseline:
            if path not in current and not (unlisted and _under(path, unlisted)):
                changes.append(Change("removed", path, baseline[path], None))
    changes.sort(key=lambda change: change.path)
    return changes
