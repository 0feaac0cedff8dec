"""Accept exactly the changes a person chose into the baseline, and nothing else."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence

from fim_tray.app.check import rescan
from fim_tray.app.selection import is_selected, relative_name
from fim_tray.errors import FimError, NotWatchedError, StorageError
from fim_tray.models import Change, ChangeKey, Folder, FolderReport, Problem
from fim_tray.scan.compare import compare
from fim_tray.store.config import Config
from fim_tray.store.state import Store


def accept(store: Store, path: str | None = None, files: Iterable[str] = ()) -> list[FolderReport]:
    """Take the current state into the baseline: all of it, or only ``files`` (paths
    relative to the folder or absolute, a folder meaning everything under it)."""
    config = store.config()
    folders = (store.folder(path),) if path is not None else config.folders
    wanted = list(files)
    for name in wanted:  # a name must be inside one of the folders, and name something
        where = "any watched folder"
        if len(folders) == 1:
            where = f"the watched folder {folders[0].path}"
        inside = [(f, r) for f in folders if (r := relative_name(f, name)) is not None]
        if not inside or all(r == ".." or r.startswith("../") for _f, r in inside):
            raise NotWatchedError(f"{name} is not inside {where}.")
        if not any(_names_something(store, f, r) for f, r in inside):
            raise FimError(f"no change to accept at {name}", title="Nothing to accept")
    reports = []
    for folder in folders:
        selected = [rel for rel in (relative_name(folder, f) for f in wanted) if rel is not None]
        if wanted and not selected:  # only absolute names, all in other folders
            continue
        reports.append(accept_folder(store, folder, config, _paths_filter(selected)))
    return reports


def accept_changes(store: Store, path: str, keys: Collection[ChangeKey]) -> FolderReport:
    """Accept exactly the changes a person saw, each named by its path and its signature
    (:meth:`Change.key`).

    A file that changed again since it was shown has another signature and stays pending,
    and a signature shown beside another path (a forged history line) accepts nothing, so
    nothing is accepted that the person did not see.
    """
    wanted = set(keys)
    return accept_folder(store, store.folder(path), store.config(), lambda c: c.key() in wanted)


def _names_something(store: Store, folder: Folder, rel: str) -> bool:
    """Whether ``rel`` is in ``folder`` now or in its baseline (a file since removed)."""
    if rel in (".", "") or os.path.lexists(os.path.join(folder.path, rel)):
        return True
    entries = store.load_baseline(folder).entries
    return rel in entries or any(p.startswith(rel + "/") for p in entries)


def accept_folder(
    store: Store, folder: Folder, config: Config, keep: Callable[[Change], bool]
) -> FolderReport:
    """Rescan ``folder`` and move the changes ``keep`` selects into its baseline; the
    report lists the accepted changes."""
    trusted = store.load_baseline(folder)  # a damaged or tampered baseline is never replaced
    result = rescan(folder, config, trusted)
    changes = [c for c in compare(trusted.entries, result.entries, result.unlisted) if keep(c)]
    if not changes:
        return FolderReport(folder, store.clock(), files=len(result.entries))
    now = store.clock()
    with store.locked():
        # The baseline again, under the lock: another accept may have saved it since it
        # was read, and its changes must stay. Only the selected changes are applied.
        trusted = store.load_baseline(folder)
        entries = dict(trusted.entries)
        for change in changes:
            if change.after is None:
                entries.pop(change.path, None)
            else:
                entries[change.path] = change.after
        trusted = trusted._replace(entries=entries, updated=now)
        signed = store.save_baseline(folder, trusted)
        # Still pending: what was announced and not accepted. A change no check has
        # announced yet stays out, so the next check still reports it (and logs it).
        pending_file = store.pending(folder)
        seen = pending_file.signatures()
        still = {
            c.signature(): c.path
            for c in compare(entries, result.entries, result.unlisted)
            if c.signature() in seen
        }
        try:
            pending_file.save(still, now, baseline=signed)
        except StorageError as exc:  # after the commit: the accept stands, say so
            raise StorageError(
                f"The changes were accepted (the new baseline is saved), but the list of "
                f"pending changes could not be updated: {exc.message}"
            ) from exc
    problems: tuple[Problem, ...] = ()
    from fim_tray.app import copies  # only now: a check never loads saved copies

    if folder.keep_copies:
        problems = copies.record(store, folder, trusted.algorithm, entries, config).problems
    copies.prune_quietly(store)
    return FolderReport(
        folder, now, changes=tuple(changes), problems=problems, files=len(result.entries)
    )


def _paths_filter(selected: Sequence[str]) -> Callable[[Change], bool]:
    """Keep every change (nothing selected) or those at or under the selected paths."""
    return lambda change: not selected or is_selected(change.path, selected)
