"""The tray's side of "Ignore..." in a window: the pattern is added (or, for an undo, removed)
on the monitor thread, the folder is checked again so the icon, the menu and every window
agree, and the window hears what was dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.errors import FimError

log = logging.getLogger(__name__)

Told = Callable[[dict[str, object]], None]


class Ignorer:
    """Applies ignore and undo requests (an undo puts back what the ignore took out of the
    baseline, so the changes it dropped are pending again)."""

    def __init__(self, service: Service, monitor: Monitor) -> None:
        self.service = service
        self.monitor = monitor

    def request(self, folder: str, pattern: str, undo: bool, told: Told) -> None:
        """From a window's thread: the work happens on the monitor thread, between scans."""
        word = "unignored" if undo else "ignored"

        def task() -> None:
            try:
                if undo:  # the records it set aside go back (see app/ignore.py)
                    result = self.service.unignore(folder, pattern)
                else:
                    result = self.service.ignore(folder, pattern)
            except FimError as exc:
                told({word: {"folder": folder, "pattern": pattern, "error": exc.message}})
                return
            log.info("%s %s in %s (%d dropped)", word, pattern, folder, len(result.dropped))
            told({word: {"folder": result.folder, "pattern": result.pattern,
                         "dropped": list(result.dropped), "changed": result.changed}})  # fmt: skip
            self.monitor.run_once(result.folder)  # the pending count and every window follow

        self.monitor.call(task, folder)
