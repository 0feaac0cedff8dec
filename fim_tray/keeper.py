"""The saved-copies side of the service: turning copies on and off, recording the copies of a
baseline, knowing what refers to each copy, pruning, and the store's status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fim_tray import config as config_store
from fim_tray import logs
from fim_tray.config import Config
from fim_tray.copies import (
    CopyReport,
    CopySettings,
    FolderCopies,
    PruneReport,
    References,
    folder_copies,
    history_digests,
    prune,
    record,
)
from fim_tray.errors import FimError
from fim_tray.models import Entry, Folder

if TYPE_CHECKING:  # the service imports this module
    from fim_tray.service import Service

log = logs.getLogger(__name__)


@dataclass(frozen=True)
class CopiesStatus:
    """The store (where, how many copies, how many bytes), the settings, and each folder."""

    store: Path
    count: int
    bytes: int
    settings: CopySettings
    folders: tuple[FolderCopies, ...]  # the folders with copies on
    errors: tuple[str, ...] = ()  # a folder whose baseline cannot be read, with why


class Keeper:
    """Works on the service's state; holds none of its own."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def references(self, config: Config) -> References:
        """What every watched folder still needs: see :class:`References`."""
        refs = References()
        by_name: dict[str, Folder] = {}
        for folder in config.folders:
            by_name[folder.path] = folder  # history lines hold the name (see name_fields)
            if not folder.keep_copies:
                continue
            try:
                entries = self.service.load_baseline(folder).entries
            except FimError:
                refs.unknown.append(folder.path)
                continue
            refs.baseline[folder.path] = {
                e.digest for e in entries.values() if e.type == "file" and e.digest is not None
            }
        if not self.service.snapshots.root.exists():
            return refs  # nothing stored yet: reading the whole history would be wasted
        for event in self.service.history():
            owner = by_name.get(event.folder)
            if owner is None or not (owner.keep_copies or event.change == "restored"):
                continue
            obj = {"before": event.before, "after": event.after, **event.extra}
            refs.history.setdefault(owner.path, set()).update(history_digests(obj, owner.algorithm))
        return refs

    def record(
        self, folder: Folder, algorithm: str, entries: Mapping[str, Entry], config: Config
    ) -> CopyReport:
        """Copies of a baseline just saved (its digests already refer to them, so a prune
        running meanwhile in another process keeps them)."""
        return record(
            self.service.snapshots,
            folder,
            algorithm,
            entries,
            CopySettings.from_config(config),
            self.references(config),
        )

    def prune(self) -> PruneReport:
        """Remove the copies nothing needs and keep each folder within its quota."""
        if not self.service.snapshots.root.exists():
            return PruneReport()
        with self.service._locked():  # a restore stores its copy and its event under the lock
            config = self.service.config()
            settings = CopySettings.from_config(config)
            quotas = {f.path: settings.quota_bytes for f in config.folders if f.keep_copies}
            return prune(self.service.snapshots, self.references(config), quotas)

    def prune_quietly(self) -> None:
        """After an accept or a remove: a failed prune is retried next time, never an error."""
        try:
            report = self.prune()
        except FimError as exc:
            log.warning("could not prune saved copies: %s", exc.message)
            return
        if report.note:
            log.warning("saved copies: %s", report.note)

    def set_keep_copies(self, path: str, on: bool) -> tuple[Folder, CopyReport | None]:
        """Turn copies on (the baseline's files that still match it are copied now) or off
        (its copies are pruned)."""
        folder = self.service.folder(path)
        with self.service._locked():
            config = self.service.config()
            folders = tuple(
                f._replace(keep_copies=on) if f.path == folder.path else f for f in config.folders
            )
            config = config._replace(folders=folders)
            config_store.save(self.service.paths.config_file, config)
        folder = folder._replace(keep_copies=on)
        if not on:
            self.prune_quietly()
            return folder, None
        trusted = self.service.load_baseline(folder)
        return folder, self.record(folder, trusted.algorithm, trusted.entries, config)

    def status(self) -> CopiesStatus:
        config = self.service.config()
        settings = CopySettings.from_config(config)
        store = self.service.snapshots
        blobs = store.blobs()
        refs = self.references(config)
        whole = [b for b in blobs if store.intact(b.path, b.algorithm)]  # a damaged one is not kept
        folders = []
        errors = []
        for folder in config.folders:
            if not folder.keep_copies:
                continue
            try:
                entries = self.service.load_baseline(folder).entries
            except FimError as exc:
                errors.append(f"{folder.path}: {exc.message}")
                continue
            folders.append(folder_copies(store, folder, entries, settings, refs, whole))
        return CopiesStatus(
            store.root,
            len(blobs),
            sum(b.size for b in blobs),
            settings,
            tuple(folders),
            tuple(errors),
        )
