"""One summary a day instead of a notification per change (the ``notify_summary`` setting): the
changes announced meanwhile are counted by folder, and at the chosen time one notification says
how many, opening History on a click."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, time, timedelta

from fim_tray.tray.presenter import folder_label

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]


def next_time(now: datetime, hhmm: str) -> datetime:
    """The next moment the clock shows ``hhmm`` (today, or tomorrow when it has passed)."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    today = datetime.combine(now.date(), time(hours, minutes), tzinfo=now.tzinfo)
    return today if today > now else today + timedelta(days=1)


def summary_text(counts: Counter[str]) -> tuple[str, str]:
    """The title and body of one summary of ``counts`` (folder -> changes announced)."""
    total = sum(counts.values())
    title = f"fim-tray: {total:,} change{'s' if total != 1 else ''} today"
    lines = [
        f"{folder_label(folder)}: {count:,} change{'s' if count != 1 else ''}"
        for folder, count in counts.most_common(5)
    ]
    if len(counts) > 5:
        lines.append(f"and {len(counts) - 5:,} more folders")
    return title, "\n".join(lines) + "\nClick to open History."


class DailySummary:
    """Counts what it is told to hold back and sends one summary at the set time; ``when``
    reads the setting ("" when notifying at once), ``clock`` gives the local time."""

    def __init__(
        self, send: Send, when: Callable[[], str], clock: Callable[[], datetime]
    ) -> None:
        self.send = send
        self.when = when
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    def held(self, folder: str, count: int) -> bool:
        """Count ``count`` changes of ``folder`` for the summary; False when notifying at once
        (the caller notifies now)."""
        if not self.when():
            return False
        with self._lock:
            self.counts[folder] += count
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fim-tray-summary", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            hhmm = self.when()
            if not hhmm:
                self.stop.wait(60)  # notifying at once: look at the setting again later
                continue
            due = next_time(self.clock(), hhmm)
            while not self.stop.is_set() and self.clock() < due:
                # Short waits: a changed setting or a clock change is seen within a minute.
                self.stop.wait(min(60.0, (due - self.clock()).total_seconds()))
                if self.when() != hhmm:
                    break
            else:
                if not self.stop.is_set():
                    self.flush()

    def flush(self) -> None:
        """Send the summary of what was held back, if anything was."""
        with self._lock:
            counts, self.counts = self.counts, Counter()
        if counts:
            self.send(*summary_text(counts))
