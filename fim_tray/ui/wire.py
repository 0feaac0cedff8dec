"""The JSON the tray and its windows exchange: the items a window shows (from changes or from
history events), the one line per decision a window answers with on stdout, and what the tray
tells a window on its stdin (what was accepted, what is pending; its end: the tray is gone)."""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from fim_tray.models import Change, Event, Writer
from fim_tray.store.history import change_json
from fim_tray.store.names import name_from


def items_from_changes(
    folder: str,
    changes: Iterable[Change],
    when: datetime,
    hints: Mapping[str, Writer] | None = None,
) -> list[dict[str, Any]]:
    """What the window needs to show and accept these changes; who was writing a file (a
    hint) goes beside its "after" values."""
    items = []
    for change in changes:
        item = {**change_json(change, folder, when), "signature": change.signature()}
        hint = (hints or {}).get(change.path)
        if hint is not None and isinstance(item.get("after"), dict):
            item["after"] = {**item["after"], "process": f"{hint}? (a hint)"}
        items.append(item)
    return items


NOTES = ("accepted", "by", "reported", "pattern", "dropped", "dropped_b64", "pending")


def items_from_events(events: Iterable[Event]) -> list[dict[str, Any]]:
    """What the window needs to show the history, one item per event. A line whose MAC does
    not hold is shown, marked, and carries no signature: nothing can be accepted from it."""
    items = []
    for event in events:
        item: dict[str, Any] = {
            "time": event.time.isoformat(), "folder": event.folder, "path": event.path,
            "change": event.change, "suspicious": event.suspicious, "fields": list(event.fields),
            "before": event.before, "after": event.after, "verified": event.verified,
            "signature": event.signature if event.verified else None,
            # what a line that is not a change says: an accept, an ignore, a folder given up
            **{k: event.extra[k] for k in NOTES if k in event.extra},
        }  # fmt: skip
        items.append(item)
    return items


def _path(item: dict[str, Any]) -> dict[str, str]:
    """The item's path as it came (``path``, or ``path_b64`` for a name not UTF-8)."""
    return {k: item[k] for k in ("path", "path_b64") if isinstance(item.get(k), str)}


def answer(action: str, items: Sequence[dict[str, Any]], out: Any = None) -> None:
    """Tell the tray a decision: one JSON line on stdout."""
    chosen = [
        {"folder": name_from(i, "folder") or "", **_path(i), "signature": i["signature"]}
        for i in items
        if i.get("signature")
    ]
    line = {"action": action, "items": chosen}
    stream = out or sys.stdout
    stream.write(json.dumps(line) + "\n")
    stream.flush()


def send(line: dict[str, Any], out: Any = None) -> None:
    """Tell the tray something that is not about items: one JSON line on stdout (such as
    ``{"action": "ignore", "folder": ..., "pattern": ...}``)."""
    stream = out or sys.stdout
    stream.write(json.dumps(line) + "\n")
    stream.flush()


def key_of(item: dict[str, Any]) -> tuple[str | None, str | None]:
    """An item's path and signature, as the tray names a change it tells about."""
    return (name_from(item, "path"), item.get("signature"))


def listen(stream: Any = None) -> queue.Queue[dict[str, Any] | None]:
    """Read the tray's lines from ``stream`` (stdin) on a thread of their own: each JSON object
    goes into the queue, and None when the stream ends (the tray quit, or died)."""
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
    source = stream or sys.stdin

    def read() -> None:
        try:
            for line in source:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    lines.put(message)
        except (OSError, ValueError):
            pass
        lines.put(None)

    threading.Thread(target=read, name="fim-tray-window-stdin", daemon=True).start()
    return lines


def hear_the_tray(
    root: Any,
    tray: queue.Queue[dict[str, Any] | None],
    heard: Callable[[dict[str, Any]], None] = lambda _message: None,
    first_ms: int = 200,
) -> None:
    """Look at what the tray said, every 200 ms from ``first_ms`` on, on the window's own
    thread: the end of its stream closes the window (the tray is gone), ``{"raise": true}``
    brings it forward (a window there is one of at most, asked for again), and each message
    goes to ``heard``."""
    from fim_tray.ui import theme

    def look() -> None:
        while True:
            try:
                message = tray.get_nowait()
            except queue.Empty:
                break
            if message is None:
                root.destroy()
                return
            if message.get("raise"):
                theme.bring_forward(root)
            heard(message)
        root.after(200, look)

    root.after(first_ms, look)
