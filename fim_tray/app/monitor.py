"""The monitor loop: checks the watched folders at an interval and runs requests in between.

One thread does every scan, so scans never overlap and a front end only enqueues requests
(check now, watch a folder, pause, resume) and never blocks. Reports go to ``sink``; progress
and other happenings, as frozen objects, to ``on_event``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fim_tray.app.check import own_patterns
from fim_tray.app.events import (
    Accepted as Accepted,
)
from fim_tray.app.events import (
    Accepting as Accepting,
)
from fim_tray.app.events import (
    EventsState as EventsState,
)
from fim_tray.app.events import (
    Failed as Failed,
)
from fim_tray.app.events import (
    Gone as Gone,
)
from fim_tray.app.events import (
    Held as Held,
)
from fim_tray.app.events import (
    HistoryState as HistoryState,
)
from fim_tray.app.events import (
    MonitorEvent as MonitorEvent,
)
from fim_tray.app.events import (
    PausedChanged as PausedChanged,
)
from fim_tray.app.events import (
    PowerState as PowerState,
)
from fim_tray.app.events import (  # re-exported: the front ends take them from here
    Scanning as Scanning,
)
from fim_tray.app.events import (
    Sink as Sink,
)
from fim_tray.app.events import (
    Watched as Watched,
)
from fim_tray.app.presence import LOOK_EVERY, Presence
from fim_tray.app.service import Service
from fim_tray.errors import FimError, ScanCancelled
from fim_tray.models import ChangeKey, Folder, FolderReport, Writer
from fim_tray.platform import power
from fim_tray.platform.priority import lower_this_thread
from fim_tray.platform.watcher import EventWatcher
from fim_tray.platform.writers import writers
from fim_tray.scan.throttle import throttle_for

log = logging.getLogger(__name__)

SAFETY_POLL = 900.0  # seconds between polls while file events cover every folder
STOP_POLL = 0.25  # seconds: how soon ``run`` notices ``stop`` set without a request
POWER_POLL = 30.0  # seconds between looks at the power while held back on battery


@dataclass(frozen=True)
class _Request:
    kind: str  # check, changed, moved, lost, watch, accept, call, pause, resume, wake
    path: str | None = None
    full: bool = False
    keys: frozenset[ChangeKey] | None = None  # for "accept": None accepts everything
    paths: frozenset[str] = frozenset()  # for "changed": what the OS said was touched
    hints: Mapping[str, Writer] = field(default_factory=dict)  # for "changed": who was writing
    why: str = ""  # for "lost"
    task: Callable[[], object] | None = None  # for "call"
    done: Accepting | None = None  # for "accept": told what was taken in, or why nothing was


class _Cancel(threading.Event):
    """What a scan watches to stop: set to interrupt the scan under way (a pause, a folder no
    longer watched), and set too whenever the monitor's own ``stop`` is."""

    def __init__(self, outer: threading.Event) -> None:
        super().__init__()
        self._outer = outer

    def is_set(self) -> bool:
        return super().is_set() or self._outer.is_set()


class Monitor:
    """Polls at ``interval`` seconds (the settings' interval when None) until stopped.

    ``run`` blocks (the command line's ``monitor`` calls it on the main thread); ``start`` runs
    it on a named daemon thread for the tray. One folder's error never ends the loop. Its scans
    read at most ``max_mb_per_s`` (a setting); with ``pause_on_battery`` on, the scheduled polls
    and full re-hashes wait while ``on_battery`` says True (requested checks and file events
    still run: they read little).
    """

    def __init__(
        self,
        service: Service,
        sink: Sink,
        *,
        interval: float | None = None,
        path: str | None = None,
        stop: threading.Event | None = None,
        on_event: Callable[[MonitorEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        events: bool = False,
        background: bool = False,
        full_every: float | None = None,
        watcher_factory: Callable[..., EventWatcher] = EventWatcher,
        on_battery: Callable[[], bool | None] = power.on_battery,
    ) -> None:
        self.service = service
        self.sink = sink
        self.on_event = on_event or (lambda event: None)
        self.interval = interval
        self.path = path
        self.stop = stop or threading.Event()
        self.clock = clock
        self.paused = False
        self.events = events
        self.background = background
        self.full_every = full_every
        self._watcher_factory = watcher_factory
        self._on_battery = on_battery
        self._held = False  # scheduled scans held back on battery (as last told in PowerState)
        self._history_stamp: object = None  # the history as last verified (see check_history)
        self._history_problem: str | None = None
        self._watcher: EventWatcher | None = None
        self._presence = Presence()  # each folder's identity, looked at every LOOK_EVERY s
        self._patterns: dict[str, tuple[str, ...]] = {}  # each folder's, at the last look
        self._cancel = _Cancel(self.stop)  # what scans watch: see interrupt()
        self._scanning: str | None = None  # the folder a scan is under way in
        self._first = False  # and whether that scan records its first baseline
        self._dropped: set[str] = set()  # folders whose first baseline was stopped for good
        self._held_watches: list[str] = []  # first baselines interrupted by a pause
        self._pausing = False  # a pause asked for and not yet taken: nothing new starts
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._thread: threading.Thread | None = None

    # -- requests, safe to call from any thread ------------------------------------------------

    def check_now(self, path: str | None = None, *, full: bool = False) -> None:
        self._requests.put(_Request("check", path, full))

    def watch(self, path: str) -> None:
        self._requests.put(_Request("watch", path))

    def accept(
        self,
        path: str | None = None,
        keys: frozenset[ChangeKey] | None = None,
        done: Accepting | None = None,
    ) -> None:
        """Accept the changes named by ``keys`` in folder ``path``, or every change announced
        when ``keys`` is None (in every folder when ``path`` is None too); ``done`` hears which
        were taken in (a change that changed again since it was shown is not), or the error."""
        self._requests.put(_Request("accept", path, keys=keys, done=done))

    def call(self, task: Callable[[], object], folder: str | None = None) -> None:
        """Run ``task`` on the monitor thread, between scans (settings that read or write many
        files); a failure becomes a ``Failed`` event for ``folder``."""
        self._requests.put(_Request("call", folder, task=task))

    def pause(self) -> None:
        """Pause; a scan under way stops within a moment (a first baseline starts over on
        resume)."""
        self._pausing = True
        self._cancel.set()
        self._requests.put(_Request("pause"))

    def interrupt(self, path: str) -> None:
        """Stop a scan of ``path`` under way now (before it is no longer watched): a first
        baseline of it is dropped."""
        if self._scanning == path:
            if self._first:
                self._dropped.add(path)
            self._cancel.set()

    def resume(self) -> None:
        self._requests.put(_Request("resume"))

    def settings_changed(self) -> None:
        """The settings were saved: the next poll follows the new interval from now on."""
        self._requests.put(_Request("settings"))

    # -- the loop ------------------------------------------------------------------------------

    def run_once(
        self,
        path: str | None = None,
        *,
        full: bool = False,
        paths: frozenset[str] | None = None,
        hints: Mapping[str, Writer] | None = None,
    ) -> list[FolderReport]:
        """Check each folder (or one) once, handing every report to the sink when ready."""
        config = self.service.config()
        target = path or self.path
        folders = (self.service.folder(target),) if target else config.folders
        throttle = throttle_for(config.max_mb_per_s)  # one bucket: the cap spans the folders
        reports = []
        for folder in folders:
            if self.stop.is_set():
                break
            self.on_event(Scanning(folder.path, 0))
            self._scanning = folder.path
            try:
                report = self.service.check_folder(
                    folder,
                    config,
                    full=full,
                    stop=self._cancel,
                    progress=self._progress(folder.path),
                    paths=paths,
                    throttle=throttle,
                )
            except ScanCancelled:
                break
            except Exception as exc:  # a bug or an odd OS error in one folder: report, go on
                log.exception("checking %s failed", folder.path)
                message = f"Checking {folder.path} failed unexpectedly: {exc}"
                report = FolderReport(folder, self.service.clock(), error=message)
            finally:
                self._scanning = None
            if hints:  # only for what was written: never for a chmod or a delete
                written = {c.path for c in report.changes if c.kind in ("added", "modified")}
                found = {p: h for p, h in hints.items() if p in written}
                report = report._replace(hints=found) if found else report
            reports.append(report)
            self.sink(report)
        return reports

    def _progress(self, folder: str, first: bool = False) -> Callable[[int], None]:
        def report(files: int) -> None:
            self.on_event(Scanning(folder, files, first))

        return report

    def _interval(self) -> float:
        """Seconds to the next poll: the setting, or longer while file events cover everything,
        since polling is then only the safety net."""
        if self.interval is not None:
            return self.interval
        try:
            config = self.service.config()
        except FimError:
            return 60.0
        watcher = self._watcher
        if watcher is not None and all(watcher.watching(f.path) for f in config.folders):
            return max(config.interval, SAFETY_POLL)
        return config.interval

    # -- file events ---------------------------------------------------------------------------

    def _start_events(self) -> None:
        paths = self.service.paths
        watcher = self._watcher_factory(
            self._files_changed,
            self._events_lost,
            ignore=[str(paths.data_dir), str(paths.config_dir)],  # our own writes
        )
        if not watcher.start():
            self.on_event(EventsState(None, False, "file events are not available here"))
            return
        self._watcher = watcher
        try:
            folders = self.service.folders()
        except FimError:
            return
        for folder in folders:
            if self.path is None or folder.path == self.path:
                self._watch_events(folder.path)

    def _watch_events(self, folder: str) -> None:
        if self._watcher is not None and self._watcher.watch(folder):
            self.on_event(EventsState(folder, True))

    def _files_changed(self, folder: str, paths: frozenset[str]) -> None:
        own = self.service.store.own_state_in(folder)
        if own:  # our own writes, through a link put on the way since: never a reason to check
            ours = re.compile("|".join(fnmatch.translate(p[1:]) for p in own_patterns(own)))
            paths = frozenset(p for p in paths if not ours.match(p.strip("/")))
            if not paths:
                return
        # Who is writing, looked for now: by the time the check runs, the writer may be done.
        where = {os.path.join(folder, rel): rel for rel in paths}
        hints = {where[path]: writer for path, writer in writers(where).items()}
        self._requests.put(_Request("changed", folder, paths=paths, hints=hints))

    def _events_lost(self, folder: str | None, why: str) -> None:
        self._requests.put(_Request("lost", folder, why=why))

    def _full_due(self) -> list[Folder]:
        """Folders whose last full re-hash is older than ``full_every`` (the settings'
        ``full_check_hours`` when None)."""
        now = self.service.clock()
        every = self.full_every
        if every is None:
            every = self.service.config().full_check_hours * 3600.0
        due = []
        for folder in self.service.folders():
            last = self.service.last_full_check(folder)
            if self.path in (None, folder.path) and (
                last is None or (now - last).total_seconds() >= every
            ):
                due.append(folder)
        return due

    def run(self) -> None:
        if self.background:
            lower_this_thread()  # scans started from here, and their workers, run at low priority
        if self.events:
            self._start_events()
        looker = threading.Thread(target=self._keep_looking, name="fim-tray-presence", daemon=True)
        looker.start()
        try:
            self._loop()
        finally:
            self.stop.set()
            looker.join(LOOK_EVERY + 5)
            if self._watcher is not None:
                self._watcher.stop()
                self._watcher = None

    def _loop(self) -> None:
        next_poll = self.clock()
        while not self.stop.is_set():
            due = None if self.paused else max(0.0, next_poll - self.clock())
            # Wake now and then even so: ``stop`` may be set directly, with no request to wake us.
            timeout = STOP_POLL if due is None else min(due, STOP_POLL)
            try:
                request: _Request | None = self._requests.get(timeout=timeout)
            except queue.Empty:
                if self.paused or self.clock() < next_poll:
                    continue
                request = None
            if self.stop.is_set():
                break
            if not self._pausing:
                self._cancel.clear()  # an interrupt is for the scan that was under way
            try:
                if request is None and self._held_on_battery():
                    # Skipped, not queued: on outside power the next poll catches up anyway.
                    next_poll = self.clock() + min(self._interval(), POWER_POLL)
                elif request is None:
                    full_due = self._full_due()
                    self.run_once()
                    for folder in full_due:  # the scheduled full re-hash, after the quick checks
                        self.run_once(folder.path, full=True)
                    self.check_history()
                    next_poll = self.clock() + self._interval()
                elif request.kind == "settings":  # a shorter interval counts from now
                    next_poll = min(next_poll, self.clock() + self._interval())
                else:
                    self._handle(request)
            except FimError as exc:  # settings unreadable, folder gone: say so, keep going
                log.warning("%s", exc.message)
                self.on_event(Failed(exc.title, exc.message))
                next_poll = self.clock() + self._interval()
            except Exception as exc:  # a bug or an odd OS error must not end the watching
                log.exception("the monitor's %s failed", request.kind if request else "poll")
                self.on_event(Failed("Something went wrong", f"{exc.__class__.__name__}: {exc}"))
                next_poll = self.clock() + self._interval()

    def _keep_looking(self) -> None:
        """Every LOOK_EVERY seconds, on a thread of its own so that a long scan never delays it:
        a folder unmounted, deleted, renamed or replaced is said at once (``Gone``) and checked
        next (a scan of it under way ends); one that came back is checked too, with its file
        events armed again. Events that stopped coming are said, and polling takes over."""
        while not self.stop.is_set():  # the first look at once: what is there at the start
            if not (self.paused or self._pausing):
                try:
                    self._look_at_folders()
                except Exception:  # a look must never end the watching
                    log.exception("looking at the watched folders failed")
            self.stop.wait(LOOK_EVERY)

    def _look_at_folders(self) -> None:
        try:
            watched = [f for f in self.service.folders() if self.path in (None, f.path)]
        except FimError as exc:
            log.debug("cannot look at the watched folders: %s", exc.message)
            return
        self._look_at_patterns(watched)
        folders = [f.path for f in watched]
        moved = self._presence.changed(folders)
        for path in moved:
            gone = self._presence.missing(path)
            log.info("the watched folder %s is %s", path, "missing" if gone else "another folder")
            if gone:
                self.on_event(Gone(path))
            if self._scanning == path:
                self._cancel.set()  # its scan under way can only fail or mislead: checked anew
            self._requests.put(_Request("moved", path))
        watcher = self._watcher
        for path in folders:  # events that stopped coming: polling takes over, and says so
            if path in moved or self._presence.missing(path) or watcher is None:
                continue
            if watcher.watching(path) and not watcher.healthy(path):
                watcher.unwatch(path)
                self._events_lost(path, "they stopped: a folder in it may be nested too deep")

    def _look_at_patterns(self, watched: list[Folder]) -> None:
        """A folder that lost an ignore pattern since the last look (``ignore --remove`` on
        the command line, or the settings file edited by hand) is checked at once: what the
        pattern hid, and changed meanwhile, is said now, not at its next change."""
        patterns = {folder.path: folder.excludes for folder in watched}
        for path, now in patterns.items():
            before = self._patterns.get(path)
            if before is not None and set(before) - set(now):
                log.info("an ignore pattern of %s was removed: checking it", path)
                self._requests.put(_Request("check", path))
        self._patterns = patterns

    def check_history(self) -> None:
        """Verify the history's chain when it changed since the last look, and say when what
        that shows changes (broken, or intact again)."""
        stamp = self.service.history_stamp()
        if stamp == self._history_stamp:
            return
        self._history_stamp = stamp
        problem = self.service.verify_history().problem
        if problem != self._history_problem:
            self._history_problem = problem
            self.on_event(HistoryState(problem))

    def _held_on_battery(self) -> bool:
        """Whether the scheduled poll waits: ``pause_on_battery`` is on and the machine runs on
        battery (unknown counts as outside power). The tray hears when this changes."""
        held = False
        if self.service.config().pause_on_battery:
            try:
                held = self._on_battery() is True
            except Exception:  # a power reading must never end the monitor
                log.debug("cannot tell whether on battery", exc_info=True)
        if held != self._held:
            self._held = held
            self.on_event(PowerState(held))
        return held

    def _handle(self, request: _Request) -> None:
        if request.kind == "check":
            self.run_once(request.path, full=request.full)
        elif request.kind == "changed" and request.path is not None:
            if self.paused:
                return  # the catch-up check on resume sees it
            if self.service.config().find(request.path) is None:  # no longer watched
                if self._watcher is not None:
                    self._watcher.unwatch(request.path)
                return
            self.run_once(request.path, paths=request.paths, hints=request.hints)
        elif request.kind == "moved" and request.path is not None:
            if self._watcher is not None:
                self._watcher.unwatch(request.path)
                if not self._presence.missing(request.path):
                    self._watch_events(request.path)
            self.run_once(request.path)
        elif request.kind == "lost":
            self.on_event(EventsState(request.path, False, request.why))
            self.run_once(request.path)  # whatever the lost events said, a rescan sees
        elif request.kind == "call" and request.task is not None:
            try:
                request.task()
            except FimError as exc:
                self.on_event(Failed(exc.title, exc.message, request.path))
        elif request.kind == "accept":
            try:
                self._accept(request.path, request.keys, request.done)
            except FimError as exc:
                if request.done is None:
                    raise
                request.done(frozenset(), exc.message)  # said where it was asked for
        elif request.kind == "watch" and request.path is not None:
            if self.paused or self._pausing:  # asked for before a pause: it starts on resume
                self._held_watches.append(request.path)
                self.on_event(Held(request.path, True))
                return
            self._watch(request.path)
        elif request.kind in ("pause", "resume"):
            self.paused = request.kind == "pause"
            self._pausing = False
            self.on_event(PausedChanged(self.paused))
            if not self.paused:  # catch up at once with what happened while paused
                held, self._held_watches = self._held_watches, []
                for path in held:  # first baselines a pause interrupted: from the start
                    self._watch(path)
                self.run_once()

    def _accept(
        self, path: str | None, keys: frozenset[ChangeKey] | None, done: Accepting | None = None
    ) -> None:
        """Accept on this thread, between scans, then check again so every view agrees."""
        if keys is not None:  # only these changes, in one folder or in every one
            paths = [path] if path is not None else [f.path for f in self.service.folders()]
            reports = [self.service.accept_changes(p, keys) for p in paths]
        else:  # only what was announced: anything newer is announced first, then accepted
            reports = self.service.accept_reported(path)
        accepted = sum(len(r.changes) for r in reports)
        self.on_event(Accepted(path, accepted))
        if done is not None:
            done(frozenset(c.key() for r in reports for c in r.changes), None)
        for report in reports:
            self.run_once(report.folder.path)

    def _watch(self, path: str) -> None:
        self.on_event(Scanning(path, 0, first=True))
        self._scanning, self._first = path, True
        try:
            folder, result = self.service.watch(
                path,
                stop=self._cancel,
                progress=self._progress(path, first=True),
                throttle=throttle_for(self.service.config().max_mb_per_s),
            )
        except ScanCancelled:
            if not self.stop.is_set():  # a pause (it starts over on resume) or Stop watching
                again = path not in self._dropped
                if again:
                    self._held_watches.append(path)
                self.on_event(Held(path, again))
            return
        except FimError as exc:
            self.on_event(Failed(exc.title, exc.message, path))
            return
        finally:
            self._scanning, self._first = None, False
            self._dropped.discard(path)
        files = len(result.entries) if result is not None else 0
        problems = len(result.problems) if result is not None else 0
        self.on_event(Watched(folder.path, files, problems))
        self._watch_events(folder.path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="fim-tray-monitor", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Stop the loop (a scan under way is cancelled) and wait for the thread to end."""
        self.stop.set()
        self._requests.put(_Request("wake"))
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
