"""The monitor loop: checks the watched folders at an interval and runs requests in between.

One thread does every scan, so scans never overlap and a front end only enqueues requests
(check now, watch a folder, pause, resume) and never blocks. Reports go to ``sink``; progress
and other happenings, as frozen objects, to ``on_event``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fim_tray.errors import FimError, ScanCancelled
from fim_tray.models import FolderReport
from fim_tray.service import Service

log = logging.getLogger(__name__)

STOP_POLL = 0.25  # seconds: how soon ``run`` notices ``stop`` set without a request


@dataclass(frozen=True)
class Scanning:
    """A scan of ``folder`` is under way; ``first`` when it records a new baseline."""

    folder: str
    files: int
    first: bool = False


@dataclass(frozen=True)
class Watched:
    """A new folder's baseline was recorded (never a reason to notify)."""

    folder: str
    files: int
    problems: int


@dataclass(frozen=True)
class Failed:
    """A request could not be done; ``message`` is fit to show a person."""

    title: str
    message: str
    folder: str | None = None


@dataclass(frozen=True)
class PausedChanged:
    paused: bool


@dataclass(frozen=True)
class Accepted:
    """``count`` changes went into the baseline of ``folder`` (of every folder when None)."""

    folder: str | None
    count: int


MonitorEvent = Scanning | Watched | Failed | PausedChanged | Accepted
Sink = Callable[[FolderReport], None]


@dataclass(frozen=True)
class _Request:
    kind: str  # "check", "watch", "accept", "pause", "resume", "wake"
    path: str | None = None
    full: bool = False
    signatures: frozenset[str] | None = None  # for "accept": None accepts everything


class Monitor:
    """Polls at ``interval`` seconds (the settings' interval when None) until stopped.

    ``run`` blocks (the command line's ``monitor`` calls it on the main thread); ``start`` runs
    it on a named daemon thread for the tray. One folder's error never ends the loop.
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
    ) -> None:
        self.service = service
        self.sink = sink
        self.on_event = on_event or (lambda event: None)
        self.interval = interval
        self.path = path
        self.stop = stop or threading.Event()
        self.clock = clock
        self.paused = False
        self._requests: queue.Queue[_Request] = queue.Queue()
        self._thread: threading.Thread | None = None

    # -- requests, safe to call from any thread ------------------------------------------------

    def check_now(self, path: str | None = None, *, full: bool = False) -> None:
        self._requests.put(_Request("check", path, full))

    def watch(self, path: str) -> None:
        self._requests.put(_Request("watch", path))

    def accept(self, path: str | None = None, signatures: frozenset[str] | None = None) -> None:
        """Accept the changes named by signature in folder ``path``, or every change when
        ``signatures`` is None (in every folder when ``path`` is None too)."""
        self._requests.put(_Request("accept", path, signatures=signatures))

    def pause(self) -> None:
        self._requests.put(_Request("pause"))

    def resume(self) -> None:
        self._requests.put(_Request("resume"))

    # -- the loop ------------------------------------------------------------------------------

    def run_once(self, path: str | None = None, *, full: bool = False) -> list[FolderReport]:
        """Check each folder (or one) once, handing every report to the sink when ready."""
        config = self.service.config()
        target = path or self.path
        folders = (self.service.folder(target),) if target else config.folders
        reports = []
        for folder in folders:
            if self.stop.is_set():
                break
            self.on_event(Scanning(folder.path, 0))
            try:
                report = self.service.check_folder(
                    folder, config, full=full, stop=self.stop, progress=self._progress(folder.path)
                )
            except ScanCancelled:
                break
            except Exception as exc:  # a bug or an odd OS error in one folder: report, go on
                log.exception("checking %s failed", folder.path)
                message = f"Checking {folder.path} failed unexpectedly: {exc}"
                report = FolderReport(folder, self.service.clock(), error=message)
            reports.append(report)
            self.sink(report)
        return reports

    def _progress(self, folder: str, first: bool = False) -> Callable[[int], None]:
        def report(files: int) -> None:
            self.on_event(Scanning(folder, files, first))

        return report

    def _interval(self) -> float:
        if self.interval is not None:
            return self.interval
        try:
            return self.service.config().interval
        except FimError:
            return 60.0

    def run(self) -> None:
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
            try:
                if request is None:
                    self.run_once()
                    next_poll = self.clock() + self._interval()
                else:
                    self._handle(request)
            except FimError as exc:  # settings unreadable, folder gone: say so, keep going
                log.warning("%s", exc.message)
                self.on_event(Failed(exc.title, exc.message))
                next_poll = self.clock() + self._interval()

    def _handle(self, request: _Request) -> None:
        if request.kind == "check":
            self.run_once(request.path, full=request.full)
        elif request.kind == "accept":
            self._accept(request.path, request.signatures)
        elif request.kind == "watch" and request.path is not None:
            self._watch(request.path)
        elif request.kind in ("pause", "resume"):
            self.paused = request.kind == "pause"
            self.on_event(PausedChanged(self.paused))
            if not self.paused:  # catch up at once with what happened while paused
                self.run_once()

    def _accept(self, path: str | None, signatures: frozenset[str] | None) -> None:
        """Accept on this thread, between scans, then check again so every view agrees."""
        if signatures is not None and path is not None:
            reports = [self.service.accept_changes(path, signatures)]
        else:
            reports = self.service.accept(path)
        accepted = sum(len(r.changes) for r in reports)
        self.on_event(Accepted(path, accepted))
        for report in reports:
            self.run_once(report.folder.path)

    def _watch(self, path: str) -> None:
        self.on_event(Scanning(path, 0, first=True))
        try:
            folder, result = self.service.watch(
                path,
                stop=self.stop,
                progress=self._progress(path, first=True),
            )
        except ScanCancelled:
            return
        except FimError as exc:
            self.on_event(Failed(exc.title, exc.message, path))
            return
        files = len(result.entries) if result is not None else 0
        problems = len(result.problems) if result is not None else 0
        self.on_event(Watched(folder.path, files, problems))

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
