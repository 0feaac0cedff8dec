"""The trusted record of a watched folder: JSON signed with HMAC-SHA256, written atomically."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, NoReturn

from fim_tray import jsonio
from fim_tray.errors import BaselineError, BaselineTamperedError
from fim_tray.models import Entry
from fim_tray.records import Records
from fim_tray.store.names import decode_name, encode_name, name_fields, name_from

SCHEMA = 1
FORMAT = "fim-tray-baseline"
# The file is one JSON object whose "body" comes last. The HMAC covers the body's exact bytes,
# so checking it needs no second, canonical serialisation of 50,000 entries.
_HEAD = b'{"format":"' + FORMAT.encode() + b'","schema":%d,"hmac":"'
_BODY = b'","body":'
_TAIL = b"}\n"
BODY_KEYS = {"path", "path_b64", "algorithm", "created", "updated", "root_dev", "entries"}


# A baseline's ``extra`` key saying its entries carry their extended attributes: one recorded by
# an earlier version has none, and its first full check fills them in (see app/check.py).
XATTRS_RECORDED = "xattrs"
# A baseline's ``extra`` key: its generation, one more at each save (see store/generations.py).
GENERATION = "generation"


class Baseline(NamedTuple):
    """What was trusted in one folder: its entries and how they were recorded."""

    folder: str
    algorithm: str
    entries: Mapping[str, Entry]  # a Records when loaded or scanned
    created: datetime
    updated: datetime
    root_dev: int | None = None
    extra: Mapping[str, Any] = MappingProxyType({})


def _entry_to_json(path: str, entry: Entry) -> dict[str, Any]:
    # One dict display: the fastest way to build it for 50,000 entries. The keys and their
    # order are part of the file format (the HMAC covers these exact bytes).
    obj: dict[str, Any] = {
        "path": path,
        "type": entry.type,
        "size": entry.size,
        "mtime_ns": entry.mtime_ns,
        "ctime_ns": entry.ctime_ns,
        "ino": entry.ino,
        "mode": entry.mode,
        "uid": entry.uid,
        "gid": entry.gid,
    }
    if not path.isascii():  # an ASCII name is valid UTF-8: only the others need encode_name
        name = encode_name(path)
        if "path" not in name:  # not UTF-8: its bytes in base64, in the first place as always
            del obj["path"]
            obj = {**name, **obj}
    if entry.digest is not None:
        obj["digest"] = entry.digest
    if entry.target is not None:
        obj.update(_target_json(entry.target))
    if entry.error is not None:
        obj["error"] = entry.error
    if entry.xattrs is not None:
        obj["xattrs"] = entry.xattrs
    return obj


def _target_json(target: str) -> dict[str, str]:
    return name_fields(target, "target")


def _entries_from_json(items: Any) -> Records:
    """The entries of a parsed body; a malformed one raises KeyError, TypeError, ValueError or
    AttributeError, which :func:`parse` reports.

    One loop with positional arguments: for 50,000 entries a third less time than a function
    call with keyword arguments per entry. ``int()`` stays: it is what rejects a signed body
    whose numbers are not numbers, and costs little on what already is an int.
    """
    entries = Records()
    for obj in items:
        path = obj.get("path")
        if type(path) is not str:
            path = decode_name(obj)
        target = obj.get("target")
        if target is None and "target_b64" in obj:
            target = name_from(obj, "target")
        entries[path] = Entry(
            obj["type"],
            int(obj["size"]),
            int(obj["mtime_ns"]),
            int(obj["ctime_ns"]),
            int(obj["ino"]),
            int(obj["mode"]),
            int(obj["uid"]),
            int(obj["gid"]),
            obj.get("digest"),
            target,
            obj.get("error"),
            obj.get("xattrs"),
        )
    return entries


ENTRY_CHUNK = 4096  # entries turned into dicts and JSON at a time, so they never all exist at once


def _body_parts(baseline: Baseline) -> list[bytes]:
    """The body's JSON, in pieces that joined are exactly ``jsonio.dumps(body)``."""
    head = {
        **encode_name(baseline.folder),
        "algorithm": baseline.algorithm,
        "created": baseline.created.isoformat(),
        "updated": baseline.updated.isoformat(),
        "root_dev": baseline.root_dev,
        **baseline.extra,
    }
    head.pop("entries", None)  # "entries" is always the last key (and never an extra one)
    entries = baseline.entries
    paths = sorted(entries)  # sorting the names alone is cheaper than sorting (name, entry) pairs
    chunks = [
        jsonio.dumps(
            [_entry_to_json(p, entries[p]) for p in paths[i : i + ENTRY_CHUNK]], large=True
        )[1:-1]
        for i in range(0, len(paths), ENTRY_CHUNK)
    ]
    return [jsonio.dumps(head)[:-1], b',"entries":[', b",".join(chunks), b"]}"]


def serialize(baseline: Baseline, key: bytes) -> bytes:
    """The signed file content for ``baseline``."""
    parts = _body_parts(baseline)
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    # One join: a single copy of the body, where `a + b + c` made one per concatenation.
    return b"".join([_HEAD % SCHEMA, mac.hexdigest().encode(), _BODY, *parts, _TAIL])


def signature(data: bytes, key: bytes) -> str | None:
    """The signature (hex HMAC) of a baseline file's content when it is in the layout
    :func:`serialize` writes and verifies with ``key``; None for anything else.

    No JSON parse: one HMAC pass over the body, so a cache of the parsed content can be
    trusted for exactly this file. None says nothing about why: :func:`parse` tells that.
    """
    start = len(_HEAD % SCHEMA)
    end = start + 2 * hashlib.sha256().digest_size
    if not (
        len(data) > end + len(_BODY) + len(_TAIL)
        and data.startswith(_HEAD % SCHEMA)
        and data.startswith(_BODY, end)
        and data.endswith(_TAIL)
    ):
        return None
    claimed = data[start:end]
    body = memoryview(data)[end + len(_BODY) : -len(_TAIL)]  # no copy of 13 MB
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    return claimed.decode() if hmac.compare_digest(expected, claimed) else None


def parse(data: bytes, key: bytes, source: str = "the baseline") -> Baseline:
    """Check and read a baseline file's content; every failure is a :class:`BaselineError`."""
    with jsonio.gc_paused():
        return _parse(data, key, source)


def _parse(data: bytes, key: bytes, source: str) -> Baseline:
    if signature(data, key) is None:
        _refuse(data, source)
    try:
        doc = jsonio.loads(data)  # signed with this install's key: fim-tray wrote it
        body = doc["body"]
        entries = _entries_from_json(body["entries"])
        return Baseline(
            folder=decode_name(body),
            algorithm=str(body["algorithm"]),
            entries=entries,
            created=datetime.fromisoformat(body["created"]),
            updated=datetime.fromisoformat(body["updated"]),
            root_dev=body.get("root_dev"),
            extra={k: v for k, v in body.items() if k not in BODY_KEYS},
        )
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise BaselineError(f"{source} is signed but incomplete ({exc!r}).") from exc


def _refuse(data: bytes, source: str) -> NoReturn:
    """Why ``data``, which is not a baseline signed with this install's key, is refused: damaged,
    not a baseline, another schema, or tampered with. Its JSON is parsed only to tell which, and
    whatever it holds (nested 60,000 deep, a signature that is not ASCII) is a BaselineError."""
    try:
        doc = jsonio.loads(data)
    except (ValueError, RecursionError):
        raise BaselineError(
            f"{source} is damaged: it is not valid JSON (was it cut short by a crash or a full "
            "disk?). It was left as it is; the version before it, if any, is beside it as .bak."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BaselineError(f"{source} is not a fim-tray baseline. It was left as it is.")
    if doc.get("schema") != SCHEMA:
        raise BaselineError(
            f"{source} has schema version {doc.get('schema')!r}, which this fim-tray "
            f"(schema {SCHEMA}) cannot read. Use the fim-tray version that wrote it."
        )
    raise BaselineTamperedError(
        f"{source} was changed outside fim-tray: its signature does not match. Someone may "
        "have edited it to hide a change. It was left as it is for you to inspect; to start "
        "again from the folder as it is now, remove the folder and add it again."
    )


def read(path: Path) -> bytes:
    """A baseline file's content; a missing or unreadable file is a :class:`BaselineError`."""
    try:
        return jsonio.read_own(path)
    except FileNotFoundError:
        raise BaselineError(
            f"The baseline {path} is missing. Remove the folder and add it again to record a "
            "new one."
        ) from None
    except OSError as exc:
        raise BaselineError(f"The baseline {path} cannot be read: {exc.strerror}.") from exc


def load(path: Path, key: bytes) -> Baseline:
    """Read and verify a baseline file."""
    return parse(read(path), key, source=f"The baseline {path}")


def save(path: Path, baseline: Baseline, key: bytes) -> str:
    """Write atomically, keeping the previous version as ``<name>.bak``; returns the
    :func:`signature` of what was written."""
    data = serialize(baseline, key)
    write(path, data)
    return signature_of(data)


def write(path: Path, data: bytes) -> None:
    """Write :func:`serialize`'s ``data`` atomically, keeping the previous file as ``.bak``."""
    jsonio.atomic_write(path, data, keep_backup=True)


def signature_of(data: bytes) -> str:
    """The :func:`signature` of what :func:`serialize` just made, without verifying it."""
    start = len(_HEAD % SCHEMA)
    return data[start : start + 2 * hashlib.sha256().digest_size].decode()
