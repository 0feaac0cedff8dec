"""The one facade every front end uses: watch, unwatch, check, accept, status and history."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fim_tray import baseline_cache as baseline_store  # the JSON baselines, with a load cache
from fim_tray import config as config_store
from fim_tray import jsonio
from fim_tray.compare import compare
from fim_tray.config import Config
from fim_tray.errors import FimError, FolderMissingError, NotWatchedError, ScanCancelled
from fim_tray.history import History
from fim_tray.lock import data_lock
from fim_tray.models import Change, Event, Folder, FolderReport, Problem, ScanResult
from fim_tray.paths import Paths, decode_name, encode_name
from fim_tray.scanner import Progress, Scanner
from fim_tray.throttle import Throttle

if TYPE_CHECKING:
    # Saved copies, diff and restore are imported when first used: a check or a monitor that
    # keeps no copies never loads them, which keeps the command line's start-up quick.
    from fim_tray import restore as restoring
    from fim_tray import textdiff
    from fim_tray.copies import CopyReport, PruneReport
    from fim_tray.keeper import CopiesStatus, Keeper
    from fim_tray.snapshots import SnapshotStore

log = logging.getLogger(__name__)


def local_now() -> datetime:
    """The current time with the local UTC offset: every alert carries one."""
    return datetime.now().astimezone()


@dataclass(frozen=True)
class FolderStatus:
    """One line of ``fim-tray list``: what is known of a watched folder without scanning it."""

    folder: Folder
    files: int | None
    checked: datetime | None
    pending: int
    error: str | None


class Service:
    """Owns the state on disk. Methods return plain data or raise :class:`FimError`."""

    def __init__(
        self,
        paths: Paths | None = None,
        *,
        clock: Callable[[], datetime] = local_now,
        lock_timeout: float = 30.0,
    ) -> None:
        self.paths = paths or Paths.default()
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.history_log = History(self.paths.events_file)
        self._lazy = threading.Lock()  # so two threads never build two stores (see snapshots)
        self._snapshots: SnapshotStore | None = None
        self._keeper_: Keeper | None = None
        self._key: bytes | None = None

    @property
    def snapshots(self) -> SnapshotStore:
        """The store of saved copies, built on first use. One per service: it remembers what
        it wrote until :meth:`SnapshotStore.sync`, so a second one would lose that."""
        with self._lazy:
            if self._snapshots is None:
                from fim_tray.snapshots import SnapshotStore

                self._snapshots = SnapshotStore(self.paths.data_dir / "snapshots")
            return self._snapshots

    @property
    def _keeper(self) -> Keeper:
        with self._lazy:
            if self._keeper_ is None:
                from fim_tray.keeper import Keeper

                self._keeper_ = Keeper(self)
            return self._keeper_

    # -- configuration -------------------------------------------------------------------------

    def config(self) -> Config:
        return config_store.load(self.paths.config_file)

    def folders(self) -> tuple[Folder, ...]:
        return self.config().folders

    def folder(self, path: str) -> Folder:
        """The watched folder named by ``path`` (as typed, or resolved)."""
        config = self.config()
        # As typed first: a watched folder since replaced by a link names itself, not its target.
        for candidate in (os.path.abspath(os.path.expanduser(path)), _resolve(path)):
            found = config.find(candidate)
            if found is not None:
                return found
        watched = ", ".join(f.path for f in config.folders) or "none yet"
        raise NotWatchedError(f"{path} is not a watched folder (watched: {watched}).")

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return data_lock(self.paths.lock_file, self.lock_timeout)

    def _key_bytes(self) -> bytes:
        if self._key is None:
            self._key = baseline_store.load_key(self.paths.key_file)
        return self._key

    def load_baseline(self, folder: Folder) -> baseline_store.Baseline:
        return baseline_store.load(self.paths.baseline_file(folder.id), self._key_bytes())

    # -- watch / unwatch -----------------------------------------------------------------------

    def watch(
        self,
        path: str,
        *,
        algorithm: str | None = None,
        excludes: Sequence[str] = (),
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        keep_copies: bool = False,
        throttle: Throttle | None = None,
    ) -> tuple[Folder, ScanResult | None]:
        """Record the baseline of a new folder; returns (folder, None) when already watched.

        ``keep_copies`` also stores the content of its files (see :mod:`fim_tray.copies`); a
        file that could not be copied is listed in the result's problems. ``throttle`` caps
        the reading speed of the scan (None: full speed)."""
        root = _resolve(path)
        if not os.path.isdir(root):
            raise FolderMissingError(f"{path} is not a folder that exists.")
        existing = self.config().find(root)
        if existing is not None:
            return existing, None
        planned = self.config().with_folder(
            root, algorithm=algorithm, excludes=tuple(excludes), keep_copies=keep_copies
        )
        folder = planned.folders[-1]
        result = Scanner(
            root,
            planned.excludes_for(folder),
            folder.algorithm,
            progress=progress,
            stop=stop,
            hash_workers=planned.hash_workers,
            throttle=throttle,
        ).run()
        now = self.clock()
        record = baseline_store.Baseline(
            root, folder.algorithm, result.entries, now, now, root_dev=result.root_dev
        )
        with self._locked():
            config = self.config()  # another process may have changed it meanwhile
            if config.find(root) is None:
                config = config.with_folder(
                    root, algorithm=algorithm, excludes=tuple(excludes), keep_copies=keep_copies
                )
            # Baseline first: the settings never name a folder that has no baseline.
            baseline_store.save(self.paths.baseline_file(folder.id), record, self._key_bytes())
            self._save_pending(folder, [], now, full=True)  # a first baseline hashes all
            config_store.save(self.paths.config_file, config)
        if folder.keep_copies:  # after the save, so the copies are referred to from the start
            copied = self._keeper.record(folder, folder.algorithm, result.entries, config)
            result = replace(result, problems=(*result.problems, *copied.problems))
        return folder, result

    def unwatch(self, path: str) -> Folder:
        """Stop watching; its baseline, backup and pending list are deleted."""
        folder = self.folder(path)
        with self._locked():
            config_store.save(self.paths.config_file, self.config().without_folder(folder.path))
            base = self.paths.baseline_file(folder.id)
            for leftover in (
                base,
                base.with_name(base.name + ".bak"),
                baseline_store.cache_path(base),
                self.paths.pending_file(folder.id),
            ):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        self._keeper.prune_quietly()
        return folder

    # -- check ---------------------------------------------------------------------------------

    def check(
        self,
        path: str | None = None,
        *,
        full: bool = False,
        progress: Callable[[Folder, int], None] | None = None,
        stop: threading.Event | None = None,
        throttle: Throttle | None = None,
    ) -> list[FolderReport]:
        """Scan each watched folder (or the one named) and compare it with its baseline;
        ``throttle`` caps the reading speed of every scan."""
        config = self.config()
        folders = (self.folder(path),) if path is not None else config.folders
        reports = []
        for folder in folders:
            step = None if progress is None else (lambda n, f=folder: progress(f, n))
            reports.append(
                self.check_folder(
                    folder, config, full=full, progress=step, stop=stop, throttle=throttle
                )
            )
        return reports

    def check_folder(
        self,
        folder: Folder,
        config: Config | None = None,
        *,
        full: bool = False,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        paths: Collection[str] | None = None,
        throttle: Throttle | None = None,
    ) -> FolderReport:
        """One folder's report. Errors are reported in it, never raised (except a cancel).

        ``paths`` (relative, from file events) limits the scan to those paths and what is below
        them; the report's ``changes`` then cover just those, and ``pending`` counts them all.
        """
        config = config or self.config()
        now = self.clock()
        scope = None if paths is None else frozenset(p.strip("/") for p in paths)
        if scope is not None and ("" in scope or self._pending_map(folder) is None):
            scope = None  # the whole folder, or pending changes this version cannot place
        try:
            trusted = self.load_baseline(folder)
            result = Scanner(
                folder.path,
                config.excludes_for(folder),
                trusted.algorithm,
                previous=trusted.entries,
                full=full,
                progress=progress,
                stop=stop,
                root_dev=trusted.root_dev,
                hash_workers=config.hash_workers,
                only=scope,
                throttle=throttle,
            ).run()
            before = trusted.entries
            targets = sorted(scope or ())
            if scope is not None:
                before = {p: e for p, e in before.items() if _selected(p, targets)}
            changes = compare(before, result.entries, result.unlisted)
            with self._locked():
                old = self._pending_map(folder) or {}
                new = [c for c in changes if c.signature() not in old]
                self.history_log.append(folder.path, new, now)
                pending = {c.signature(): c.path for c in changes}
                if scope is not None:  # what is pending elsewhere in the folder stays pending
                    kept = {s: p for s, p in old.items() if not _selected(p, targets)}
                    pending = {**kept, **pending}
                self._write_pending(folder, pending, now, full=full)
        except ScanCancelled:
            raise
        except FimError as exc:
            self._save_pending_error(folder, exc.message, now)
            return FolderReport(folder, now, error=exc.message)
        return FolderReport(
            folder,
            now,
            changes=tuple(changes),
            new=tuple(new),
            problems=result.problems,
            files=len(result.entries),
            seconds=result.seconds,
            pending=len(pending),
        )

    # -- accept --------------------------------------------------------------------------------

    def accept(self, path: str | None = None, files: Iterable[str] = ()) -> list[FolderReport]:
        """Take the current state into the baseline: all of it, or only ``files`` (paths
        relative to the folder or absolute, a folder meaning everything under it)."""
        config = self.config()
        folders = (self.folder(path),) if path is not None else config.folders
        wanted = list(files)
        for name in wanted:  # an absolute name must be inside one of the folders
            if all(_relative(folder, name) is None for folder in folders):
                where = "any watched folder"
                if len(folders) == 1:
                    where = f"the watched folder {folders[0].path}"
                raise NotWatchedError(f"{name} is not inside {where}.")
        reports = []
        for folder in folders:
            selected = [rel for rel in (_relative(folder, f) for f in wanted) if rel is not None]
            if wanted and not selected:  # only absolute names, all in other folders
                continue
            reports.append(self._accept_folder(folder, config, _paths_filter(selected)))
        return reports

    def accept_changes(self, path: str, signatures: Collection[str]) -> FolderReport:
        """Accept exactly the changes a person saw, named by :meth:`Change.signature`.

        A file that changed again since it was shown has another signature and stays pending,
        so nothing is accepted that the person did not see.
        """
        wanted = set(signatures)
        return self._accept_folder(
            self.folder(path), self.config(), lambda c: c.signature() in wanted
        )

    def _accept_folder(
        self, folder: Folder, config: Config, keep: Callable[[Change], bool]
    ) -> FolderReport:
        """Rescan ``folder`` and move the changes ``keep`` selects into its baseline; the
        report lists the accepted changes."""
        trusted = self.load_baseline(folder)  # a damaged or tampered baseline is never replaced
        result = Scanner(
            folder.path,
            config.excludes_for(folder),
            trusted.algorithm,
            previous=trusted.entries,
            root_dev=trusted.root_dev,
            hash_workers=config.hash_workers,
        ).run()
        changes = [c for c in compare(trusted.entries, result.entries, result.unlisted) if keep(c)]
        if not changes:
            return FolderReport(folder, self.clock(), files=len(result.entries))
        entries = dict(trusted.entries)
        for change in changes:
            if change.after is None:
                entries.pop(change.path, None)
            else:
                entries[change.path] = change.after
        now = self.clock()
        trusted.entries, trusted.updated = entries, now
        with self._locked():
            baseline_store.save(self.paths.baseline_file(folder.id), trusted, self._key_bytes())
            # Still pending: what was announced and not accepted. A change no check has
            # announced yet stays out, so the next check still reports it (and logs it).
            seen = self._load_pending(folder)
            still = [
                c for c in compare(entries, result.entries, result.unlisted)
                if c.signature() in seen
            ]  # fmt: skip
            self._save_pending(folder, still, now)
        problems: tuple[Problem, ...] = ()
        if folder.keep_copies:
            problems = self._keeper.record(folder, trusted.algorithm, entries, config).problems
        self._keeper.prune_quietly()
        return FolderReport(
            folder, now, changes=tuple(changes), problems=problems, files=len(result.entries)
        )

    # -- status and history --------------------------------------------------------------------

    def status(self) -> list[FolderStatus]:
        """Per folder: file count in the baseline, last check, pending changes, last error."""
        statuses = []
        for folder in self.folders():
            pending = self._read_pending(folder)
            files: int | None = None
            error = pending.get("error")
            try:
                files = len(self.load_baseline(folder).entries)
            except FimError as exc:
                error = exc.message
            checked = pending.get("checked")
            statuses.append(
                FolderStatus(
                    folder,
                    files,
                    datetime.fromisoformat(checked) if isinstance(checked, str) else None,
                    len(self._load_pending(folder)),
                    error if isinstance(error, str) else None,
                )
            )
        return statuses

    def history(self, limit: int | None = None) -> list[Event]:
        return self.history_log.read(limit)

    # -- saved copies, diff and restore: the logic is in keeper, textdiff and restore ----------

    def set_keep_copies(self, path: str, on: bool) -> tuple[Folder, CopyReport | None]:
        """Turn copies on (the files that still match the baseline are copied now) or off
        (the folder's copies are pruned)."""
        return self._keeper.set_keep_copies(path, on)

    def copies_status(self) -> CopiesStatus:
        return self._keeper.status()

    def prune_copies(self) -> PruneReport:
        return self._keeper.prune()

    def diff(self, path: str, file: str) -> textdiff.DiffResult:
        """What changed inside ``file`` (relative to the watched folder, or absolute)."""
        from fim_tray import textdiff

        return textdiff.diff(self, path, file)

    def restore(
        self, path: str, file: str, *, expected_signature: str | None = None, force: bool = False
    ) -> restoring.RestoreResult:
        """Put ``file`` back as the baseline has it; see :func:`fim_tray.restore.restore`."""
        from fim_tray import restore as restoring

        return restoring.restore(
            self, path, file, expected_signature=expected_signature, force=force
        )

    def undo_restore(self, path: str, file: str, *, force: bool = False) -> restoring.RestoreResult:
        """Put back what the last restore of ``file`` replaced."""
        from fim_tray import restore as restoring

        return restoring.undo(self, path, file, force=force)

    def file_key(self, folder: Folder, file: str) -> str:
        """A file named by a front end, as the baseline names it: a path relative to the
        watched folder (taken as given, not against the current folder), or absolute."""
        rel = _relative(folder, file) if os.path.isabs(file) else None
        if not os.path.isabs(file):
            rel = Path(os.path.normpath(file)).as_posix()
        if rel is None or rel in ("", ".", "..") or rel.startswith("../"):
            raise NotWatchedError(f"{file} does not name a file inside {folder.path}.")
        return rel

    # -- pending changes: what was already reported, so each change is announced once ---------

    def _read_pending(self, folder: Folder) -> dict[str, object]:
        try:
            obj = jsonio.loads(self.paths.pending_file(folder.id).read_bytes())
        except (OSError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    def _load_pending(self, folder: Folder) -> set[str]:
        signatures = self._read_pending(folder).get("signatures", [])
        return set(signatures) if isinstance(signatures, list) else set()

    def _pending_map(self, folder: Folder) -> dict[str, str] | None:
        """Pending changes as signature -> path; None for a file written before paths were
        kept with them (a full check then rewrites it)."""
        obj = self._read_pending(folder)
        signatures, paths = obj.get("signatures", []), obj.get("paths")
        if not isinstance(signatures, list) or not isinstance(paths, dict):
            return None if signatures else {}
        try:
            return {s: decode_name(paths[s]) for s in signatures}
        except (KeyError, TypeError, ValueError):
            return None

    def _save_pending(
        self, folder: Folder, changes: Sequence[Change], now: datetime, *, full: bool = False
    ) -> None:
        self._write_pending(folder, {c.signature(): c.path for c in changes}, now, full=full)

    def _write_pending(
        self, folder: Folder, pending: dict[str, str], now: datetime, *, full: bool = False
    ) -> None:
        full_checked = now.isoformat() if full else self._read_pending(folder).get("full_checked")
        obj = {
            "checked": now.isoformat(),
            "full_checked": full_checked,  # the last time every file was re-hashed
            "signatures": list(pending),
            "paths": {s: encode_name(p) for s, p in pending.items()},  # for targeted checks
        }
        jsonio.atomic_write(self.paths.pending_file(folder.id), jsonio.dumps(obj))

    def last_full_check(self, folder: Folder) -> datetime | None:
        """When every file of ``folder`` was last re-hashed (its baseline counts as one)."""
        value = self._read_pending(folder).get("full_checked")
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def _save_pending_error(self, folder: Folder, message: str, now: datetime) -> None:
        obj = self._read_pending(folder)
        obj.update(checked=now.isoformat(), error=message)
        with contextlib.suppress(FimError):
            jsonio.atomic_write(self.paths.pending_file(folder.id), jsonio.dumps(obj))


def _resolve(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def _relative(folder: Folder, name: str) -> str | None:
    """A path given on the command line, as the baseline names it (relative, ``/``-separated);
    None for an absolute path outside the folder."""
    absolute = os.path.abspath(os.path.expanduser(name))
    # The folder is stored resolved: also try the name with its parent folders resolved (not
    # the name itself, which may be a symlink in the folder).
    parent = os.path.realpath(os.path.dirname(absolute))
    for candidate in (absolute, os.path.join(parent, os.path.basename(absolute))):
        rel = os.path.relpath(candidate, folder.path)
        if rel != ".." and not rel.startswith(".." + os.sep):
            return Path(rel).as_posix().strip("/")
    if os.path.realpath(absolute) == folder.path:  # the folder itself, by a symlink
        return "."
    if os.path.isabs(os.path.expanduser(name)):
        return None
    return Path(os.path.normpath(name)).as_posix().strip("/")  # relative to the watched folder


def _paths_filter(selected: Sequence[str]) -> Callable[[Change], bool]:
    """Keep every change (nothing selected) or those at or under the selected paths."""
    return lambda change: not selected or _selected(change.path, selected)


def _selected(path: str, selected: Sequence[str]) -> bool:
    return any(s in (".", "") or path == s or path.startswith(s + "/") for s in selected)
