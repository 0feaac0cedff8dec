"""What the tray shows, as plain data: icon state, tooltip, status line, notification text.

No pystray here: the mapping from engine reports to words and icons is tested headless.
"""

from __future__ import annotations

import os
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fim_tray.app.monitor import (
    Accepted,
    EventsState,
    Failed,
    Gone,
    Held,
    HistoryState,
    MonitorEvent,
    PausedChanged,
    PowerState,
    Scanning,
    Watched,
)
from fim_tray.display import describe, escape
from fim_tray.models import Change, Folder, FolderReport, Writer
from fim_tray.tray.icons import State

RECENT = 10  # changes listed under "Recent changes"
STATUS_WIDTH = 80  # characters of a message on the menu's first line
LINE_WIDTH = 100  # characters of that whole line, notes included
GRACE = 60.0  # seconds a file announced stays announced after it stops being pending
COOLDOWN = 20.0  # seconds between two notifications of changes in one folder
NAMES_IN_NOTICE = 4  # file names spelled out in one notification


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


@dataclass(frozen=True)
class Recent:
    """One line of "Recent changes"."""

    time: datetime
    folder: str
    change: Change
    batch: tuple[Change, ...] = ()  # every change the same check announced with it

    @property
    def label(self) -> str:
        name = escape(self.change.path)
        if len(name) > 48:
            name = "..." + name[-45:]
        return f"{self.time:%H:%M}  {self.change.kind}  {name}"


@dataclass
class FolderView:
    pending: int = 0
    error: str | None = None
    missing: bool = False  # the error says the folder itself is gone or replaced
    scanning: int | None = None  # files seen so far, while a scan runs
    first: bool = False  # recording the first baseline


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
        told = change.kind == "metadata" or change.suspicious  # content speaks for itself
        what = describe(change, brief=True) if told else ""
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


@dataclass
class TrayModel:
    """The tray's view of the monitor, updated from the monitor thread, read from the tray's."""

    folders: dict[str, FolderView] = field(default_factory=dict)
    recent: deque[Recent] = field(default_factory=lambda: deque(maxlen=RECENT))
    paused: bool = False
    message: str | None = None  # the last failure that is not about one folder
    degraded: list[str] = field(default_factory=list)  # features that do not work here
    polling: dict[str | None, str] = field(default_factory=dict)  # folder -> why no file events
    on_battery: bool = False  # scheduled checks held back on battery
    history_problem: str | None = None  # the history's chain is broken: where
    notify_problem: str | None = None  # the last notification could not be shown: why
    # folder -> path -> when it was last seen pending (monotonic): a file rewritten again and
    # again (a log, a database), or one that comes and goes (a lock file), is announced once
    # while it stays pending or within GRACE seconds of it; an accept starts afresh
    announced: dict[str, dict[str, float]] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def set_folders(self, paths: list[str], pending: dict[str, int] | None = None) -> None:
        with self._lock:
            self.folders = {p: self.folders.get(p, FolderView()) for p in paths}
            for path, count in (pending or {}).items():
                if path in self.folders:
                    self.folders[path].pending = count

    def apply_report(self, report: FolderReport) -> Notice | None:
        """Take in a check's report; the notification for what it found that was not announced
        already (a file still pending from an earlier announcement is not announced again,
        whatever it went through since: one alert per file while it stays pending)."""
        folder = report.folder.path
        with self._lock:
            view = self.folders.setdefault(folder, FolderView())
            view.scanning, view.first = None, False
            had = view.error
            view.error = report.error or report.warning  # changes found are counted anyway
            view.missing = report.missing
            if report.error is None:
                self.message = None  # a passing problem (a window that failed) heals here
            if report.error is None or report.changes:
                view.pending = len(report.changes) if report.pending is None else report.pending
            # What this tray has shown decides, not what another process marked as announced
            # (a `fim-tray check` beside it must not silence it); but at its first look at a
            # folder, what was pending before it started was announced then.
            first_look = folder not in self.announced
            shown = self.announced.setdefault(folder, {})
            now = self.clock()
            if report.error is None and (report.pending in (None, len(report.changes))):
                pending = {c.path for c in report.changes}  # the whole pending list
                for path, seen in list(shown.items()):
                    if path not in pending and now - seen > GRACE:  # gone for a while: its
                        del shown[path]  # next change is news again
            candidates = report.new if first_look else report.changes
            fresh = tuple(c for c in candidates if c.path not in shown)
            shown.update((c.path, now) for c in report.changes)
            listed = report.changes if first_look else (*fresh, *report.new)
            batch = fresh or report.new
            for change in reversed(listed[:RECENT]):  # each path once, its latest state
                self._forget_recent(folder, change.path)
                self.recent.appendleft(Recent(report.time, folder, change, batch or (change,)))
        if report.error is not None and had is None and not report.changes:
            return problem_notice(report)  # once, when the problem appears
        return notice_for(report._replace(new=fresh)) if fresh else None

    def _forget_recent(self, folder: str, path: str) -> None:
        kept = [r for r in self.recent if (r.folder, r.change.path) != (folder, path)]
        if len(kept) != len(self.recent):
            self.recent.clear()
            self.recent.extend(kept)

    def apply_event(self, event: MonitorEvent) -> Notice | None:
        """Take in what the monitor said; the notification it calls for, if any (a folder
        found missing, once)."""
        with self._lock:
            if isinstance(event, Gone):
                view = self.folders.get(event.folder)
                if view is None or view.error:  # not watched (any more), or already said
                    return None
                view.error = f"{event.folder} is no longer there (moved, deleted or unmounted?)"
                view.missing, view.scanning = True, None
                when = datetime.now().astimezone()
                return problem_notice(FolderReport(Folder(event.folder, ""), when,
                                                   error=view.error, missing=True))  # fmt: skip
            if isinstance(event, Scanning):
                view = self.folders.setdefault(event.folder, FolderView())
                view.scanning, view.first = event.files, event.first
            elif isinstance(event, Watched):
                self.folders[event.folder] = FolderView()
                self.message = None
            elif isinstance(event, Failed):
                if event.folder is not None and event.folder in self.folders:
                    self.folders[event.folder].error = event.message
                    self.folders[event.folder].scanning = None
                else:
                    if event.folder is not None:  # a folder that could not be added
                        self.folders.pop(event.folder, None)
                    self.message = event.message
            elif isinstance(event, Held):  # a first baseline interrupted: not watched (yet)
                self.folders.pop(event.folder, None)
                if event.again:
                    label = folder_label(event.folder)
                    self.message = f"Recording {label} starts again when you resume"
            elif isinstance(event, Accepted):  # taken in: the next change of a file is news
                for path in [event.folder] if event.folder else list(self.announced):
                    if path in self.announced:
                        self.announced[path] = {}
            elif isinstance(event, PausedChanged):
                self.paused = event.paused
            elif isinstance(event, PowerState):
                self.on_battery = event.on_battery
            elif isinstance(event, HistoryState):
                self.history_problem = event.problem
            elif isinstance(event, EventsState):
                if event.live:
                    self.polling.pop(event.folder, None)
                else:
                    self.polling[event.folder] = event.why
        return None

    # -- what to show --------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(v.pending for v in self.folders.values())

    def state(self) -> State:
        with self._lock:
            views = list(self.folders.values())
            if any(v.error for v in views) or self.message or self.history_problem:
                return "error"
            if any(v.scanning is not None and v.first for v in views):
                return "scanning"
            if self.pending:
                return "pending"
            if self.paused:
                return "paused"
            return "ok"

    def status_line(self) -> str:
        with self._lock:
            views = self.folders
            first = [(p, v) for p, v in views.items() if v.scanning is not None and v.first]
            errors = [(p, v) for p, v in views.items() if v.error]
            if self.history_problem:
                line = shorten(f"The history was altered: {self.history_problem}", STATUS_WIDTH)
            elif first:
                path, view = first[0]
                line = f"Recording {folder_label(path)}: {view.scanning:,} files so far"
            elif errors:  # short: the whole text is in the folder's submenu
                path, view = errors[0]
                label = folder_label(path)
                line = f"{label} is missing" if view.missing else f"Problem with {label}"
                if len(errors) > 1:
                    line += f" (and {plural(len(errors) - 1, 'other folder')})"
            elif self.message:
                line = shorten(self.message, STATUS_WIDTH)
            elif not views:
                line = "No folders watched yet"
            elif self.pending:
                line = f"{plural(self.pending, 'change')} to review"
            else:
                line = f"All clear: {plural(len(views), 'folder')} watched"
            if (errors or self.message or self.history_problem) and self.pending and not first:
                line += f"; {plural(self.pending, 'change')} to review"  # never hidden
            if self.paused:
                line = "Paused. " + line
            notes = list(self.degraded)
            if self.notify_problem:
                notes.append(self.notify_problem)
            if self.on_battery:
                notes.append("paused on battery")
            if self.polling:
                why = next(iter(self.polling.values()))
                notes.append(f"polling only: {why}")
            if notes:
                line += " (" + "; ".join(notes) + ")"
            return shorten(line, LINE_WIDTH)  # a menu line: the whole text is in the submenus

    def tooltip(self) -> str:
        return "fim-tray: " + self.status_line()

    def folder_line(self, path: str) -> str:
        with self._lock:
            view = self.folders.get(path, FolderView())
            if view.error:
                state = "error"
            elif view.scanning is not None and view.first:
                state = "recording"
            elif view.pending:
                state = f"{view.pending:,} pending"
            else:
                state = "ok"
            return f"{folder_label(path)} ({state})"

    def folder_problem(self, path: str) -> list[str]:
        """The whole text of a folder's problem, in lines that fit a menu (none when it has no
        problem)."""
        with self._lock:
            view = self.folders.get(path)
            error = view.error if view is not None else None
        if not error:
            return []
        return textwrap.wrap(" ".join(error.split()), 76, max_lines=12, placeholder=" ...")

    def menu_key(self) -> tuple[object, ...]:
        """Everything the menu shows: the tray rebuilds its menu only when this changes, since
        a rebuild closes an open menu and renumbers its items."""
        with self._lock:
            return (
                self.status_line(),
                tuple(self.folder_line(p) for p in self.folders),
                tuple(tuple(self.folder_problem(p)) for p in self.folders),
                tuple(r.label for r in self.recent),
                self.paused,
                self.pending > 0,
            )

    def recent_items(self) -> list[Recent]:
        with self._lock:
            return list(self.recent)


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
