"""The facade every front end uses (the command line, the monitor, the tray and its windows): each
method hands the :class:`Store` to one use-case module and returns plain data or raises
:class:`FimError`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from fim_tray.app import check
from fim_tray.errors import FimError
from fim_tray.models import ChangeKey, Event, Folder, FolderReport, ScanResult
from fim_tray.scan.record import Progress
from fim_tray.scan.throttle import Throttle
from fim_tray.store.config import Config
from fim_tray.store.history import Verdict
from fim_tray.store.paths import Paths
from fim_tray.store.state import Store, local_now

if TYPE_CHECKING:
    # Each use case but the check is imported when first used, which keeps the start-up of
    # `fim-tray check` quick: it loads only what a check needs.
    from fim_tray.app.copies import CopiesStatus, CopyReport, PruneReport
    from fim_tray.app.diff import DiffResult
    from fim_tray.app.ignore import IgnoreResult
    from fim_tray.app.restore import RestoreResult
    from fim_tray.app.settings import Saved
    from fim_tray.app.status import FolderStatus


# File events naming this many paths at once (a burst: an unpacked archive, a checkout) are
# checked as the whole folder, in a child: reading each one's place in the baseline would cost
# more than the whole, and in this process.
WIDE = 2000


def _wide(paths: Collection[str]) -> bool:
    """Whether a check of ``paths`` is one of the whole folder, or as good as one."""
    return len(paths) > WIDE or any(not path.strip("/") for path in paths)


class Service:
    """The use cases over one :class:`Store`. ``processes``: first baselines and full re-hashes
    may fork worker processes (see :class:`Scanner`), for a caller with one thread only, such
    as the command line; never the tray. ``isolate``: checks of a whole folder run in a
    short-lived child process (see :mod:`fim_tray.app.isolated`), for the processes that run
    on (the tray, ``monitor``), which would otherwise keep the memory of the biggest check."""

    def __init__(
        self,
        paths: Paths | None = None,
        *,
        clock: Callable[[], datetime] = local_now,
        lock_timeout: float = 30.0,
        processes: bool = False,
        isolate: bool = False,
    ) -> None:
        self.store = Store(paths, clock=clock, lock_timeout=lock_timeout)
        self.processes = processes
        self.isolate = isolate

    @property
    def paths(self) -> Paths:
        return self.store.paths

    def clock(self) -> datetime:
        return self.store.clock()

    # -- settings ------------------------------------------------------------------------------

    def config(self) -> Config:
        return self.store.config()

    def folders(self) -> tuple[Folder, ...]:
        return self.store.folders()

    def folder(self, path: str) -> Folder:
        """The watched folder named by ``path`` (as typed, or resolved)."""
        return self.store.folder(path)

    # -- watch, check, accept ------------------------------------------------------------------

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
        """Record the baseline of a new folder; see :func:`fim_tray.app.watch.watch`."""
        from fim_tray.app import watch

        return watch.watch(
            self.store,
            path,
            algorithm=algorithm,
            excludes=excludes,
            progress=progress,
            stop=stop,
            keep_copies=keep_copies,
            throttle=throttle,
            processes=self.processes,
        )

    def unwatch(self, path: str) -> Folder:
        """Stop watching; its baseline, backup and pending file are deleted."""
        from fim_tray.app import watch

        return watch.unwatch(self.store, path)

    def check(
        self,
        path: str | None = None,
        *,
        full: bool = False,
        progress: Callable[[Folder, int], None] | None = None,
        stop: threading.Event | None = None,
        throttle: Throttle | None = None,
    ) -> list[FolderReport]:
        """Check each watched folder (or the one named); see :func:`fim_tray.app.check.check`."""
        return check.check(
            self.store,
            path,
            full=full,
            progress=progress,
            stop=stop,
            throttle=throttle,
            processes=self.processes,
        )

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
        """One folder's report; see :func:`fim_tray.app.check.check_folder`. With ``isolate``,
        the whole folder (``paths`` None) is checked in a child process; a check of the paths
        file events named reads little and stays here."""
        if self.isolate and (paths is None or _wide(paths)):
            from fim_tray.app import isolated

            return isolated.check_folder(
                self.store,
                folder,
                config,
                full=full,
                progress=progress,
                stop=stop,
                throttle=throttle,
                processes=self.processes,
            )
        return check.check_folder(
            self.store,
            folder,
            config,
            full=full,
            progress=progress,
            stop=stop,
            paths=paths,
            throttle=throttle,
            processes=self.processes,
        )

    def accept(self, path: str | None = None, files: Iterable[str] = ()) -> list[FolderReport]:
        """Take the current state into the baseline: all of it, or only ``files``."""
        from fim_tray.app import accept

        return accept.accept(self.store, path, files)

    def accept_changes(self, path: str, keys: Collection[ChangeKey]) -> FolderReport:
        """Accept exactly the changes a person saw, named by :meth:`Change.key` (in the tray)."""
        from fim_tray.app import accept

        return accept.accept_changes(self.store, path, keys)

    def accept_reported(self, path: str | None = None) -> list[FolderReport]:
        """The tray's "Accept all": only the changes already announced, in one folder or all."""
        from fim_tray.app import accept

        return accept.accept_reported(self.store, path)

    # -- ignore patterns -----------------------------------------------------------------------

    def ignore(self, path: str, pattern: str) -> IgnoreResult:
        """Ignore ``pattern`` in a folder; see :func:`fim_tray.app.ignore.ignore`."""
        from fim_tray.app import ignore

        return ignore.ignore(self.store, path, pattern)

    def unignore(self, path: str, pattern: str) -> IgnoreResult:
        """Stop ignoring ``pattern``; see :func:`fim_tray.app.ignore.unignore`."""
        from fim_tray.app import ignore

        return ignore.unignore(self.store, path, pattern)

    def update_settings(self, changes: Mapping[str, object]) -> Config:
        """Save general settings all together or none; see :func:`fim_tray.app.settings.update`."""
        from fim_tray.app import settings

        return settings.update(self.store, changes)

    def save_settings(self, changes: Mapping[str, object], loaded: Mapping[str, object]) -> Saved:
        """Save what a window changed over the settings on disk now, never silently over a
        field changed elsewhere since it loaded it (see :func:`settings.save_changed`)."""
        from fim_tray.app import settings

        return settings.save_changed(self.store, changes, loaded)

    def set_notify(self, path: str, on: bool) -> Folder:
        """The tray's notifications for one folder on or off (its changes still show)."""
        from fim_tray.app import settings

        return settings.set_notify(self.store, path, on)

    def ignore_patterns(self, path: str) -> tuple[str, ...]:
        """A folder's own ignore patterns."""
        return self.store.folder(path).excludes

    # -- status and history --------------------------------------------------------------------

    def status(self) -> list[FolderStatus]:
        """Per folder: file count in the baseline, last check, pending changes, last error."""
        from fim_tray.app.status import status

        return status(self.store)

    def history(self, limit: int | None = None) -> list[Event]:
        self.store.check_folders(again=True)
        return self.store.history.read(limit)

    def history_stamp(self) -> tuple[tuple[str, int, int], ...]:
        """Changes whenever the history or its head does (see ``History.stamp``)."""
        return self.store.history.stamp()

    def verify_history(self) -> Verdict:
        """The history checked against its chain and head (see ``History.verify``)."""
        try:
            self.store.check_folders(again=True)
            return self.store.history.verify()
        except FimError as exc:
            return Verdict(0, exc.message)

    def last_full_check(self, folder: Folder) -> datetime | None:
        """When every file of ``folder`` was last re-hashed (its baseline counts as one)."""
        return self.store.last_full_check(folder)

    # -- saved copies, diff and restore --------------------------------------------------------

    def set_keep_copies(self, path: str, on: bool) -> tuple[Folder, CopyReport | None]:
        """Turn copies on (the files that still match the baseline are copied now) or off
        (the folder's copies are pruned)."""
        from fim_tray.app import copies

        return copies.set_keep_copies(self.store, path, on)

    def copies_status(self) -> CopiesStatus:
        from fim_tray.app import copies

        return copies.status(self.store)

    def prune_copies(self) -> PruneReport:
        from fim_tray.app import copies

        return copies.prune(self.store)

    def diff(self, path: str, file: str) -> DiffResult:
        """What changed inside ``file`` (relative to the watched folder, or absolute)."""
        from fim_tray.app import diff

        return diff.diff(self.store, path, file)

    def restore(
        self, path: str, file: str, *, expected_signature: str | None = None, force: bool = False
    ) -> RestoreResult:
        """Put ``file`` back as the baseline has it; see :func:`fim_tray.app.restore.restore`."""
        from fim_tray.app import restore

        return restore.restore(
            self.store, path, file, expected_signature=expected_signature, force=force
        )

    def undo_restore(self, path: str, file: str, *, force: bool = False) -> RestoreResult:
        """Put back what the last restore of ``file`` replaced."""
        from fim_tray.app import restore

        return restore.undo(self.store, path, file, force=force)
