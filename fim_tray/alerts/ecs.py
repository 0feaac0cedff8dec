"""Elastic Common Schema events: one change as Auditbeat's file_integrity module shapes it, so
the dashboards and rules of Elastic, Wazuh, Graylog and Splunk read it as they read Auditbeat's.
Pure: an :class:`Event` in, a JSON-ready dict out; what ECS has no field for goes under
``fim_tray``."""

from __future__ import annotations

import base64
import os
import sys
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from fim_tray.models import Event, Writer

ECS_VERSION = "8.11.0"
# fim-tray's change kinds as Auditbeat's event.action, and the event.type that goes with each
ACTIONS = {
    "added": "created",
    "removed": "deleted",
    "modified": "updated",
    "metadata": "attributes_modified",
    "unreadable": "updated",
}
TYPES = {
    "created": ["creation"],
    "deleted": ["deletion"],
    "updated": ["change"],
    "attributes_modified": ["change"],
}
# Auditbeat's file.hash.* name for each algorithm it knows; fim-tray's own (ALGORITHMS in
# scan/hashing.py) are told apart by their digest's length, as the history keeps no name.
# The algorithms fim-tray hashes with (scan/hashing.py's ALGORITHMS, which a test holds this to:
# the alert channels stand on the ground floor only).
MADE = ("sha256", "blake2b")
AUDITBEAT_HASHES = {
    "sha256": "sha256", "blake2b": "blake2b_512", "blake2b_512": "blake2b_512",
    "blake2b_256": "blake2b_256", "blake2b_384": "blake2b_384", "sha1": "sha1", "md5": "md5",
    "sha224": "sha224", "sha384": "sha384", "sha512": "sha512", "sha512_224": "sha512_224",
    "sha512_256": "sha512_256", "sha3_224": "sha3_224", "sha3_256": "sha3_256",
    "sha3_384": "sha3_384", "sha3_512": "sha3_512", "xxh64": "xxh64",
}  # fmt: skip


class Origin(NamedTuple):
    """Who sends the events: the host's name and this program's version."""

    host: str
    version: str


class Chain(NamedTuple):
    """Where an event sits in the history's chain: its line number and that line's MAC."""

    line: int
    mac: str


def utc(when: datetime) -> str:
    """``2026-12-07T10:31:02.123Z``: the form every SIEM parses."""
    text = when.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def ecs_event(
    event: Event,
    origin: Origin,
    *,
    chain: Chain | None = None,
    process: Writer | None = None,
) -> dict[str, Any]:
    """The ECS object of one change. ``file.*`` describe the file as it is now (as it was,
    for a deleted one); its earlier values, the watched folder and the fields that changed are
    under ``fim_tray``."""
    # A change of a file is Auditbeat's; another line of the history (an accept, a restore, a
    # folder no longer watched) keeps its own word as the action.
    action = ACTIONS.get(event.change, event.change)
    state = event.after if event.after is not None else event.before
    raw = os.path.join(event.folder, event.path) if event.path not in ("", ".") else event.folder
    full, folder, path = text(raw), text(event.folder), text(event.path)
    obj: dict[str, Any] = {
        "@timestamp": utc(event.time),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "module": "file_integrity",
            "dataset": "file",
            "kind": "event",
            "category": ["file"] if action in TYPES or action == "restored" else ["configuration"],
            "type": TYPES.get(action, ["change"]),
            "action": action,
            "outcome": "success",
        },
        "file": _file(full, state),
        "host": {"name": origin.host, "hostname": origin.host},
        "agent": {"name": "fim-tray", "type": "fim-tray", "version": origin.version},
        "message": f"{path} {event.change} in {folder}",
    }
    if event.id:  # the history line's id: a SIEM can drop a copy sent again after an outage
        obj["event"]["id"] = event.id
    if event.suspicious:
        obj["event"]["severity"] = 73  # ECS' "high": content changed behind a timestamp put back
    mine: dict[str, Any] = {
        "folder": folder,
        "path": path,
        "change": event.change,
        "suspicious": event.suspicious,
        "fields": list(event.fields),
    }
    for key, name in (("folder", event.folder), ("path", event.path)):
        if text(name) != name:  # not valid UTF-8: its raw bytes too, as the history keeps them
            mine[f"{key}_b64"] = base64.b64encode(os.fsencode(name)).decode("ascii")
    if event.signature:
        mine["signature"] = event.signature
    if event.id:
        mine["id"] = event.id
    if event.before is not None and event.change != "removed":  # a removed file: in file.*
        mine["before"] = _file(full, event.before)
    for key, value in event.extra.items():  # what the line says beyond a change: who accepted
        mine.setdefault(key, value)
    if chain is not None:
        mine["history"] = {"line": chain.line, "chain": chain.mac}
    if process is not None:  # who had the file open for writing: a hint, never a claim
        mine["process"] = {"name": process.name, "pid": process.pid, "hint": True}
    obj["fim_tray"] = mine
    return obj


def text(name: str) -> str:
    """A name as valid Unicode: bytes that are not UTF-8 (kept as surrogates) written ``\\xff``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return name


def _file(full: str, state: dict[str, object] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "path": full,
        "name": os.path.basename(full),
        "directory": os.path.dirname(full),
    }
    extension = os.path.splitext(full)[1].lstrip(".")
    if extension:
        obj["extension"] = extension
    if state is None:
        return obj
    kind = state.get("type")
    if isinstance(kind, str):
        obj["type"] = kind
    for key in ("size", "mode", "mtime", "ctime"):
        if state.get(key) is not None:
            obj[key] = state[key]
    if state.get("ino") is not None:
        obj["inode"] = str(state["ino"])
    if isinstance(state.get("target"), str):
        obj["target_path"] = text(str(state["target"]))
    for key, name_of in (("uid", _user), ("gid", _group)):
        number = state.get(key)
        if isinstance(number, int):
            obj[key] = str(number)  # ECS keeps ids as strings
            name = name_of(number)
            if name is not None:
                obj["owner" if key == "uid" else "group"] = name
    digest = state.get("digest")
    if isinstance(digest, str):
        obj["hash"] = {_hash_fields().get(len(digest), "fim_tray"): digest}
    return obj


@lru_cache(maxsize=1)
def _hash_fields() -> dict[int, str]:
    """Auditbeat's field for a digest of each length fim-tray makes (``fim_tray`` when Auditbeat
    has none, or when two algorithms make digests of one length)."""
    import hashlib

    fields: dict[int, str] = {}
    for name in MADE:
        length = hashlib.new(name).digest_size * 2
        field = AUDITBEAT_HASHES.get(name, "fim_tray")
        fields[length] = field if fields.get(length, field) == field else "fim_tray"
    return fields


@lru_cache(maxsize=256)
def _user(uid: int) -> str | None:
    if sys.platform == "win32":
        return None
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


@lru_cache(maxsize=256)
def _group(gid: int) -> str | None:
    if sys.platform == "win32":
        return None
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None
