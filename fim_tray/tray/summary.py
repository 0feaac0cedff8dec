"""One summary a day instead of a notification per change (the ``notify_summary`` setting): the
changes announced meanwhile are counted by folder (kept in a small file, so a restart keeps
them), and at the chosen time one notification says how many, opening History on a click. A
folder's problem and a suspicious change are never held: they go out at once."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from time import monotonic

from fim_tray import jsonio
from fim_tray.errors import FimError
from fim_tray.models import Change
from fim_tray.tray.presenter import folder_label

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]
KEPT_LIMIT = 1_000_000  # bytes: a file of held counts bigger than this is not ours


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
        self,
        send: Send,
        when: Callable[[], str],
        clock: Callable[[], datetime],
        keep: Path | None = None,
    ) -> None:
        self.send = send
        self.when = when
        self.clock = clock
        self.keep = keep  # where the counts held are kept between runs (None: only in memory)
        self._lock = threading.Lock()
        self.counts: Counter[str] = self._load()
        self.stop = threading.Event()
        self._wake = threading.Event()  # the setting changed, or stop: look again now
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """The setting may have changed: look at it now (switched back to notifying at once,
        what was held goes out before anything newer)."""
        self._wake.set()

    def close(self) -> None:
        self.stop.set()
        self._wake.set()

    def _wait(self, seconds: float) -> None:
        end = monotonic() + seconds
        while not (self.stop.is_set() or self._wake.is_set()) and monotonic() < end:
            self._wake.wait(min(0.5, max(0.0, end - monotonic())))
        self._wake.clear()

    def held(self, folder: str, changes: Sequence[Change]) -> bool:
        """Count ``changes`` of ``folder`` for the summary; False when the caller notifies now:
        notifying at once, nothing to count (a folder's problem), or a suspicious change among
        them."""
        if not self.when() or not changes or any(c.suspicious for c in changes):
            return False
        with self._lock:
            self.counts[folder] += len(changes)
            self._save(self.counts)
        return True

    def _load(self) -> Counter[str]:
        if self.keep is None:
            return Counter()
        try:
            kept = jsonio.loads(jsonio.read_own(self.keep, KEPT_LIMIT))
        except FileNotFoundError:
            return Counter()
        except (OSError, ValueError) as exc:
            log.warning("the changes held for the daily summary cannot be read: %s", exc)
            return Counter()
        counts = kept.get("counts") if isinstance(kept, dict) else None
        if not isinstance(counts, dict):
            return Counter()
        return Counter(
            {f: n for f, n in counts.items() if isinstance(f, str) and type(n) is int and n > 0}
        )

    def _save(self, counts: Counter[str]) -> None:
        if self.keep is None:
            return
        try:
            data = jsonio.dumps({"counts": dict(counts)})
            jsonio.atomic_write(self.keep, data, durable=False)
        except (OSError, ValueError, FimError) as exc:  # ValueError: a name not UTF-8
            log.warning("the changes held for the daily summary cannot be kept: %s", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fim-tray-summary", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            hhmm = self.when()
            if not hhmm:  # notifying at once: what was held before goes out now
                self.flush()
                self._wait(60)  # and the setting is looked at again later
                continue
            due = next_time(self.clock(), hhmm)
            while not self.stop.is_set() and self.clock() < due:
                # Short waits: a changed setting or a clock change is seen within a minute.
                self._wait(min(60.0, (due - self.clock()).total_seconds()))
                if self.when() != hhmm:
                    break
            else:
                if not self.stop.is_set():
                    self.flush()

    def flush(self) -> None:
        """Send the summary of what was held back, if anything was."""
        with self._lock:
            counts, self.counts = +self.counts, Counter()  # +: never a folder at 0
            if counts:
                self._save(self.counts)
        if counts:
            self.send(*summary_text(counts))
