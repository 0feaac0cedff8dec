"""What gets a saved copy: the settings, the "no copy" globs, recording copies of a baseline,
the per-folder quota, and pruning copies nothing refers to any more."""

from __future__ import annotations

import errno
import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fim_tray import fileops, logs
from fim_tray.config import Config
from fim_tray.errors import ConfigError
from fim_tray.models import Entry, Folder, Problem
from fim_tray.snapshots import Blob, SnapshotStore, digest_ok

log = logs.getLogger(__name__)

# Secrets never copied: private keys, key stores, password databases and credential files.
DEFAULT_NO_COPY: tuple[str, ...] = (
    "*.key",
    "*.pem",
    "id_*",  # ssh keys: id_rsa, id_ed25519, ...
    ".env",
    ".env.*",
    "*.kdbx",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.gpg",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".ssh",
    ".gnupg",
)
DEFAULT_MAX_FILE_BYTES = 10_000_000  # 10 MB
DEFAULT_QUOTA_BYTES = 1_000_000_000  # 1 GB per watched folder
HEADER_ROOM = 64  # a copy's header: what a raw copy takes beyond the file's own size


@dataclass(frozen=True)
class CopySettings:
    """``no_copy``, ``copy_max_file_bytes`` and ``copy_quota_bytes`` from config.json."""

    no_copy: tuple[str, ...] = DEFAULT_NO_COPY
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    quota_bytes: int = DEFAULT_QUOTA_BYTES

    @classmethod
    def from_config(cls, config: Config, source: str = "config.json") -> CopySettings:
        extra = config.extra
        no_copy = extra.get("no_copy", list(DEFAULT_NO_COPY))
        if not isinstance(no_copy, list) or not all(isinstance(p, str) for p in no_copy):
            raise ConfigError(f"{source}: no_copy must be a list of glob patterns.")
        sizes = []
        for key, default in (
            ("copy_max_file_bytes", DEFAULT_MAX_FILE_BYTES),
            ("copy_quota_bytes", DEFAULT_QUOTA_BYTES),
        ):
            value = extra.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{source}: {key} must be a whole number of bytes.")
            sizes.append(value)
        return cls(tuple(no_copy), sizes[0], sizes[1])

    @cached_property
    def _compiled(self) -> list[tuple[str, re.Pattern[str], bool]]:
        flags = re.IGNORECASE if os.name == "nt" else 0
        return [
            (p, re.compile(fnmatch.translate(p.strip("/")), flags), "/" in p) for p in self.no_copy
        ]

    def secret(self, rel: str) -> str | None:
        """The no-copy pattern ``rel`` or one of its folders matches, or None. As for excludes,
        a pattern without ``/`` matches a name, one with ``/`` a path in the folder."""
        parts = rel.split("/")
        for index, name in enumerate(parts):
            sub = "/".join(parts[: index + 1])
            for pattern, regex, is_path in self._compiled:
                if regex.match(sub if is_path else name):
                    return pattern
        return None

    def why_not(self, folder: Folder, rel: str, entry: Entry) -> str | None:
        """Why this entry has no copy by policy, in words; None when it should have one."""
        if not folder.keep_copies:
            return (
                "copies are off for this folder (turn them on with `fim-tray keep-copies "
                "FOLDER on`; only content recorded afterwards is kept)"
            )
        pattern = self.secret(rel)
        if pattern is not None:
            return f"it matches the no-copy pattern {pattern} (secrets are never copied)"
        if entry.size > self.max_file_bytes:
            return f"it is bigger than the {self.max_file_bytes / 1e6:g} MB limit for copies"
        return None


@dataclass
class References:
    """Which digests each watched folder refers to, by folder path.

    ``baseline`` holds the digests of baselines with copies on; ``history`` those of changes
    in the history of such folders and of every "restored" event (the content a restore
    replaced). ``unknown`` names folders whose baseline could not be read: nothing may be
    deleted while it is not known what they need.
    """

    baseline: dict[str, set[str]] = field(default_factory=dict)
    history: dict[str, set[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def of(self, folder: str) -> set[str]:
        return self.baseline.get(folder, set()) | self.history.get(folder, set())

    def other_baselines(self, folder: str) -> set[str]:
        found: set[str] = set()
        for path, refs in self.baseline.items():
            if path != folder:
                found |= refs
        return found

    def all(self) -> set[str]:
        found: set[str] = set()
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
    present: int = 0  # already in the store
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
        if settings.secret(rel) is not None:
            secret += 1
        elif entry.size > settings.max_file_bytes:
            too_big += 1
        else:
            wanted.setdefault(entry.digest, (rel, entry.size))
    return wanted, secret, too_big


def record(
    store: SnapshotStore,
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
    on_disk = {b.digest: b for b in store.blobs()}
    mine = {d: on_disk[d] for d in refs.of(folder.path) | set(wanted) if d in on_disk}
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
        if blob is not None and store.intact(blob.path, blob.algorithm):
            present += 1
            continue
        if blob is not None:  # damaged: written again below (put checks it fully)
            used -= blob.size
        while used + size + HEADER_ROOM > settings.quota_bytes and evictable and not refs.unknown:
            oldest = evictable.pop(0)
            store.remove(oldest)
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
            written = store.put(data, digest, algorithm)
        except ValueError:
            problems.append(Problem(rel, "no copy kept: it changed after it was hashed"))
            continue
        stored += 1
        stored_bytes += written
        used += written
    store.sync()
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


def prune(store: SnapshotStore, refs: References, quotas: Mapping[str, int]) -> PruneReport:
    """Remove copies nothing refers to, then bring each folder (``quotas``: path -> bytes)
    under its quota, copies kept only for the history first and oldest first."""
    blobs = store.blobs()
    if refs.unknown:
        names = ", ".join(refs.unknown)
        return PruneReport(
            0, 0, len(blobs), sum(b.size for b in blobs),
            note=f"nothing was removed: the baseline of {names} cannot be read, so it is not "
            "known which copies it needs",
        )  # fmt: skip
    store.remove_temporaries()
    needed = refs.all()
    removed: list[Blob] = [
        b for b in blobs if b.digest not in needed or not store.intact(b.path, b.algorithm)
    ]
    gone_now = {id(b) for b in removed}
    kept = {b.digest: b for b in blobs if id(b) not in gone_now}
    for folder, quota in quotas.items():
        removed += _over_quota(folder, quota, kept, refs)
    for blob in removed:
        store.remove(blob)
    gone = {id(b) for b in removed}
    left = [b for b in blobs if id(b) not in gone]
    return PruneReport(
        len(removed), sum(b.size for b in removed), len(left), sum(b.size for b in left)
    )


def _over_quota(folder: str, quota: int, kept: dict[str, Blob], refs: References) -> list[Blob]:
    """Copies to drop so ``folder`` fits its quota (removed from ``kept``); a copy another
    folder's baseline needs is left alone."""
    in_baseline = refs.baseline.get(folder, set())
    mine = sorted(
        (kept[d] for d in refs.of(folder) if d in kept),
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
    store: SnapshotStore,
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
        and settings.secret(rel) is None
    )  # fmt: skip
    used = sum(on_disk[d].size for d in refs.of(folder.path) | set(wanted) if d in on_disk)
    return FolderCopies(folder, files, kept, secret, too_big, used)
