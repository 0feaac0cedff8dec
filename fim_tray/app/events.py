"""What the monitor tells its front ends, as frozen objects: progress, folders watched, held,
gone or failing, pauses, accepts, the state of file events, of the power and of the history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fim_tray.models import ChangeKey, FolderReport


@dataclass(frozen=True)
class Scanning:
    """A scan of ``folder`` is under way; ``first`` when it records a new baseline."""

    folder: str
    files: int
    first: bool = False


@dataclass(frozen=True)
class Gone:
    """The watched ``folder`` is no longer at its place (deleted, renamed, unmounted), as a look
    at it found, before any check says more."""

    folder: str


@dataclass(frozen=True)
class Held:
    """The first baseline of ``folder`` was interrupted: by a pause (``again``: it starts over
    on resume) or by Stop watching (it is not watched)."""

    folder: str
    again: bool


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


@dataclass(frozen=True)
class EventsState:
    """Whether OS file events cover ``folder`` (every folder when None); ``why`` if not."""

    folder: str | None
    live: bool
    why: str = ""


@dataclass(frozen=True)
class PowerState:
    """Scheduled polls and full re-hashes are held back because the machine runs on battery
    (``pause_on_battery`` is on), or, False, run again."""

    on_battery: bool


@dataclass(frozen=True)
class HistoryState:
    """The history's chain was checked: ``problem`` names its first bad line, None when it is
    intact (again)."""

    problem: str | None


MonitorEvent = (
    Scanning | Watched | Held | Gone | Failed | PausedChanged | Accepted | EventsState | PowerState
    | HistoryState
)
Sink = Callable[[FolderReport], None]
# Told when an accept is done: the keys of the changes taken in, and the error that stopped it.
Accepting = Callable[[frozenset[ChangeKey], "str | None"], None]


