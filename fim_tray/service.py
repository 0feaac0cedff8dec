"""The one facade every front end uses: watch, unwatch, check, accept, status and history."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from fim_tray import baseline_cache as baseline_store  # the JSON baselines, with a load cache
from fim_tray import config as config_store
from fim_tray import logs
from fim_tray.compare import compare
from fim_tray.config import Config
from fim_tray.errors import (
    BaselineError,
    BaselineTamperedError,
    FimError,
    FolderMissingError,
    NotWatchedError,
    ScanCancelled,
)
from fim_tray.history import History
from fim_tray.lock import data_lock
from fim_tray.models import Event, Folder, FolderReport, ScanResult
from fim_tray.paths import Paths
from fim_tray.pending import PendingFile
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

log = logs.getLogger(__name__)


def local_now() -> datetime:
    """The current time with the local UTC offset: every alert carries one."""
    return datetime.now().astimezone()


class FolderStatus(NamedTuple):
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
        processes: bool = False,
    ) -> None:
        self.paths = paths or Paths.default()
        # First baselines and full re-hashes may fork worker processes (see Scanner): for a
        # caller with one thread only, such as the command line; never the tray.
        self.processes = processes
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.history_log = History(self.paths.events_file)
        self._lazy = threading.Lock()  # so two threads never build two stores (see snapshots)
        self._snapshots: SnapshotStore | None = None
        self._keeper_: Keeper | None = None
        self._key: bytes | None = None
        self._holding = threading.local()  # whether this thread holds the data lock

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

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with data_lock(self.paths.lock_file, self.lock_timeout):
            self._holding.on = True
            try:
                yield
            finally:
                self._holding.on = False

    def _key_bytes(self) -> bytes:
        """The install key; made on first use, but only while no baseline exists: a key lost
        later is an error, as a new one would make every baseline look tampered with."""
        if self._key is None:
            key_file = self.paths.key_file
            if not key_file.exists() and self._any_baseline():
                raise BaselineError(
                    f"The install key {key_file} is missing: baselines cannot be verified "
                    "without it; restore it from a backup, or remove and add the folders again."
                )
            self._key = baseline_store.load_key(key_file)
        return self._key

    def _any_baseline(self) -> bool:
        try:
            names = [p.name for p in self.paths.baselines_dir.iterdir()]
        except OSError:  # no folder yet: no baseline
            return False
        return any((n.endswith((".json", ".json.bak")) and ".pending." not in n) for n in names)

    def pending(self, folder: Folder) -> PendingFile:
        """The signed pending file of ``folder`` (see :mod:`fim_tray.pending`)."""
        return PendingFile(self.paths.pending_file(folder.id), self._key_bytes(), folder.id)

    def load_baseline(self, folder: Folder) -> baseline_store.Baseline:
        """The verified baseline of ``folder``; it must also be the one fim-tray last wrote."""
        record, _signature = self._load_signed(folder)
        return record

    def _load_signed(self, folder: Folder) -> tuple[baseline_store.Baseline, str]:
        path = self.paths.baseline_file(folder.id)
        record, signature = baseline_store.load_signed(path, self._key_bytes())
        expected = self.pending(folder).baseline()
        if (
            expected is not None
            and expected != signature
            and not getattr(self._holding, "on", False)
        ):
            # A save may be under way (baseline written, pending file not yet): ask again
            # under the lock, which every save holds for both files.
            with self._locked():
                record, signature = baseline_store.load_signed(path, self._key_bytes())
                expected = self.pending(folder).baseline()
        # None: no pending file (an install older than this check), or one that fails its
        # signature. The limit: a baseline and a pending file put back together, both from
        # the same earlier moment, agree with each other and are not detected.
        if expected is not None and expected != signature:
            raise BaselineTamperedError(
                f"The baseline {path} is not the one fim-tray last wrote: an older copy may "
                "have been put back (a .bak, or a backup) to hide a change. It was left as it "
                "is for you to inspect; to start again from the folder as it is now, remove "
                "the folder and add it again."
            )
        return record, signature

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
        for own in (self.paths.data_dir, self.paths.config_dir):
            if os.path.commonpath([_resolve(str(own)), root]) == root:
                raise FimError(
                    f"{path} holds fim-tray's own state ({own}), which changes at every check. "
                    "Watch a folder that does not, or move the state with FIM_TRAY_HOME.",
                    title="Cannot watch this folder",
                )
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
            processes=self.processes,
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
            signed = baseline_store.save(
                self.paths.baseline_file(folder.id), record, self._key_bytes()
            )
            self.pending(folder).save({}, now, full=True, baseline=signed)  # a first one hashes all
            config_store.save(self.paths.config_file, config)
        if folder.keep_copies:  # after the save, so the copies are referred to from the start
            copied = self._keeper.record(folder, folder.algorithm, result.entries, config)
            result = result._replace(problems=(*result.problems, *copied.problems))
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
        try:
            if scope is not None and ("" in scope or self.pending(folder).changes() is None):
                scope = None  # the whole folder, or pending changes this version cannot place
            trusted = self.load_baseline(folder)
            result = self.rescan(
                folder,
                config,
                trusted,
                full=full,
                progress=progress,
                stop=stop,
                only=scope,
                throttle=throttle,
            )
            before = trusted.entries
            targets = sorted(scope or ())
            if scope is not None:
                before = {p: e for p, e in before.items() if is_selected(p, targets)}
            changes = compare(before, result.entries, result.unlisted)
            with self._locked():
                store = self.pending(folder)
                old = store.changes(warn=True) or {}
                new = [c for c in changes if c.signature() not in old]
                self.history_log.append(folder.path, new, now)
                pending = {c.signature(): c.path for c in changes}
                if scope is not None:  # what is pending elsewhere in the folder stays pending
                    kept = {s: p for s, p in old.items() if not is_selected(p, targets)}
                    pending = {**kept, **pending}
                store.save(pending, now, full=full)
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

    def rescan(
        self,
        folder: Folder,
        config: Config,
        trusted: baseline_store.Baseline,
        **options: Any,
    ) -> ScanResult:
        """Scan ``folder`` against its baseline: the folder's excludes and algorithm, the
        baseline's digests for unchanged files, its disk to spot an unmount. ``options`` go to
        :class:`Scanner` (full, progress, stop, only, throttle)."""
        return Scanner(
            folder.path,
            config.excludes_for(folder),
            trusted.algorithm,
            previous=trusted.entries,
            root_dev=trusted.root_dev,
            hash_workers=config.hash_workers,
            processes=self.processes,
            **options,
        ).run()

    # -- accept: the logic is in fim_tray.accepting ------------------------------------------

    def accept(self, path: str | None = None, files: Iterable[str] = ()) -> list[FolderReport]:
        """Take the current state into the baseline: all of it, or only ``files``."""
        from fim_tray import accepting

        return accepting.accept(self, path, files)

    def accept_changes(self, path: str, signatures: Collection[str]) -> FolderReport:
        """Accept exactly the changes a person saw, named by :meth:`Change.signature`."""
        from fim_tray import accepting

        return accepting.accept_changes(self, path, signatures)

    # -- status and history --------------------------------------------------------------------

    def status(self) -> list[FolderStatus]:
        """Per folder: file count in the baseline, last check, pending changes, last error."""
        statuses = []
        for folder in self.folders():
            pending: dict[str, object] = {}
            files: int | None = None
            try:
                pending = self.pending(folder).read()
                error = pending.get("error")
                files = len(self.load_baseline(folder).entries)
            except FimError as exc:
                error = exc.message
            checked = pending.get("checked")
            signatures = pending.get("signatures")
            statuses.append(
                FolderStatus(
                    folder,
                    files,
                    datetime.fromisoformat(checked) if isinstance(checked, str) else None,
                    len(set(signatures)) if isinstance(signatures, list) else 0,
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
        rel = relative_name(folder, file) if os.path.isabs(file) else None
        if not os.path.isabs(file):
            rel = Path(os.path.normpath(file)).as_posix()
        if rel is None or rel in ("", ".", "..") or rel.startswith("../"):
            raise NotWatchedError(f"{file} does not name a file inside {folder.path}.")
        return rel

    # -- pending changes: what was already reported (see fim_tray.pending) --------------------

    def last_full_check(self, folder: Folder) -> datetime | None:
        """When every file of ``folder`` was last re-hashed (its baseline counts as one)."""
        return self.pending(folder).last_full_check()

    def _save_pending_error(self, folder: Folder, message: str, now: datetime) -> None:
        with contextlib.suppress(FimError):
            self.pending(folder).save_error(message, now)


def _resolve(path: str) -> str:
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def relative_name(folder: Folder, name: str) -> str | None:
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


def is_selected(path: str, selected: Sequence[str]) -> bool:
    return any(s in (".", "") or path == s or path.startswith(s + "/") for s in selected)
