"""Check a watched folder against its baseline: rescan it, compare, and record in its pending file
and the history what is pending and what is new."""

from __future__ import annotations

import errno
import stat
import threading
from collections.abc import Callable, Collection
from typing import Any

from fim_tray import logs
from fim_tray.app.selection import selector
from fim_tray.errors import FimError, FolderMissingError, ScanCancelled
from fim_tray.models import Change, Folder, FolderReport, Problem, ScanResult, split_scope
from fim_tray.records import records_of
from fim_tray.scan.compare import compare
from fim_tray.scan.record import Progress
from fim_tray.scan.scanner import Scanner
from fim_tray.scan.throttle import Throttle
from fim_tray.store.baseline import SET_ASIDE, XATTRS_RECORDED, Baseline
from fim_tray.store.config import Config
from fim_tray.store.state import Store

log = logs.getLogger(__name__)


def rescan(
    folder: Folder,
    config: Config,
    trusted: Baseline,
    *,
    own: Collection[tuple[str, tuple[str, ...]]] = (),
    processes: bool = False,
    **options: Any,
) -> ScanResult:
    """Scan ``folder`` against its baseline: the folder's excludes and algorithm, the
    baseline's digests for unchanged files, its disk to spot an unmount. ``own`` names
    fim-tray's own state folders inside it (see ``Store.own_state_in``): left out, and said so.
    ``options`` go to :class:`Scanner` (full, progress, stop, only, throttle); ``processes``
    lets a full re-hash run on worker processes (a caller with one thread only)."""
    anchored = own_patterns(own)
    result = Scanner(
        folder.path,
        [*config.excludes_for(folder), *anchored],
        trusted.algorithm,
        previous=trusted.entries,
        root_dev=trusted.root_dev,
        hash_workers=config.hash_workers,
        processes=processes,
        **options,
    ).run()
    if not own:
        return result
    said = tuple(Problem(rel, OWN_STATE) for rel, _files in own)
    return result._replace(problems=(*said, *result.problems))


OWN_STATE = (
    "fim-tray's own state is in this folder: the files it writes there (which change at every "
    "check) are left out of the checks; anything else there is checked. Move the state out, or "
    "set FIM_TRAY_HOME to a place outside every watched folder."
)


def own_patterns(own: Collection[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Exclude patterns for fim-tray's own files in its state folders inside a watched folder
    (see ``Store.own_state_in``): anchored at their place (a leading ``/``), never wider."""
    return ["/" + _glob_escape(rel) + "/" + glob for rel, files in own for glob in files]


def _glob_escape(text: str) -> str:
    """``text`` matched as itself by a glob pattern (``*``, ``?`` and ``[`` in brackets)."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


_XATTR_FIELDS = frozenset({"xattrs", "caps", "acl"})
_SET_ID = stat.S_ISUID | stat.S_ISGID


def _without_first_xattrs(changes: list[Change]) -> list[Change]:
    """The changes against a baseline recorded before extended attributes were: attributes it
    never had are not changes (they were there when it was recorded, for all anyone knows)."""
    kept = []
    for change in changes:
        before, after = change.before, change.after
        if before is not None and after is not None and before.xattrs is None and change.fields:
            fields = tuple(f for f in change.fields if f not in _XATTR_FIELDS)
            if change.kind == "metadata" and not fields:
                continue
            gained = bool(after.mode & _SET_ID & ~before.mode)
            suspicious = change.suspicious if change.kind != "metadata" else gained
            change = change._replace(fields=fields, suspicious=suspicious)
        kept.append(change)
    return kept


def _take_in_xattrs(store: Store, folder: Folder, result: ScanResult) -> str | None:
    """After a full check of a baseline recorded before extended attributes were (the lock
    held): the attributes every file had all along go into it, marked as recorded from then on.
    The baseline's signature, or None when another process did it first."""
    trusted = store.load_baseline(folder)  # again, under the lock: an accept may have saved it
    if trusted.extra.get(XATTRS_RECORDED):
        return None
    entries = records_of(trusted.entries)  # loaded for this: changed in place
    for path in result.entries:  # the entries a check kept: those that differ (see consume)
        entry = entries.get(path)
        now = result.entries[path]
        if entry is not None and entry.xattrs is None and now.xattrs is not None:
            entries[path] = entry._replace(xattrs=now.xattrs)
    extra = {**trusted.extra, XATTRS_RECORDED: 1}
    return store.save_baseline(folder, trusted._replace(entries=entries, extra=extra))


def check(
    store: Store,
    path: str | None = None,
    *,
    full: bool = False,
    progress: Callable[[Folder, int], None] | None = None,
    stop: threading.Event | None = None,
    throttle: Throttle | None = None,
    processes: bool = False,
) -> list[FolderReport]:
    """Scan each watched folder (or the one named) and compare it with its baseline;
    ``throttle`` caps the reading speed of every scan."""
    config = store.config()
    folders = (store.folder(path),) if path is not None else config.folders
    reports = []
    for folder in folders:
        step = None if progress is None else (lambda n, f=folder: progress(f, n))
        reports.append(
            check_folder(
                store,
                folder,
                config,
                full=full,
                progress=step,
                stop=stop,
                throttle=throttle,
                processes=processes,
            )
        )
    return reports


def check_folder(
    store: Store,
    folder: Folder,
    config: Config | None = None,
    *,
    full: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    paths: Collection[str] | None = None,
    throttle: Throttle | None = None,
    processes: bool = False,
) -> FolderReport:
    """One folder's report. Errors are reported in it, never raised (except a cancel).

    ``paths`` (relative, from file events) limits the scan to those paths and what is below
    them (those ending in ``models.ITSELF``: their own entry only); the report's ``changes``
    then cover just those, and ``pending`` counts them all.
    """
    config = config or store.config()
    now = store.clock()
    scope, itself = (None, frozenset()) if paths is None else split_scope(paths)
    try:
        if scope is not None and ("" in scope or store.pending(folder).changes() is None):
            scope, itself = None, frozenset()  # the whole folder, or pending changes not placed
        # A targeted check reads only the entries in its scope from the baseline's index.
        trusted = store.load_baseline(folder, only=scope, itself=itself)
        aside = trusted.extra.get(SET_ASIDE)
        if isinstance(aside, dict) and any(p not in folder.excludes for p in aside):
            # A pattern taken out of the settings by hand: what it set aside goes back first.
            from fim_tray.app.ignore import put_back_orphans  # rarely: not at every start

            if put_back_orphans(store, folder.path):
                trusted = store.load_baseline(folder, only=scope, itself=itself)
        # The scan takes what it finds unchanged out of this copy of the baseline (consume):
        # what is left of each is what changed, and the tree is never held twice.
        trusted = trusted._replace(entries=records_of(trusted.entries))
        result = rescan(
            folder,
            config,
            trusted,
            own=store.own_state_in(folder.path),
            full=full,
            progress=progress,
            stop=stop,
            only=scope,
            itself=itself,
            throttle=throttle,
            processes=processes,
            consume=True,
        )
        before = records_of(trusted.entries)
        under = selector(scope or ())
        in_scope = (lambda path: path in itself or under(path)) if itself else under
        if scope is not None:
            before = before.subset(in_scope)
        changes = compare(before, result.entries, result.unlisted)
        if not trusted.extra.get(XATTRS_RECORDED):
            changes = _without_first_xattrs(changes)
    except ScanCancelled:
        raise
    except FimError as exc:
        store.save_pending_error(folder, exc.message, now)
        missing = isinstance(exc, FolderMissingError)
        return FolderReport(folder, now, error=exc.message, missing=missing)
    except Exception as exc:  # a bug, or state no check foresaw: this folder's error only
        log.error("checking %s failed", folder.path, exc_info=True)
        message = f"unexpected error while checking it ({type(exc).__name__}: {exc})"
        store.save_pending_error(folder, message, now)
        return FolderReport(folder, now, error=message)
    report = FolderReport(
        folder,
        now,
        changes=tuple(changes),
        problems=result.problems,
        files=result.files,
        seconds=result.seconds,
    )
    try:
        with store.locked():
            signed = None
            if not trusted.extra.get(XATTRS_RECORDED) and full and scope is None:
                signed = _take_in_xattrs(store, folder, result)
            pending_file = store.pending(folder)
            old = pending_file.changes(warn=True) or {}
            new = [c for c in changes if c.signature() not in old]
            store.history.append(folder.path, new, now)
            pending = {c.signature(): c.path for c in changes}
            if scope is not None:  # what is pending elsewhere in the folder stays pending
                kept = {s: p for s, p in old.items() if not in_scope(p)}
                pending = {**kept, **pending}
            pending_file.save(pending, now, full=full, baseline=signed)
    except Exception as exc:  # found, not recorded: reported all the same (see _unrecorded)
        return _unrecorded(store, report, exc)
    return report._replace(new=tuple(new), pending=len(pending))


# A data folder that is full or read-only: the changes are reported with a warning. Any other
# failure to record them (a link or a FIFO planted at the lock or the history, a tampered head)
# is an error, but the changes found are still reported beside it. Not EPERM: a file of another
# user's in the data folder (see jsonio.open_own) is never plain.
_PLAIN = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES})


def _unrecorded(store: Store, report: FolderReport, exc: Exception) -> FolderReport:
    """The report of changes that could not be recorded: each still reported (as new unless
    the pending file, read without the lock, says it was announced), with the reason."""
    try:
        old = store.pending(report.folder).changes() or {}
    except FimError:
        old = {}
    new = tuple(c for c in report.changes if c.signature() not in old)
    cause = exc.__cause__
    if isinstance(exc, FimError):
        message = f"the changes found could not be recorded: {exc.message}"
        log.info("%s: %s", report.folder.path, message)
    else:  # a bug: logged in full
        message = f"the changes found could not be recorded ({type(exc).__name__}: {exc})"
        log.error("recording the check of %s failed", report.folder.path, exc_info=True)
    if isinstance(cause, OSError) and cause.errno in _PLAIN:
        return report._replace(new=new, warning=message)
    return report._replace(new=new, error=message)
