"""How the details window words each part of a change: the rows of its before/after table and
each value in them, the warning of a suspicious change, its time and its whole path."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from fim_tray.display import escape
from fim_tray.store.names import decode_name, name_from
from fim_tray.ui.wire import key_of

ROWS = (  # label, key in the before/after objects
    ("Type", "type"),
    ("Size", "size"),
    ("SHA-256 / BLAKE2b", "digest"),
    ("Mode", "mode"),
    ("Owner", "uid"),
    ("Group", "gid"),
    ("Modified (mtime)", "mtime"),
    ("Link target", "target"),
    ("Device (major,minor)", "device"),
    ("Extended attributes", "xattrs"),
    ("Written by", "process"),
    ("Error", "error"),
)


def name_of(item: dict[str, Any]) -> str:
    try:
        return escape(decode_name(item))
    except (ValueError, TypeError, KeyError):
        return "?"


def _user(uid: object) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(int(uid)).pw_name} ({uid})"  # type: ignore[call-overload]
    except (ImportError, KeyError, TypeError, ValueError):
        return str(uid)


def _group(gid: object) -> str:
    try:
        import grp

        return f"{grp.getgrgid(int(gid)).gr_name} ({gid})"  # type: ignore[call-overload]
    except (ImportError, KeyError, TypeError, ValueError):
        return str(gid)


def value(obj: dict[str, Any] | None, key: str) -> str:
    """One cell of the before/after table, as a person reads it; whatever shape a history line
    gives it (an edited one may give any), a cell shows something and never stops the window."""
    try:
        return _value(obj, key)
    except (ValueError, TypeError, AttributeError, OverflowError):
        return escape(repr(obj.get(key) if isinstance(obj, dict) else obj))


def _value(obj: dict[str, Any] | None, key: str) -> str:
    if obj is None:
        return "-"
    raw = obj.get(key)
    if raw is None:
        return ""
    if key == "uid":
        return _user(raw)
    if key == "gid":
        return _group(raw)
    if key == "size":
        size = int(raw)
        return f"{size:,} byte{'' if size == 1 else 's'}"
    if key == "digest" and len(str(raw)) > 32:  # 64 hex digits: two lines fit the window
        text = str(raw)
        return "\n".join(text[i : i + 32] for i in range(0, len(text), 32))
    if key == "xattrs" and isinstance(raw, dict):
        return "\n".join(escape(f"{name}: {words}") for name, words in sorted(raw.items()))
    if key == "mtime":
        try:
            when = datetime.fromisoformat(str(raw)).astimezone()  # in this machine's time zone
            return when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        except ValueError:
            return str(raw)
    return escape(str(raw))


def warning(item: dict[str, Any]) -> str:
    """What a suspicious change may mean, in words for the window ("" when it is not)."""
    if not item.get("suspicious"):
        return ""
    if item.get("change") == "metadata":
        return (
            "Suspicious: it can now run with more privileges than before (a set-uid or set-gid "
            "bit, or a file capability, was added). Look into it before you accept it."
        )
    return (
        "Suspicious: the content changed but the size and modification time did not. Something "
        "may have put the timestamp back to hide the change. Look into it before you accept it."
    )


def time_of(item: dict[str, Any]) -> str:
    try:
        return datetime.fromisoformat(item["time"]).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (KeyError, ValueError, TypeError):
        return ""


def keys(raw: object) -> set[tuple[str | None, str | None]]:
    """Change keys as the tray sends them (see tray/dialogs.py)."""
    if not isinstance(raw, list):
        return set()
    return {key_of(k) for k in raw if isinstance(k, dict)}


def whole_path(item: dict[str, Any]) -> str:
    folder = name_from(item, "folder") or ""
    try:
        return escape(os.path.join(folder, decode_name(item)))
    except (ValueError, TypeError, KeyError):
        return escape(folder)


