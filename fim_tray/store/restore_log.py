"""The history line a restore writes (what was there, its saved copy, what is there now) and
reading it back to undo that restore.

The history is not signed as a whole, yet undo sets a file's mode and owner from such a line:
each "restored" line therefore carries an HMAC-SHA256 (the install key that signs baselines)
over its canonical JSON, and undo refuses a line without a valid one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from fim_tray.display import escape
from fim_tray.errors import DamagedUndo
from fim_tray.models import Entry, Event, Folder
from fim_tray.store.history import History, entry_json, new_event_id
from fim_tray.store.names import name_fields, name_from

MAC_KEY = "hmac"




def state_json(entry: Entry | None) -> dict[str, Any] | None:
    """Everything needed to put an entry back exactly (for undo)."""
    if entry is None:
        return None
    obj: dict[str, Any] = {
        "type": entry.type, "size": entry.size, "mtime_ns": entry.mtime_ns,
        "mode": entry.mode, "uid": entry.uid, "gid": entry.gid, "digest": entry.digest,
    }  # fmt: skip
    if entry.target is not None:
        obj.update(name_fields(entry.target, "target"))
    return obj


def state_entry(obj: object) -> Entry | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise DamagedUndo("The history entry of that restore is damaged; it cannot be undone.")
    try:
        target = name_from(obj, "target")
        return Entry(
            type=obj["type"], size=int(obj["size"]), mtime_ns=int(obj["mtime_ns"]), ctime_ns=0,
            ino=0, mode=int(obj["mode"]), uid=int(obj["uid"]), gid=int(obj["gid"]),
            digest=obj.get("digest"), target=target,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        raise DamagedUndo(
            "The history entry of that restore is damaged; it cannot be undone."
        ) from None


def canonical(obj: dict[str, Any]) -> bytes:
    """The bytes a line's HMAC covers: the line without its HMAC, keys sorted, compact."""
    body = {k: v for k, v in obj.items() if k != MAC_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(obj: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(obj), hashlib.sha256).hexdigest()


def event_json(event: Event) -> dict[str, Any]:
    """A history event back in the JSON form its line holds (what :func:`sign` covered)."""
    obj: dict[str, Any] = {
        "id": event.id,
        "time": event.time.isoformat(),
        **name_fields(event.folder, "folder"),
        **name_fields(event.path, "path"),
        "change": event.change,
        "suspicious": event.suspicious,
        "fields": list(event.fields),
        "before": event.before,
        "after": event.after,
        **event.extra,
    }
    if event.signature is not None:
        obj["signature"] = event.signature
    return obj


def undo_entry(event: Event, key: bytes) -> Entry | None:
    """What undoing the restore ``event`` puts back; :class:`DamagedUndo` unless its line is
    signed with ``key`` (an edited or forged line could otherwise set any mode or owner)."""
    claimed = event.extra.get(MAC_KEY)
    shown = escape(event.path)
    if not isinstance(claimed, str) or not claimed.isascii():  # compare_digest takes ASCII only
        raise DamagedUndo(
            f"The history line of the last restore of {shown} is not signed (it was written by "
            "an older fim-tray, or edited), so it cannot be undone: undo trusts only lines "
            "signed with this install's key. Nothing was changed."
        )
    if not hmac.compare_digest(sign(event_json(event), key), claimed):
        raise DamagedUndo(
            f"The history line of the last restore of {shown} does not match its signature "
            "(it was edited, or written with another install key), so it cannot be undone. "
            "Nothing was changed."
        )
    return state_entry(event.extra.get("undo"))


def record(
    history: History,
    now: datetime,
    folder: Folder,
    rel: str,
    current: Entry | None,
    previous: str | None,
    want: Entry | None,
    undo: bool,
    key: bytes,
) -> Event:
    """A "restored" line in ``history`` at ``now``, signed with ``key``: what was there (and its
    saved copy), what is now. ``StorageError`` when it cannot be written."""
    before = current._replace(digest=previous) if current and previous else current
    obj: dict[str, Any] = {
        "id": new_event_id(now),
        "time": now.isoformat(),
        **name_fields(folder.path, "folder"),
        **name_fields(rel, "path"),
        "change": "restored",
        "suspicious": False,
        "fields": [],
        "before": entry_json(before),
        "after": entry_json(want),
        "previous_digest": previous,
        "undo": state_json(before),
        "restored_to": "before restore" if undo else "baseline",
    }
    obj[MAC_KEY] = sign(obj, key)
    return history.append_records([obj])[0]
