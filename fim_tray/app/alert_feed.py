"""Which of the history's changes have not gone to the alert outbox yet: the history lines after
the cursor (see alerts/cursor.py). The
history holds every change announced, whoever found it (the tray, ``monitor``, or a one-shot
``check`` while neither ran), so alerts follow it and none is missed.

Only lines that hold with the install key count: a line forged or edited without it is never
sent and never moves the cursor; one put back again (a replay) is behind the cursor already."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from fim_tray import jsonio, logs
from fim_tray.alerts.ecs import ACTIONS, Chain
from fim_tray.app.ecs_events import line_event
from fim_tray.models import Event
from fim_tray.store.history import MAX_READ, History, unseal

log = logs.getLogger(__name__)

MOST = 5000  # changes taken from the history at once (an outbox holds as many per channel)
_NUMBER = b',"n":'


class Found(NamedTuple):
    """A change the history holds: its line's number, the change, and its place in the chain."""

    line: int
    event: Event
    chain: Chain


def _number(line: bytes) -> int | None:
    """The number a chained line says it has (not yet checked: see ``unseal``)."""
    at = line.rfind(_NUMBER)
    if at < 0:
        return None
    end = line.find(b",", at + len(_NUMBER))
    with contextlib.suppress(ValueError):
        return int(line[at + len(_NUMBER) : end])
    return None


def _files_newest_first(history: History) -> Iterator[list[bytes]]:
    """The whole lines of each history file, the newest file first (a last line still being
    written is left out)."""
    for path in reversed(history.files()):
        try:
            data = jsonio.read_own(path, limit=MAX_READ)
        except OSError as exc:
            log.warning("cannot read history %s: %s", path, exc)
            continue
        yield data.split(b"\n")[:-1]  # after the last newline: empty, or not whole yet


def _holds(line: bytes, number: int, key: bytes) -> tuple[dict[str, Any], str] | None:
    """The line's JSON and MAC when it holds with the key and says it is line ``number``."""
    body, mac = unseal(line, key)
    if mac is None:
        return None
    try:
        obj = jsonio.loads(body)
    except (ValueError, RecursionError):
        return None
    return (obj, mac) if isinstance(obj, dict) and obj.get("n") == number else None


class Followed(NamedTuple):
    """What :func:`after` found: the changes, and the newest line that holds (its number, the
    cursor's when none is newer, its time and MAC); ``diverged`` when the line at the cursor
    is not the one it was (the history was put back, and its numbers were given again)."""

    found: list[Found]
    top: int
    time: datetime | None
    chain: str | None
    diverged: bool = False
    cut: int = 0  # changes past ``most``: never sent


def after(
    history: History,
    cursor: int,
    most: int | None = None,
    expect: str | None = None,
    since: datetime | None = None,
) -> Followed:
    """The changes found (lines that hold, numbered above ``cursor``), oldest first, at most
    ``most`` (the newest: the others are said lost); and the highest number of any line that
    holds, a folder's or an accept's too (``cursor`` when none is higher).

    Older files are read until every number from the cursor on is found: an old line put back
    at the end, or a forged one, cannot end the search early. ``expect``: the MAC the line at
    the cursor had; ``since``: only changes written after that time (the others were sent)."""
    key = history.key_if_chained()
    if key is None:  # no chain, no numbers: nothing to follow
        return Followed([], cursor, None, None)
    picked: dict[int, tuple[dict[str, Any], str]] = {}
    forged = 0
    at_cursor: str | None = None
    for lines in _files_newest_first(history):
        for line in lines:
            number = _number(line)
            if number == cursor and expect is not None and at_cursor is None:
                at_cursor = (_holds(line, number, key) or (None, None))[1]
            if number is None or number <= cursor or number in picked:
                continue
            held = _holds(line, number, key)
            if held is None:
                forged += 1
            else:
                picked[number] = held
        if not picked or len(picked) == max(picked) - cursor:
            break  # nothing newer, or every number since the cursor: none is in older files
    found: list[Found] = []
    for number in sorted(picked):
        obj, mac = picked[number]
        try:
            event = line_event(obj)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # it holds, so fim-tray wrote it: a line that is not a change
        if event.change in ACTIONS and event.path != "." and _after(event.time, since):
            found.append(Found(number, event, Chain(number, mac)))
    if forged:
        log.warning("%d history line(s) do not hold with the key: not sent as alerts", forged)
    most = MOST if most is None else most
    cut = max(0, len(found) - most)
    if cut:
        log.warning("%d changes in the history were never sent as alerts (more than %d at once)",
                    cut, most)  # fmt: skip
        found = found[-most:]
    top = max(picked, default=cursor)
    when, chain = None, None
    if top in picked:
        chain = picked[top][1]
        with contextlib.suppress(TypeError, ValueError):
            when = datetime.fromisoformat(picked[top][0]["time"])
    diverged = expect is not None and at_cursor is not None and at_cursor != expect
    return Followed(found, top, when, chain, diverged, cut)


def newest(history: History) -> int:
    """The highest number of a line that holds in the newest file that has one (-1: none)."""
    key = history.key_if_chained()
    if key is None:
        return -1
    for lines in _files_newest_first(history):
        held = [n for line in lines if (n := _number(line)) is not None and _holds(line, n, key)]
        if held:
            return max(held)
    return -1


def _after(when: datetime, since: datetime | None) -> bool:
    try:
        return since is None or when > since
    except TypeError:  # one with a zone, one without
        return True
