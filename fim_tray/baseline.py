"""The trusted record of a watched folder: JSON signed with HMAC-SHA256, written atomically."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio
from fim_tray.errors import BaselineError, BaselineTamperedError, StorageError
from fim_tray.models import Entry
from fim_tray.paths import decode_name, encode_name

SCHEMA = 1
FORMAT = "fim-tray-baseline"
# The file is one JSON object whose "body" comes last. The HMAC covers the body's exact bytes,
# so checking it needs no second, canonical serialisation of 50,000 entries.
_HEAD = b'{"format":"' + FORMAT.encode() + b'","schema":%d,"hmac":"'
_BODY = b'","body":'
_TAIL = b"}\n"
_ENTRY_FIELDS = ("type", "size", "mtime_ns", "ctime_ns", "ino", "mode", "uid", "gid")
_OPTIONAL_FIELDS = ("digest", "target", "error")
_BODY_KEYS = {"path", "path_b64", "algorithm", "created", "updated", "root_dev", "entries"}
KEY_BYTES = 32
KEY_WAIT = 2.0  # seconds to wait for a key file another process has created but not yet filled


@dataclass
class Baseline:
    """What was trusted in one folder: its entries and how they were recorded."""

    folder: str
    algorithm: str
    entries: dict[str, Entry]
    created: datetime
    updated: datetime
    root_dev: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _read_key(path: Path) -> bytes:
    """The key in ``path``, waiting a little while another process may still be writing it."""
    deadline = time.monotonic() + KEY_WAIT
    while True:
        text = path.read_text("ascii").strip()
        # Created but not yet filled (see the O_EXCL below): wait for the rest.
        partial = len(text) < 2 * KEY_BYTES and all(c in string.hexdigits for c in text)
        if not partial or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    key = bytes.fromhex(text)
    if len(key) != KEY_BYTES:
        raise ValueError(f"it holds {len(key)} bytes instead of {KEY_BYTES}")
    return key


def _key_error(path: Path, exc: Exception) -> BaselineError:
    return BaselineError(
        f"The install key {path} cannot be read ({exc}); baselines cannot be verified without "
        "it. Restore it from a backup, or delete it and re-add your folders."
    )


def load_key(path: Path) -> bytes:
    """The per-install HMAC key, created (0600, 32 random bytes) on first use."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise _key_error(path, exc) from exc
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        try:
            return _read_key(path)
        except (OSError, ValueError) as exc:
            raise _key_error(path, exc) from exc
    except OSError as exc:
        raise StorageError(f"Could not create the install key {path}: {exc.strerror}.") from exc
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key


def _entry_to_json(path: str, entry: Entry) -> dict[str, Any]:
    obj: dict[str, Any] = dict(encode_name(path))
    for name in _ENTRY_FIELDS:
        obj[name] = getattr(entry, name)
    for name in _OPTIONAL_FIELDS:
        value = getattr(entry, name)
        if value is not None:
            obj.update({name: value} if name != "target" else _target_json(value))
    return obj


def _target_json(target: str) -> dict[str, str]:
    encoded = encode_name(target)
    return {"target": encoded["path"]} if "path" in encoded else {"target_b64": encoded["path_b64"]}


def _entry_from_json(obj: dict[str, Any]) -> tuple[str, Entry]:
    target = obj.get("target")
    if target is None and "target_b64" in obj:
        target = decode_name({"path_b64": obj["target_b64"]})
    entry = Entry(
        type=obj["type"],
        size=int(obj["size"]),
        mtime_ns=int(obj["mtime_ns"]),
        ctime_ns=int(obj["ctime_ns"]),
        ino=int(obj["ino"]),
        mode=int(obj["mode"]),
        uid=int(obj["uid"]),
        gid=int(obj["gid"]),
        digest=obj.get("digest"),
        target=target,
        error=obj.get("error"),
    )
    return decode_name(obj), entry


def serialize(baseline: Baseline, key: bytes) -> bytes:
    """The signed file content for ``baseline``."""
    body = {
        **encode_name(baseline.folder),
        "algorithm": baseline.algorithm,
        "created": baseline.created.isoformat(),
        "updated": baseline.updated.isoformat(),
        "root_dev": baseline.root_dev,
        **baseline.extra,
        "entries": [_entry_to_json(p, e) for p, e in sorted(baseline.entries.items())],
    }
    raw = jsonio.dumps(body)
    mac = hmac.new(key, raw, hashlib.sha256).hexdigest().encode()
    return (_HEAD % SCHEMA) + mac + _BODY + raw + _TAIL


def parse(data: bytes, key: bytes, source: str = "the baseline") -> Baseline:
    """Check and read a baseline file's content; every failure is a :class:`BaselineError`."""
    try:
        doc = jsonio.loads(data)
    except ValueError:
        raise BaselineError(
            f"{source} is damaged: it is not valid JSON (was it cut short by a crash or a full "
            "disk?). It was left as it is; its previous version is kept beside it as .bak."
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BaselineError(f"{source} is not a fim-tray baseline. It was left as it is.")
    if doc.get("schema") != SCHEMA:
        raise BaselineError(
            f"{source} has schema version {doc.get('schema')!r}, which this fim-tray "
            f"(schema {SCHEMA}) cannot read. Use the fim-tray version that wrote it."
        )
    head = (_HEAD % SCHEMA) + str(doc.get("hmac", "")).encode() + _BODY
    raw = data[len(head) : -len(_TAIL)] if data.startswith(head) and data.endswith(_TAIL) else b""
    expected = hmac.new(key, raw, hashlib.sha256).hexdigest()
    if not raw or not hmac.compare_digest(expected, str(doc.get("hmac", ""))):
        raise BaselineTamperedError(
            f"{source} was changed outside fim-tray: its signature does not match. Someone may "
            "have edited it to hide a change. It was left as it is for you to inspect; to start "
            "again from the folder as it is now, remove the folder and add it again."
        )
    try:
        body = doc["body"]
        entries = dict(_entry_from_json(obj) for obj in body["entries"])
        return Baseline(
            folder=decode_name(body),
            algorithm=str(body["algorithm"]),
            entries=entries,
            created=datetime.fromisoformat(body["created"]),
            updated=datetime.fromisoformat(body["updated"]),
            root_dev=body.get("root_dev"),
            extra={k: v for k, v in body.items() if k not in _BODY_KEYS},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BaselineError(f"{source} is signed but incomplete ({exc!r}).") from exc


def load(path: Path, key: bytes) -> Baseline:
    """Read and verify a baseline file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(
            f"The baseline {path} is missing. Remove the folder and add it again to record a "
            "new one."
        ) from None
    except OSError as exc:
        raise BaselineError(f"The baseline {path} cannot be read: {exc.strerror}.") from exc
    return parse(data, key, source=f"The baseline {path}")


def save(path: Path, baseline: Baseline, key: bytes) -> None:
    """Write atomically, keeping the previous version as ``<name>.bak``."""
    jsonio.atomic_write(path, serialize(baseline, key), keep_backup=True)
