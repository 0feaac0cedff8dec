"""Accept exactly the changes a person chose into the baseline, and nothing else."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from fim_tray.app.check import rescan
from fim_tray.app.selection import is_selected, relative_name
from fim_tray.errors import FimError, NotWatchedError, StorageError
from fim_tray.models import Change, ChangeKey, Folder, FolderReport, Problem
from fim_tray.records import Records, records_of
from fim_tray.scan.compare import compare
from fim_tray.store.config import Config
from fim_tray.store.history import change_json, new_event_id
from fim_tray.store.state import Store, load_baseline_file

COMMAND_LINE = "command line"
TRAY = "tray"


def accept(
    store: Store, path: str | None = None, files: Iterable[str] = (), *, by: str = COMMAND_LINE
) -> list[FolderReport]:
    """Take the current state into the baseline: all of it, or only ``files`` (paths
    relative to the folder or absolute, a folder meaning everything under it). Each change
    taken in is recorded in the history; the report's ``new`` lists those no check had
    reported before."""
    config = store.config()
    folders = (store.folder(path),) if path is not None else config.folders
    wanted = list(files)
    if any(not name for name in wanted):  # "" would mean the whole folder: never by accident
        raise FimError(
            "An empty name names no file; nothing was accepted.", title="Nothing to accept"
        )
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
        reports.append(accept_folder(store, folder, config, _paths_filter(selected), by=by))
    return reports


def accept_reported(store: Store, path: str | None = None, *, by: str = TRAY) -> list[FolderReport]:
    """Accept, in one folder or in each, only the changes already reported (announced by a
    notification, or printed by a check); anything newer stays pending, so the next check
    announces it before it can be accepted."""
    config = store.config()
    folders = (store.folder(path),) if path is not None else config.folders
    return [
        accept_folder(store, folder, config, lambda _c: True, by=by, only_reported=True)
        for folder in folders
    ]


def accept_changes(
    store: Store, path: str, keys: Collection[ChangeKey], *, by: str = TRAY
) -> FolderReport:
    """Accept exactly the changes a person saw, each named by its path and its signature
    (:meth:`Change.key`).

    A file that changed again since it was shown has another signature and stays pending,
    and a signature shown beside another path (a forged history line) accepts nothing, so
    nothing is accepted that the person did not see.
    """
    wanted = set(keys)
    folder = store.folder(path)
    return accept_folder(store, folder, store.config(), lambda c: c.key() in wanted, by=by)


def _names_something(store: Store, folder: Folder, rel: str) -> bool:
    """Whether ``rel`` is in ``folder`` now or in its baseline (a file since removed)."""
    if rel in (".", "") or os.path.lexists(os.path.join(folder.path, rel)):
        return True
    entries = store.load_baseline(folder).entries
    return rel in entries or any(p.startswith(rel + "/") for p in entries)


def accept_folder(
    store: Store,
    folder: Folder,
    config: Config,
    keep: Callable[[Change], bool],
    *,
    by: str = COMMAND_LINE,
    only_reported: bool = False,
) -> FolderReport:
    """Rescan ``folder`` and move the changes ``keep`` selects (and, with ``only_reported``,
    that a check has reported) into its baseline, recording each in the history first; the
    report lists the accepted changes, and in ``new`` those never reported."""
    trusted = store.load_baseline(folder)  # a damaged or tampered baseline is never replaced
    # The scan takes what is unchanged out of this copy of the baseline (see check.py): the
    # tree is held once, and the comparison is of what is left of each.
    result = rescan(folder, config, trusted, own=store.own_state_in(folder.path), consume=True)
    found = compare(trusted.entries, result.entries, result.unlisted)
    del trusted
    changes = [c for c in found if keep(c)]
    if not changes:
        return FolderReport(folder, store.clock(), files=result.files)
    now = store.clock()
    committed = False
    entries_if_saved: Records | None = None
    try:
        with store.locked():
            # The baseline again, under the lock: another accept may have saved it since it
            # was read, and its changes must stay. Only the selected changes are applied.
            trusted = store.load_baseline(folder)
            pending_file = store.pending(folder)
            shown = pending_file.changes() or {}  # signature -> path: what was reported
            if only_reported:
                changes = [c for c in changes if shown.get(c.signature()) == c.path]
                if not changes:
                    return FolderReport(folder, now, files=result.files)
            unreported = tuple(c for c in changes if shown.get(c.signature()) != c.path)
            # The history first: a crash before the baseline is saved leaves a line for an
            # accept that did not happen (the next check reports the change again), never a
            # change taken in that no line records. No history, no accept.
            store.history.append_records(
                _accepted_line(folder.path, c, now, by, c not in unreported) for c in changes
            )
            entries = records_of(trusted.entries)  # loaded for this: changed in place
            for change in changes:
                if change.after is None:
                    entries.pop(change.path, None)
                else:
                    entries[change.path] = change.after
            trusted = trusted._replace(entries=entries, updated=now)
            entries_if_saved = entries
            signed = store.save_baseline(folder, trusted)
            committed = True
            # Still pending: what was announced and not accepted. A change no check has
            # announced yet stays out, so the next check still reports it (and logs it).
            taken = {c.signature() for c in changes}
            still = {
                c.signature(): c.path
                for c in found
                if c.signature() in shown and c.signature() not in taken
            }
            try:
                pending_file.save(still, now, baseline=signed)
            except StorageError as exc:  # after the commit: the accept stands, say so
                raise StorageError(
                    f"The changes were accepted (the new baseline is saved), but the list of "
                    f"pending changes could not be updated: {exc.message}"
                ) from exc
    except StorageError as exc:
        if committed:
            raise
        if _taken_in(store, folder, entries_if_saved):  # the baseline was saved, its record not
            raise StorageError(
                f"The changes were accepted (the new baseline is saved), but {exc.message}"
            ) from exc.__cause__
        raise StorageError(f"{exc.message} Nothing was accepted.") from exc.__cause__
    problems: tuple[Problem, ...] = ()
    from fim_tray.app import copies  # only now: a check never loads saved copies

    if folder.keep_copies:
        problems = copies.record(store, folder, trusted.algorithm, entries, config).problems
    copies.prune_quietly(store)
    return FolderReport(
        folder,
        now,
        changes=tuple(changes),
        new=unreported,
        problems=problems,
        files=result.files,
    )


def _accepted_line(
    folder: str, change: Change, when: datetime, by: str, reported: bool
) -> dict[str, Any]:
    """The history line of one change taken in: what it was, who took it in, and whether a
    check had reported it (it carries no signature: nothing accepts it again)."""
    return {
        "id": new_event_id(when),
        **change_json(change, folder, when),
        "change": "accepted",
        "accepted": change.kind,
        "by": by,
        "reported": reported,
    }


def _paths_filter(selected: Sequence[str]) -> Callable[[Change], bool]:
    """Keep every change (nothing selected) or those at or under the selected paths."""
    return lambda change: not selected or is_selected(change.path, selected)


def _taken_in(store: Store, folder: Folder, entries: Records | None) -> bool:
    """Whether a save that failed part way left ``entries`` as the folder's baseline (its file
    was replaced, the record of its generation could not be written): the accept then stands."""
    if entries is None:
        return False
    try:  # the file itself, as saved: no generation check (which would try to write again)
        saved = load_baseline_file(store.paths.baseline_file(folder.id), store.key())
    except FimError:
        return False
    return saved.entries == entries
