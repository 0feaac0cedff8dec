"""The change history: append-only JSON Lines with size-capped rotation."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.display import device_numbers
from fim_tray.errors import StorageError
from fim_tray.models import Change, Entry, Event, xattr_map
from fim_tray.store.names import decode_name, name_fields, name_from

log = logs.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024  # rotate events.jsonl past this size
KEEP = 3  # rotated files kept: events.jsonl.1 (newest) .. events.jsonl.3 (oldest)


def entry_json(entry: Entry | None) -> dict[str, Any] | None:
    """An entry as plain JSON values, for history lines and ``check --json``."""
    if entry is None:
        return None
    rdev = entry.rdev
    obj: dict[str, Any] = {
        "type": entry.type,
        "size": entry.size if rdev is None else 0,
        "mtime": datetime.fromtimestamp(entry.mtime_ns / 1e9).astimezone().isoformat(),
        "mode": f"{entry.mode:04o}",
        "uid": entry.uid,
        "gid": entry.gid,
    }
    if rdev is not None:
        obj["device"] = device_numbers(rdev)  # "major,minor", as ls -l shows it
    if entry.digest is not None:
        obj["digest"] = entry.digest
    if entry.target is not None:
        obj.update(name_fields(entry.target, "target"))
    if entry.error is not None:
        obj["error"] = entry.error
    if entry.xattrs is not None:
        obj["xattrs"] = xattr_map(entry.xattrs)  # {name: capabilities or ACL in words, or digest}
    return obj


def change_json(change: Change, folder: str, when: datetime) -> dict[str, Any]:
    """The JSON object for one change: time, folder, path, change, suspicious, before, after."""
    return {
        "time": when.isoformat(),
        **name_fields(folder, "folder"),
        **name_fields(change.path, "path"),
        "change": change.kind,
        "suspicious": change.suspicious,
        "fields": list(change.fields),
        "before": entry_json(change.before),
        "after": entry_json(change.after),
    }


def new_event_id(when: datetime) -> str:
    """Sortable and unique: microseconds since the epoch, then random bits."""
    return f"{int(when.timestamp() * 1e6):x}-{os.urandom(4).hex()}"


class History:
    """``events.jsonl`` and its rotated predecessors."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep

    def append(self, folder: str, changes: Iterable[Change], when: datetime) -> list[Event]:
        """Add one line per change, in one write; returns the events written."""
        try:
            return self.append_records(
                {
                    "id": new_event_id(when),
                    **change_json(change, folder, when),
                    "signature": change.signature(),  # lets the details window accept it
                }
                for change in changes
            )
        except StorageError as exc:
            raise StorageError(
                f"{exc.message} The changes are still pending and will be reported again."
            ) from exc.__cause__

    def append_records(self, records: Iterable[dict[str, Any]]) -> list[Event]:
        """Add events already in their JSON form (such as a restore's), in one write."""
        lines: list[bytes] = []
        events: list[Event] = []
        for obj in records:
            lines.append(jsonio.dumps(obj) + b"\n")
            events.append(_event(obj))
        if not lines:
            return events
        try:
            self._rotate_if_needed()
            jsonio.private_dir(self.path.parent)
            fd = jsonio.open_own(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                data = b"".join(lines)
                start = os.fstat(fd).st_size
                if os.write(fd, data) != len(data):  # one write: whole lines or none
                    os.ftruncate(fd, start)  # a full disk wrote part of it: take that back
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(
                f"Could not add to the history {self.path}: {exc.strerror or exc}."
            ) from exc
        return events

    def _rotate_if_needed(self) -> None:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        for index in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            newer = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)

    def files(self) -> list[Path]:
        """Oldest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]

    def read(self, limit: int | None = None) -> list[Event]:
        """The newest ``limit`` events, oldest first. A damaged line is skipped and logged."""
        events: list[Event] = []
        for path in reversed(self.files()):
            batch = list(self._read_file(path))
            events[:0] = batch
            if limit is not None and len(events) >= limit:
                break
        if limit is None:
            return events
        return events[-limit:] if limit > 0 else []

    @staticmethod
    def _read_file(path: Path) -> Iterator[Event]:
        try:
            data = jsonio.read_own(path)
        except OSError as exc:
            log.warning("cannot read history %s: %s", path, exc)
            return
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield _event(jsonio.loads(line))
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                log.warning("skipping damaged line %d of %s", number, path)


_EVENT_KEYS = {"id", "time", "folder", "folder_b64", "path", "path_b64", "change", "suspicious"}
_EVENT_KEYS |= {"fields"}
_EVENT_KEYS |= {"before", "after", "signature"}


def _event(obj: dict[str, Any]) -> Event:
    return Event(
        id=str(obj["id"]),
        time=datetime.fromisoformat(obj["time"]),
        folder=_folder(obj),
        path=decode_name(obj),
        change=str(obj["change"]),
        suspicious=bool(obj.get("suspicious", False)),
        fields=tuple(obj.get("fields", ())),
        before=obj.get("before"),
        after=obj.get("after"),
        signature=obj.get("signature"),
        extra={k: v for k, v in obj.items() if k not in _EVENT_KEYS},  # such as previous_digest
    )


def _folder(obj: dict[str, Any]) -> str:
    folder = name_from(obj, "folder")
    if folder is None:
        raise KeyError("folder")
    return folder
