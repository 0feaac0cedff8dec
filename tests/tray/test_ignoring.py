"""The tray's answer to a window's "Ignore...": what was dropped, and whether anything changed
(a pattern ignored already changes nothing, and has nothing to undo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fim_tray.app.ignore import IgnoreResult
from fim_tray.tray.ignoring import Ignorer
from fim_tray.ui.details import ignored_words


class _Service:
    def __init__(self, changed: bool) -> None:
        self.changed = changed

    def ignore(self, folder: str, pattern: str) -> IgnoreResult:
        return IgnoreResult(folder, pattern, self.changed, ("a.log",) if self.changed else ())


class _Monitor:
    def call(self, task: Callable[[], object], folder: str | None = None) -> None:
        task()

    def run_once(self, folder: str) -> None:
        pass


def test_the_window_hears_whether_the_pattern_was_new() -> None:
    for changed in (True, False):
        told: list[dict[str, Any]] = []
        Ignorer(_Service(changed), _Monitor()).request(  # type: ignore[arg-type]
            "/w", "*.log", False, told.append
        )
        assert told[0]["ignored"]["changed"] is changed


def test_the_status_line_says_it_or_them_as_many_were_dropped() -> None:
    assert ignored_words("*.log", 2, changed=True).endswith(
        "2 pending changes dropped. Undo puts them back."
    )
    assert ignored_words("*.log", 1, changed=True).endswith(
        "1 pending change dropped. Undo puts it back."
    )
    assert "no pending change dropped" in ignored_words("*.log", 0, changed=True)
    already = ignored_words("*.log", 0, changed=False)
    assert already == "*.log is already ignored: nothing changed." and "Undo" not in already
