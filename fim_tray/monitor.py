"""The monitor loop: checks every watched folder at an interval and hands each report on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fim_tray.errors import FimError, ScanCancelled
from fim_tray.models import FolderReport
from fim_tray.service import Service

log = logging.getLogger(__name__)

Sink = Callable[[FolderReport], None]


class Monitor:
    """Polls at ``interval`` seconds until ``stop`` is set; one folder's error never ends it.

    ``run`` blocks (the command line's ``monitor`` calls it on the main thread); ``start`` runs
    it on a named daemon thread for the tray.
    """

    def __init__(
        self,
        service: Service,
        sink: Sink,
        *,
        interval: float | None = None,
        path: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.service = service
        self.sink = sink
        self.interval = interval
        self.path = path
        self.stop = stop or threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[FolderReport]:
        """Check each folder once, handing every report to the sink as soon as it is ready."""
        config = self.service.config()
        folders = (self.service.folder(self.path),) if self.path else config.folders
        reports = []
        for folder in folders:
            if self.stop.is_set():
                break
            try:
                report = self.service.check_folder(folder, config, stop=self.stop)
            except ScanCancelled:
                break
            reports.append(report)
            self.sink(report)
        return reports

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.run_once()
                interval = self.interval or self.service.config().interval
            except FimError as exc:  # settings unreadable: say so, keep trying
                log.error("%s", exc.message)
                interval = self.interval or 60.0
            self.stop.wait(interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="fim-tray-monitor", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
