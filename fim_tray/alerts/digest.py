"""The words of messages meant for people: one message for a burst of changes (as the desktop
notification groups them: the first names, then "and 36 more"), always with the local time; the
digest that folds what an hourly limit held back; and that limit itself."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from fim_tray.display import escape
from fim_tray.models import Event

NAMES = 4  # file names spelled out in one message
PER_HOUR = 20  # messages a channel for people gets in an hour; the rest become one digest
HOUR = 3600.0


def local_time(when: datetime) -> str:
    """``10:31:02 on 2026-12-07 (UTC+01:00)``: the local time, said so there is no doubt."""
    local = when.astimezone()
    offset = local.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"
    return f"{local:%H:%M:%S} on {local:%Y-%m-%d} ({zone})"


def notice(
    events: Sequence[Event], host: str, detail: Callable[[Event], str] = lambda _event: ""
) -> dict[str, Any]:
    """The message for one check's new changes in one folder: ``{"title", "body", "time"}``;
    ``detail`` words what changed in one, as the desktop notification does."""
    first = events[0]
    folder = first.folder
    label = escape(os.path.basename(folder.rstrip("/\\")) or folder)
    if len(events) == 1:
        title = f"{escape(os.path.basename(first.path) or first.path)} {first.change} in {label}"
    else:
        title = f"{len(events)} files changed in {label}"
    if any(e.suspicious for e in events):
        title = "Suspicious change: " + title
    lines = [f"At {local_time(first.time)}, on {escape(host)}, in {escape(folder)}:"]
    for event in events[:NAMES]:
        line = f"{event.change}: {escape(event.path)}"
        what = detail(event)
        if what:  # the words of the desktop notification
            line += f" ({what})"
        elif event.suspicious:
            line += " SUSPICIOUS: the content changed, the size and time did not"
        lines.append(line)
    if len(events) > NAMES:
        lines.append(f"and {len(events) - NAMES} more")
    return {
        "title": f"fim-tray: {title}",
        "body": "\n".join(lines),
        "time": first.time.isoformat(),
    }


def fold(messages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One digest of ``messages`` held back by the hourly limit, oldest first."""
    if len(messages) == 1:
        return dict(messages[0])
    parts = [f"{len(messages)} alerts were held back by the hourly limit; here they are:"]
    for message in messages:
        parts.append(f"\n{message.get('title', '')}\n{message.get('body', '')}")
    return {
        "title": f"fim-tray: {len(messages)} alerts (digest)",
        "body": "\n".join(parts),
        "time": messages[0].get("time"),
    }


class HourlyLimit:
    """How many more messages a channel may get now: ``per_hour`` in any hour. ``sent``: when
    the last ones went (seconds since the epoch), kept across restarts by the caller."""

    def __init__(self, per_hour: int = PER_HOUR, sent: Iterable[float] = ()) -> None:
        self.per_hour = per_hour
        self._sent: deque[float] = deque(sorted(sent)[-per_hour:] if per_hour > 0 else ())

    def room(self, now: float) -> int:
        while self._sent and (now - self._sent[0] >= HOUR or self._sent[0] > now + HOUR):
            self._sent.popleft()  # an hour old (or from a clock set back since)
        return max(0, self.per_hour - len(self._sent))

    def spend(self, now: float) -> None:
        self._sent.append(now)
        while len(self._sent) > self.per_hour:
            self._sent.popleft()

    def sent(self) -> tuple[float, ...]:
        return tuple(self._sent)

    def opens(self) -> float | None:
        """When there is room again (None: there is room now, as far as it knows)."""
        if len(self._sent) < self.per_hour or not self._sent:
            return None
        return self._sent[0] + HOUR
