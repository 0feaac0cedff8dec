"""Saved copies: what each watched folder refers to, recording the copies of a baseline within the
folder's quota, pruning what nothing needs, turning copies on and off, and their status."""

from __future__ import annotations

import errno
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fim_tray import logs
from fim_tray.app import fileops
from fim_tray.app.copy_policy import CopySettings
from fim_tray.errors import FimError
from fim_tray.models import Entry, Folder, Problem
from fim_tray.scan.hashing import ALGORITHMS
from fim_tray.store.config import Config
from fim_tray.store.copies import Blob, CopyStore, digest_ok
from fim_tray.store.state import Store

log = logs.getLogger(__name__)

HEADER_ROOM = 64  # a copy's header: what a raw copy takes beyond the file's own size


@dataclass
class References:
    """Which digests each watched folder refers to, by folder path.

    ``baseline`` holds the digests of baselines with copies on; ``history`` those of changes
    in the history of such folders and of every "restored" event (the content a restore
    replaced). ``undo`` holds the content each restore replaced, which its history line promises
    ``restore --undo`` can put back: kept as long as that line is, outside every quota.
    ``unknown`` names folders whose baseline could not be read: nothing may be deleted while it
    is not known what they need.
    """

    baseline: dict[str, set[str]] = field(default_factory=dict)
    history: dict[str, set[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    undo: set[str] = field(default_factory=set)

    def of(self, folder: str) -> set[str]:
        return self.baseline.get(folder, set()) | self.history.get(folder, set())

    def other_baselines(self, folder: str) -> set[str]:
        found: set[str] = set()
        for path, refs in self.baseline.items():
            if path != folder:
                found |= refs
        return found

    def all(self) -> set[str]:
        found: set[str] = set(self.undo)
        for refs in (*self.baseline.values(), *self.history.values()):
            found |= refs
        return found


def history_digests(event: Mapping[str, Any], algorithm: str) -> set[str]:
    """The digests an event refers to (only well-formed ones: the history is not signed)."""
    found: list[object] = [event.get("previous_digest")]
    for side in (event.get("before"), event.get("after")):
        if isinstance(side, dict):
            found.append(side.get("digest"))
    return {d for d in found if isinstance(d, str) and digest_ok(d, algorithm)}


@dataclass(frozen=True)
class CopyReport:
    """What recording the copies of one baseline did."""

    stored: int = 0  # copies written now
    stored_bytes: int = 0
    present: int = 0  # already kept
    secret: int = 0
    too_big: int = 0
    over_quota: int = 0
    problems: tuple[Problem, ...] = ()  # changed since it was hashed, or unreadable


def _wanted(
    folder: Folder, entries: Mapping[str, Entry], settings: CopySettings
) -> tuple[dict[str, tuple[str, int]], int, int]:
    """digest -> (one path with it, size), and the counts of secret and too-big files."""
    wanted: dict[str, tuple[str, int]] = {}
    secret = too_big = 0
    for rel, entry in sorted(entries.items()):
        if entry.type != "file" or entry.digest is None or entry.error is not None:
            continue
        if settings.secret(rel, folder.path) is not None:
            secret += 1
        elif entry.size > settings.max_file_bytes:
            too_big += 1
        else:
            wanted.setdefault(entry.digest, (rel, entry.size))
    return wanted, secret, too_big


def copy_files(
    copy_store: CopyStore,
    folder: Folder,
    algorithm: str,
    entries: Mapping[str, Entry],
    settings: CopySettings,
    refs: References,
) -> CopyReport:
    """Store a copy of every file of ``entries`` the policy allows, read safely and verified
    against its recorded digest (a file changed since it was hashed is skipped and reported).

    The quota: a new copy that does not fit first pushes out the folder's oldest copies that
    its baseline no longer needs (kept only for the history); if that is not enough it is
    skipped, so a baseline's copies never push out each other.
    """
    wanted, secret, too_big = _wanted(folder, entries, settings)
    on_disk = {b.digest: b for b in copy_store.blobs()}
    pinned = refs.undo - set(wanted)  # promised to an undo: outside the quota, never evicted
    mine = {
        d: on_disk[d]
        for d in refs.of(folder.path) | set(wanted)
        if d in on_disk and d not in pinned
    }
    used = sum(b.size for b in mine.values())
    others = refs.other_baselines(folder.path)
    evictable = sorted(
        (b for d, b in mine.items() if d not in wanted and d not in others),
        key=lambda b: b.mtime,
    )
    present = stored = stored_bytes = over_quota = 0
    problems: list[Problem] = []
    for digest, (rel, size) in wanted.items():
        blob = on_disk.get(digest)
        if blob is not None and copy_store.intact(blob.path, blob.algorithm):
            present += 1
            continue
        if blob is not None:  # damaged: written again below (put checks it fully)
            used -= blob.size
        while used + size + HEADER_ROOM > settings.quota_bytes and evictable and not refs.unknown:
            oldest = evictable.pop(0)
            copy_store.remove(oldest)
            used -= oldest.size
        if used + size + HEADER_ROOM > settings.quota_bytes:
            over_quota += 1
            continue
        try:
            with fileops.parent_dir(folder.path, rel) as (dir_fd, name):
                data = fileops.read_regular(name, settings.max_file_bytes, dir_fd=dir_fd)
        except fileops.TooBig:
            too_big += 1
            continue
        except (OSError, fileops.NotAFolder) as exc:
            problems.append(Problem(rel, f"no copy kept: {_why(exc)}"))
            continue
        try:
            written = copy_store.put(data, digest, algorithm)
        except ValueError:
            problems.append(Problem(rel, "no copy kept: it changed after it was hashed"))
            continue
        stored += 1
        stored_bytes += written
        used += written
    copy_store.sync()
    return CopyReport(stored, stored_bytes, present, secret, too_big, over_quota, tuple(problems))


def _why(exc: Exception) -> str:
    if isinstance(exc, fileops.NotAFolder):
        return exc.message
    if isinstance(exc, FileNotFoundError):
        return "it vanished"
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
        return "it was replaced by a link (not followed)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


@dataclass(frozen=True)
class PruneReport:
    """What pruning removed and what the store holds afterwards."""

    removed: int = 0
    removed_bytes: int = 0
    count: int = 0
    bytes: int = 0
    note: str | None = None  # why nothing was removed, when something blocked it


def drop_unneeded(
    copy_store: CopyStore, refs: References, quotas: Mapping[str, int]
) -> PruneReport:
    """Remove copies nothing refers to, then bring each folder (``quotas``: path -> bytes)
    under its quota, copies kept only for the history first and oldest first."""
    blobs = copy_store.blobs()
    if refs.unknown:
        names = ", ".join(refs.unknown)
        return PruneReport(
            0, 0, len(blobs), sum(b.size for b in blobs),
            note=f"nothing was removed: the baseline of {names} cannot be read, so it is not "
            "known which copies it needs",
        )  # fmt: skip
    copy_store.remove_temporaries()
    needed = refs.all()
    removed: list[Blob] = [
        b for b in blobs if b.digest not in needed or not copy_store.intact(b.path, b.algorithm)
    ]
    gone_now = {id(b) for b in removed}
    kept = {b.digest: b for b in blobs if id(b) not in gone_now}
    for folder, quota in quotas.items():
        removed += _over_quota(folder, quota, kept, refs)
    for blob in removed:
        copy_store.remove(blob)
    gone = {id(b) for b in removed}
    left = [b for b in blobs if id(b) not in gone]
    return PruneReport(
        len(removed), sum(b.size for b in removed), len(left), sum(b.size for b in left)
    )


def _over_quota(folder: str, quota: int, kept: dict[str, Blob], refs: References) -> list[Blob]:
    """Copies to drop so ``folder`` fits its quota (removed from ``kept``); a copy another
    folder's baseline needs is left alone."""
    in_baseline = refs.baseline.get(folder, set())
    mine = sorted(  # an undo's copy is outside the quota: never counted, never dropped
        (kept[d] for d in refs.of(folder) - refs.undo if d in kept),
        key=lambda b: (b.digest in in_baseline, b.mtime),
    )
    used = sum(b.size for b in mine)
    others = refs.other_baselines(folder)
    dropped = []
    for blob in mine:
        if used <= quota:
            break
        if blob.digest in others:
            continue
        dropped.append(kept.pop(blob.digest))
        used -= blob.size
    return dropped


@dataclass(frozen=True)
class FolderCopies:
    """How much of one folder's baseline has copies."""

    folder: Folder
    files: int = 0  # regular files in the baseline
    kept: int = 0
    secret: int = 0
    too_big: int = 0
    used_bytes: int = 0  # on disk, copies the history still needs included


def folder_copies(
    copy_store: CopyStore,
    folder: Folder,
    entries: Mapping[str, Entry],
    settings: CopySettings,
    refs: References,
    blobs: Iterable[Blob],
) -> FolderCopies:
    on_disk = {b.digest: b for b in blobs}
    wanted, secret, too_big = _wanted(folder, entries, settings)
    files = sum(1 for e in entries.values() if e.type == "file")
    kept = sum(
        1
        for rel, e in entries.items()
        if e.type == "file" and e.digest in wanted and e.digest in on_disk
        and settings.secret(rel, folder.path) is None
    )  # fmt: skip
    used = sum(on_disk[d].size for d in refs.of(folder.path) | set(wanted) if d in on_disk)
    return FolderCopies(folder, files, kept, secret, too_big, used)


@dataclass(frozen=True)
class CopiesStatus:
    """The store (where, how many copies, how many bytes), the settings, and each folder."""

    store: Path
    count: int
    bytes: int
    settings: CopySettings
    folders: tuple[FolderCopies, ...]  # the folders with copies on
    errors: tuple[str, ...] = ()  # a folder whose baseline cannot be read, with why


def references(store: Store, config: Config) -> References:
    """What every watched folder still needs: see :class:`References`."""
    refs = References()
    by_name: dict[str, Folder] = {}
    for folder in config.folders:
        by_name[folder.path] = folder  # history lines hold the name (see name_fields)
        if not folder.keep_copies:
            continue
        try:
            entries = store.load_baseline(folder).entries
        except FimError:
            refs.unknown.append(folder.path)
            continue
        refs.baseline[folder.path] = {
            e.digest for e in entries.values() if e.type == "file" and e.digest is not None
        }
    if not store.copies.root.exists():
        return refs  # nothing stored yet: reading the whole history would be wasted
    for event in store.history.read():
        owner = by_name.get(event.folder)
        if owner is None and event.change == "restored":  # a folder no longer watched: the
            # content its restore replaced stays while the line promising --undo does
            digest = event.extra.get("previous_digest")
            if isinstance(digest, str) and any(digest_ok(digest, a) for a in ALGORITHMS):
                refs.undo.add(digest)
            continue
        if owner is None or not (owner.keep_copies or event.change == "restored"):
            continue
        if event.change == "accepted":  # the change itself has its line (or had none to keep)
            continue
        obj = {"before": event.before, "after": event.after, **event.extra}
        refs.history.setdefault(owner.path, set()).update(history_digests(obj, owner.algorithm))
        if event.change == "restored":
            refs.undo |= history_digests(
                {"previous_digest": obj.get("previous_digest")}, owner.algorithm
            )
    return refs


def record(
    store: Store, folder: Folder, algorithm: str, entries: Mapping[str, Entry], config: Config
) -> CopyReport:
    """Copies of a baseline just saved (its digests already refer to them, so a prune
    running meanwhile in another process keeps them)."""
    return copy_files(
        store.copies,
        folder,
        algorithm,
        entries,
        CopySettings.from_config(config),
        references(store, config),
    )


def prune(store: Store) -> PruneReport:
    """Remove the copies nothing needs and keep each folder within its quota."""
    if not store.copies.root.exists():
        return PruneReport()
    with store.locked():  # a restore stores its copy and its event under the lock
        config = store.config()
        settings = CopySettings.from_config(config)
        quotas = {f.path: settings.quota_bytes for f in config.folders if f.keep_copies}
        return drop_unneeded(store.copies, references(store, config), quotas)


def prune_quietly(store: Store) -> None:
    """After an accept or a remove: a failed prune is retried next time, never an error."""
    try:
        report = prune(store)
    except FimError as exc:
        log.warning("could not prune saved copies: %s", exc.message)
        return
    if report.note:
        log.warning("saved copies: %s", report.note)


def set_keep_copies(store: Store, path: str, on: bool) -> tuple[Folder, CopyReport | None]:
    """Turn copies on (the baseline's files that still match it are copied now) or off
    (its copies are pruned)."""
    folder = store.folder(path)
    with store.locked():
        config = store.config()
        folders = tuple(
            f._replace(keep_copies=on) if f.path == folder.path else f for f in config.folders
        )
        config = config._replace(folders=folders)
        store.save_config(config)
    folder = folder._replace(keep_copies=on)
    if not on:
        prune_quietly(store)
        return folder, None
    trusted = store.load_baseline(folder)
    return folder, record(store, folder, trusted.algorithm, trusted.entries, config)


def status(store: Store) -> CopiesStatus:
    """Where the copies are, how many and how big, the settings, and each folder's share."""
    config = store.config()
    settings = CopySettings.from_config(config)
    kept = store.copies
    blobs = kept.blobs()
    refs = references(store, config)
    whole = [b for b in blobs if kept.intact(b.path, b.algorithm)]  # a damaged one is not kept
    folders = []
    errors = []
    for folder in config.folders:
        if not folder.keep_copies:
            continue
        try:
            entries = store.load_baseline(folder).entries
        except FimError as exc:
            errors.append(f"{folder.path}: {exc.message}")
            continue
        folders.append(folder_copies(kept, folder, entries, settings, refs, whole))
    return CopiesStatus(
        kept.root,
        len(blobs),
        sum(b.size for b in blobs),
        settings,
        tuple(folders),
        tuple(errors),
    )
