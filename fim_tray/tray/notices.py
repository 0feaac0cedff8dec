"""The words of a notification: one per check that found something new (a burst as one, long
names cut to fit), one for a folder that cannot be checked, and the pace they go out at."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fim_tray.display import escape, notice_detail
from fim_tray.models import Change, Folder, FolderReport, Writer

NAMES_IN_NOTICE = 4  # file names spelled out in one notification
COOLDOWN = 20.0  # seconds between two notifications of changes in one folder


def plural(count: int, word: str) -> str:
    """``1 change``, ``1,234 changes``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def folder_label(path: str) -> str:
    """``Documents`` for ``/home/ann/Documents``; the path itself for a root; a long name is
    cut in its middle, to fit a menu line and a notification's title."""
    return middle(escape(os.path.basename(path.rstrip("/\\")) or path), 40)


@dataclass(frozen=True)
class Notice:
    """One notification: its text and the changes it announces (for the details on click)."""

    title: str
    body: str
    folder: str
    changes: tuple[Change, ...]
    time: datetime
    hints: Mapping[str, Writer] = field(default_factory=dict)  # path -> who was writing it


def notice_for(report: FolderReport) -> Notice | None:
    """The notification for a report's *new* changes; None when there is nothing new."""
    new = report.new
    if not new:
        return None
    label = folder_label(report.folder.path)
    when = f"{report.time:%H:%M:%S}"
    suspicious = any(c.suspicious for c in new)
    if len(new) == 1:
        change = new[0]
        title = f"{shorten(escape(os.path.basename(change.path)), 48)} {change.kind} in {label}"
    else:
        title = f"{len(new):,} files changed in {label}"
    if suspicious:
        title = "Suspicious change: " + title
    lines = [f"At {when} on {report.time:%Y-%m-%d}"]
    for change in new[:NAMES_IN_NOTICE]:
        line = f"{change.kind}: {middle(escape(change.path), 60)}"  # "and 7 more" stays in view
        what = notice_detail(change)
        if what:
            line += f" ({what})"
        if change.path in report.hints:  # a hint, and said as one
            line += f", written by {escape(str(report.hints[change.path]))}?"
        lines.append(line)
    if len(new) > NAMES_IN_NOTICE:
        lines.append(f"and {len(new) - NAMES_IN_NOTICE} more")
    return Notice(title, "\n".join(lines), report.folder.path, new, report.time, report.hints)


def problem_notice(report: FolderReport) -> Notice:
    """The notification that a folder cannot be checked: missing, unmounted, replaced, or its
    state refused."""
    label = folder_label(report.folder.path)
    title = f"{label} is missing" if report.missing else f"Problem with {label}"
    body = f"At {report.time:%H:%M:%S}: {shorten(report.error or '', 200)}"
    return Notice(title, body, report.folder.path, (), report.time)


def middle(text: str, width: int) -> str:
    """``text`` cut in its middle to ``width`` characters: a path keeps its start and its name."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep // 3] + "\u2026" + text[-(keep - keep // 3) :]


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "\u2026"


class Pacer:
    """At most one notification of changes per folder every COOLDOWN seconds: a storm over many
    files is one notification, then one that gathers what came meanwhile, and so on, instead
    of one at every check."""

    def __init__(self, cooldown: float = COOLDOWN, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self._sent: dict[str, float] = {}  # folder -> when its last notification went out
        self._held: dict[str, FolderReport] = {}  # folder -> what waits, as one report
        self._lock = threading.Lock()

    def pace(self, notice: Notice) -> Notice | None:
        """The notice to send now (with whatever waited before it), or None when it waits."""
        with self._lock:
            waiting = self._held.get(notice.folder)
            changes = {c.path: c for c in (waiting.new if waiting else ())}
            changes.update((c.path, c) for c in notice.changes)  # each path once, its latest
            hints = {**(waiting.hints if waiting else {}), **notice.hints}
            self._held[notice.folder] = FolderReport(
                Folder(notice.folder, ""), notice.time, new=tuple(changes.values()), hints=hints
            )
        due = self.due(notice.folder)
        return due[0] if due else None

    def due(self, only: str | None = None) -> list[Notice]:
        """What waited long enough (of folder ``only``, or of every one), one notice a folder."""
        now = self.clock()
        out = []
        with self._lock:
            for folder, report in list(self._held.items()):
                if only not in (None, folder):
                    continue
                last = self._sent.get(folder)
                if last is None or now - last >= self.cooldown:
                    del self._held[folder]
                    self._sent[folder] = now
                    notice = notice_for(report)
                    if notice is not None:
                        out.append(notice)
        return out
