"""The tray's side of "Ignore..." in a window: the pattern is added (or, for an undo, removed)
on the monitor thread, the folder is checked again so the icon, the menu and every window
agree, and the window hears what was dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.errors import FimError
from fim_tray.models import Entry

log = logging.getLogger(__name__)

Told = Callable[[dict[str, object]], None]


class Ignorer:
    """Applies ignore and undo requests; keeps what each ignore took out of a baseline, so its
    undo puts it back (the changes it dropped are pending again)."""

    def __init__(self, service: Service, monitor: Monitor) -> None:
        self.service = service
        self.monitor = monitor
        self._forgotten: dict[tuple[str, str], Mapping[str, Entry]] = {}

    def request(self, folder: str, pattern: str, undo: bool, told: Told) -> None:
        """From a window's thread: the work happens on the monitor thread, between scans."""
        word = "unignored" if undo else "ignored"

        def task() -> None:
            try:
                if undo:
                    put_back = self._forgotten.pop((folder, pattern), None)
                    result = self.service.unignore(folder, pattern, put_back)
                else:
                    result = self.service.ignore(folder, pattern)
                    self._forgotten[(result.folder, result.pattern)] = result.forgotten
            except FimError as exc:
                told({word: {"folder": folder, "pattern": pattern, "error": exc.message}})
                return
            log.info("%s %s in %s (%d dropped)", word, pattern, folder, len(result.dropped))
            told({word: {"folder": result.folder, "pattern": result.pattern,
                         "dropped": list(result.dropped)}})  # fmt: skip
            self.monitor.run_once(result.folder)  # the pending count and every window follow

        self.monitor.call(task, folder)
