"""The history line a restore writes (what was there, its saved copy, what is there now) and
reading it back to undo that restore."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fim_tray.errors import FimError
from fim_tray.history import entry_json, new_event_id
from fim_tray.keeper import history_name
from fim_tray.models import Entry, Event, Folder
from fim_tray.paths import decode_name, encode_name

if TYPE_CHECKING:  # the service imports the restore module, which imports this one
    from fim_tray.service import Service


class DamagedUndo(FimError):
    """The history line of a restore is damaged (the history is not signed): no undo."""

    title = "Cannot undo"


def state_json(entry: Entry | None) -> dict[str, Any] | None:
    """Everything needed to put an entry back exactly (for undo)."""
    if entry is None:
        return None
    obj: dict[str, Any] = {
        "type": entry.type, "size": entry.size, "mtime_ns": entry.mtime_ns,
        "mode": entry.mode, "uid": entry.uid, "gid": entry.gid, "digest": entry.digest,
    }  # fmt: skip
    if entry.target is not None:
        target = encode_name(entry.target)
        obj.update({"target": target["path"]} if "path" in target else
                   {"target_b64": target["path_b64"]})  # fmt: skip
    return obj


def state_entry(obj: object) -> Entry | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise DamagedUndo("The history entry of that restore is damaged; it cannot be undone.")
    try:
        target = obj.get("target")
        if target is None and "target_b64" in obj:
            target = decode_name({"path_b64": obj["target_b64"]})
        return Entry(
            type=obj["type"], size=int(obj["size"]), mtime_ns=int(obj["mtime_ns"]), ctime_ns=0,
            ino=0, mode=int(obj["mode"]), uid=int(obj["uid"]), gid=int(obj["gid"]),
            digest=obj.get("digest"), target=target,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise DamagedUndo(
            "The history entry of that restore is damaged; it cannot be undone."
        ) from None


def record(
    service: Service,
    folder: Folder,
    rel: str,
    current: Entry | None,
    previous: str | None,
    want: Entry | None,
    undo: bool,
) -> Event:
    """A "restored" line in the history: what was there (and its saved copy), what is now."""
    before = replace(current, digest=previous) if current and previous else current
    now = service.clock()
    obj: dict[str, Any] = {
        "id": new_event_id(now),
        "time": now.isoformat(),
        "folder": history_name(folder.path),
        **encode_name(rel),
        "change": "restored",
        "suspicious": False,
        "fields": [],
        "before": entry_json(before),
        "after": entry_json(want),
        "previous_digest": previous,
        "undo": state_json(before),
        "restored_to": "before restore" if undo else "baseline",
    }
    return service.history_log.append_records([obj])[0]
