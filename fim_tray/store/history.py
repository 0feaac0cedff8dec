"""The change history: append-only JSON Lines with size-capped rotation, each line chained to the
one before by an HMAC, and the chain's head kept beside the install key.

A line is ``{...the event..., "n": its number, "prev": the MAC of line n-1, "chain": its MAC}``;
the MAC covers the line's own bytes up to ``"chain"``, so any edit shows, and ``n`` and ``prev``
make a deleted, reordered or inserted line show too. The head (``history.head`` in the settings
folder: the first number kept, the count and the last MAC, itself signed) shows a cut tail. A line
without a chain (an earlier version's) is shown as not verified and never acted on."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NamedTuple

from fim_tray import jsonio, logs
from fim_tray.display import device_numbers
from fim_tray.errors import FimError, StorageError
from fim_tray.models import Change, Entry, Event, escape_xattr_name, xattr_map
from fim_tray.store.names import decode_name, name_fields, name_from

log = logs.getLogger(__name__)

MAX_BYTES = 4 * 1024 * 1024  # rotate events.jsonl past this size
KEEP = 3  # rotated files kept: events.jsonl.1 (newest) .. events.jsonl.3 (oldest)
MAX_READ = 16 * MAX_BYTES  # a history file bigger than this was not written by rotation: not read


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
        "ino": entry.ino,  # with ctime: what a SIEM's file events carry (see alerts/ecs.py)
        "ctime": datetime.fromtimestamp(entry.ctime_ns / 1e9).astimezone().isoformat(),
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
        # {name: capabilities or ACL in words, or a digest}; a name that is not UTF-8 as %XX
        obj["xattrs"] = {escape_xattr_name(k): v for k, v in xattr_map(entry.xattrs).items()}
    return obj


def json_entry(obj: object) -> Entry | None:
    """The inverse of :func:`entry_json`, as far as a line keeps it (no inode, no ctime; the
    time to the microsecond): enough to word a change. ``ValueError``, ``TypeError`` or
    ``KeyError`` when ``obj`` is not an entry's JSON."""
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise TypeError("an entry is an object")
    when = datetime.fromisoformat(str(obj["mtime"]))
    size = int(obj.get("size") or 0)
    device = obj.get("device")
    if isinstance(device, str) and hasattr(os, "makedev"):  # "major,minor": kept in size
        major, _, minor = device.partition(",")
        size = os.makedev(int(major), int(minor))
    xattrs = obj.get("xattrs")
    kept = "\n".join(f"{k}={v}" for k, v in xattrs.items()) if isinstance(xattrs, dict) else None
    return Entry(
        type=obj["type"], size=size, mtime_ns=_ns(when), ctime_ns=0,
        ino=int(obj.get("ino") or 0), mode=int(str(obj["mode"]), 8), uid=int(obj["uid"]),
        gid=int(obj["gid"]), digest=obj.get("digest"), target=name_from(obj, "target"),
        error=obj.get("error"), xattrs=kept or None,
    )  # fmt: skip


def _ns(when: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (a float would round)."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    aware = when if when.tzinfo is not None else when.astimezone()
    return (aware - epoch) // timedelta(microseconds=1) * 1000


def event_change(event: Event) -> Change | None:
    """The change a history event tells of, to word it as the desktop does (see
    display.notice_detail); None when its line does not say enough (an edited one)."""
    try:
        return Change(event.change, event.path, json_entry(event.before),  # type: ignore[arg-type]
                      json_entry(event.after), tuple(event.fields), event.suspicious)  # fmt: skip
    except (KeyError, ValueError, TypeError, OverflowError):
        return None


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


def folder_line(folder: str, change: str, when: datetime, **extra: object) -> dict[str, Any]:
    """A history line about a watched folder as a whole, not one of its files (``path`` is
    "."): a folder given up, an ignore pattern added or removed; ``extra`` says what went
    with it."""
    return {
        "id": new_event_id(when),
        "time": when.isoformat(),
        **name_fields(folder, "folder"),
        "path": ".",
        "change": change,
        "suspicious": False,
        "fields": [],
        "before": None,
        "after": None,
        **extra,
    }


_CHAIN = b',"chain":"'
MAC_HEX = 32  # hex digits of a line's MAC kept (128 bits)


def _mac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()[:MAC_HEX]


def seal(obj: dict[str, Any], key: bytes, number: int, prev: str) -> tuple[bytes, str]:
    """One chained line (without its newline) and its MAC."""
    body = jsonio.dumps({**obj, "n": number, "prev": prev})
    mac = _mac(key, body)
    return body[:-1] + _CHAIN + mac.encode() + b'"}', mac


def unseal(line: bytes, key: bytes | None) -> tuple[bytes, str | None]:
    """The JSON of a line without its chain, and its MAC when it holds (None: no chain, or one
    that does not match: edited, forged, or sealed with another key)."""
    at = line.rfind(_CHAIN)
    if at < 0 or not line.endswith(b'"}') or key is None:
        return (line[:at] + b"}" if at >= 0 else line), None
    body, mac = line[:at] + b"}", line[at + len(_CHAIN) : -2]
    if len(mac) == MAC_HEX and hmac.compare_digest(_mac(key, body).encode(), mac):
        return body, mac.decode("ascii")
    return body, None


class Head(NamedTuple):
    """What the history's chain must reach: the first line number kept, the number the next
    line gets, and the MAC of the last line."""

    first: int
    total: int
    last: str
    legacy: int = 0  # unchained lines (an earlier version's) there when the chain began


class Verdict(NamedTuple):
    """The history checked against its chain: ``problem`` names the first bad line."""

    lines: int
    problem: str | None = None
    unchained: int = 0  # lines of an earlier version, before the chain began


def new_event_id(when: datetime) -> str:
    """Sortable and unique: microseconds since the epoch, then random bits."""
    return f"{int(when.timestamp() * 1e6):x}-{os.urandom(4).hex()}"


class History:
    """``events.jsonl`` and its rotated predecessors; chained when it has a ``key`` (the install
    key, asked for only when a line is written or a chain exists) and a ``head`` file."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = MAX_BYTES,
        keep: int = KEEP,
        *,
        key: Callable[[], bytes] | None = None,
        head: Path | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._key = key
        self.head_file = head

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
        """Add events already in their JSON form (such as a restore's), in one write, chained
        after the last line (the data lock held: see ``Store.locked``)."""
        objs = list(records)
        if not objs:
            return []
        key = self._key() if self._key is not None and self.head_file is not None else None
        lines: list[bytes] = []
        events: list[Event] = []
        try:
            first = self._rotate_if_needed(key)
            head = self._next(key) if key is not None else None
            number, prev = (head.total, head.last) if head is not None else (0, "")
            for obj in objs:
                if key is None:
                    lines.append(jsonio.dumps(obj) + b"\n")
                else:
                    line, prev = seal(obj, key, number, prev)
                    lines.append(line + b"\n")
                    number += 1
                events.append(_event(obj, verified=key is not None))
            jsonio.private_dir(self.path.parent)
            fd = jsonio.open_own(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
            try:
                data = b"".join(lines)
                start = os.fstat(fd).st_size
                if start and os.pread(fd, 1, start - 1) != b"\n":
                    data = b"\n" + data  # a line cut short by a crash: never glue onto it
                if os.write(fd, data) != len(data):  # one write: whole lines or none
                    os.ftruncate(fd, start)  # a full disk wrote part of it: take that back
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)  # on disk before what it records (an accept's baseline) can be
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(
                f"Could not add to the history {self.path}: {jsonio.write_failure(exc)}."
            ) from exc
        if key is not None:  # after the lines: a crash between leaves a head that lags, never
            # one that runs ahead of the history (which would look like a cut tail)
            kept_from = head.first if head is not None and first is None else first
            legacy = head.legacy if head is not None else 0
            self._write_head(key, Head(kept_from or 0, number, prev, legacy))
        return events

    def _rotate_if_needed(self, key: bytes | None) -> int | None:
        """Rotate when the current file is full; the number of the first line kept when the
        oldest file was dropped (None when nothing was, or when that line does not verify:
        the head then keeps its first number, and the gap shows)."""
        try:
            if self.path.stat().st_size < self.max_bytes:
                return None
        except FileNotFoundError:
            return None
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        first = None
        if oldest.exists() and key is not None:  # dropped below: the chain now starts after it
            _, last = self._last_in(oldest, key)
            first = last[0] + 1 if last is not None else None
        for index in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            newer = self.path.with_name(f"{self.path.name}.{index - 1}") if index > 1 else self.path
            with contextlib.suppress(FileNotFoundError):
                os.replace(newer, older)
        return first

    # -- the chain ---------------------------------------------------------------------------

    def _read_head(self, key: bytes) -> Head | None:
        if self.head_file is None:
            return None
        try:
            obj = jsonio.loads(jsonio.read_own(self.head_file, limit=4096))
            head = Head(
                int(obj["first"]), int(obj["total"]), str(obj["last"]), int(obj.get("legacy", 0))
            )
            body = jsonio.dumps(self._head_body(head))
            claimed = obj["mac"]
            if not (isinstance(claimed, str) and claimed.isascii()):
                raise ValueError("its MAC is not one")
            if not hmac.compare_digest(_mac(key, body), claimed):
                raise ValueError("its MAC does not match")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise StorageError(
                f"The history's head {self.head_file} cannot be used ({exc}): the history "
                "cannot be checked against it. `fim-tray history --verify` says more."
            ) from exc
        return head

    @staticmethod
    def _head_body(head: Head) -> dict[str, Any]:
        obj: dict[str, Any] = {"first": head.first, "total": head.total, "last": head.last}
        if head.legacy:
            obj["legacy"] = head.legacy
        return obj

    def _write_head(self, key: bytes, head: Head) -> None:
        assert self.head_file is not None
        obj = self._head_body(head)
        obj["mac"] = _mac(key, jsonio.dumps(obj))
        jsonio.atomic_write(self.head_file, jsonio.dumps(obj) + b"\n")

    def _next(self, key: bytes) -> Head:
        """Where the next line goes: after the last line written (a crash may have kept the
        head from following it), but never back before the head (a tail cut off stays a gap
        the verification names)."""
        head = self._read_head(key)
        last = self._last_line(key)
        if last is not None and (head is None or last[0] + 1 >= head.total):
            if head is None:
                return Head(last[0], last[0] + 1, last[1])
            return head._replace(total=last[0] + 1, last=last[1])
        if head is None:  # the chain begins: what is there before it is counted, once
            return Head(0, 0, "", sum(1 for _, _, line in self._lines() if line.strip()))
        return head

    def _last_line(self, key: bytes) -> tuple[int, str] | None:
        """The number and MAC of the last chained line, read from the end of the newest file
        that holds one."""
        for path in reversed(self.files()):
            any_line, found = self._last_in(path, key)
            if any_line:
                return found
        return None

    @staticmethod
    def _last_in(path: Path, key: bytes) -> tuple[bool, tuple[int, str] | None]:
        """Whether ``path`` holds a line (or cannot be read), and the number and MAC of its
        last line when that verifies."""
        try:
            fd = jsonio.open_own(path)
        except OSError:
            return True, None
        try:
            size = os.fstat(fd).st_size
            os.lseek(fd, max(0, size - 65536), os.SEEK_SET)
            tail = os.read(fd, 65536)
        finally:
            os.close(fd)
        for line in reversed(tail.splitlines()):
            if line.strip():
                body, mac = unseal(line, key)
                try:
                    number = jsonio.loads(body)["n"] if mac is not None else None
                except (ValueError, KeyError, TypeError, RecursionError):
                    number = None
                return True, ((int(number), mac) if isinstance(number, int) and mac else None)
        return False, None


    def next_number(self) -> int | None:
        """The number the next chained line gets, as the signed head says (None: no head, or
        one that cannot be used)."""
        key = self.key_if_chained()
        if key is None:
            return None
        try:
            head = self._read_head(key)
        except StorageError:
            return None
        return head.total if head is not None else None

    @property
    def key_source(self) -> Callable[[], bytes] | None:
        """What gives the install key (made on first use), for files that sign as this does."""
        return self._key

    def key_if_chained(self) -> bytes | None:
        """The key, when there is a chain to check (its head exists); None otherwise, so that
        reading a history never makes a key."""
        if self._key is None or self.head_file is None or not self.head_file.exists():
            return None
        return self._key()

    def verify(self) -> Verdict:
        """Check every line against the chain and the head; the first problem found, named by
        file and line."""
        key = self.key_if_chained()
        if key is None:
            lines = sum(1 for _, _, line in self._lines() if line.strip())
            if self.head_file is not None and lines and self._any_chained():
                return Verdict(lines, f"the history's head {self.head_file} is missing")
            return Verdict(lines, None, unchained=lines)
        head = self._read_head(key)
        assert head is not None
        expected, prev, count, unchained = head.first, None, 0, 0
        last_mac: str | None = None
        for path, number, line in self._lines():
            count += 1
            where = f"{path.name} line {number}"
            if not line.strip():  # fim-tray writes none: padding, to push real lines out
                return Verdict(count, f"{where}: a blank line, not written by fim-tray")
            body, mac = unseal(line, key)
            if mac is None:
                if prev is None and _CHAIN not in line and unchained < head.legacy:
                    unchained += 1  # an earlier version's, there when the chain began
                    continue
                return Verdict(count, f"{where}: edited, or not written by fim-tray (no valid MAC)")
            obj = jsonio.loads(body)
            seq = obj.get("n")
            if seq != expected:
                if isinstance(seq, int) and seq > expected:
                    gone = seq - expected
                    return Verdict(count, f"{where}: {gone} line(s) before it were deleted")
                return Verdict(count, f"{where}: out of order (#{seq} where #{expected} belongs)")
            if prev is not None and obj.get("prev") != prev:
                return Verdict(count, f"{where}: does not follow the line before it")
            prev, expected = mac, expected + 1
            if expected == head.total:
                last_mac = mac
        if expected < head.total:
            return Verdict(
                count, f"the last {head.total - expected} line(s) were cut off (the head says "
                f"{head.total} lines were written, {expected} are there)",
            )  # fmt: skip
        if head.total > head.first and last_mac != head.last:
            return Verdict(count, "the lines up to the head were replaced")
        return Verdict(count, None, unchained)

    def _lines(self) -> Iterator[tuple[Path, int, bytes]]:
        for path in self.files():
            try:
                data = jsonio.read_own(path, limit=MAX_READ)
            except OSError as exc:
                why = exc.strerror or exc
                raise StorageError(f"Could not read the history {path}: {why}.") from exc
            for number, line in enumerate(data.splitlines(), 1):
                yield path, number, line

    def _any_chained(self) -> bool:
        return any(_CHAIN in line for _, _, line in self._lines())

    def stamp(self) -> tuple[tuple[str, int, int], ...]:
        """Size and mtime of each history file and of the head: what changes with any write,
        so a caller verifies the chain again only when this does."""
        found = []
        for path in [*self.files(), *([self.head_file] if self.head_file else [])]:
            try:
                st = os.lstat(path)
            except OSError:
                continue
            found.append((path.name, st.st_size, st.st_mtime_ns))
        return tuple(found)

    def files(self) -> list[Path]:
        """Oldest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        return [p for p in [*rotated, self.path] if p.exists()]

    def read(self, limit: int | None = None) -> list[Event]:
        """The newest ``limit`` events, oldest first, each ``verified`` when its MAC holds. A
        damaged line is skipped and logged."""
        try:
            key = self.key_if_chained()
        except FimError as exc:
            log.warning("the history cannot be verified: %s", exc.message)
            key = None
        events: list[Event] = []
        for path in reversed(self.files()):
            batch = list(self._read_file(path, key))
            events[:0] = batch
            if limit is not None and len(events) >= limit:
                break
        if limit is None:
            return events
        return events[-limit:] if limit > 0 else []

    @staticmethod
    def _read_file(path: Path, key: bytes | None) -> Iterator[Event]:
        try:
            data = jsonio.read_own(path, limit=MAX_READ)
        except OSError as exc:
            log.warning("cannot read history %s: %s", path, exc)
            return
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                body, mac = unseal(line, key)
                yield _event(jsonio.loads(body), verified=mac is not None)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                log.warning("skipping damaged line %d of %s", number, path)


_EVENT_KEYS = {"id", "time", "folder", "folder_b64", "path", "path_b64", "change", "suspicious"}
_EVENT_KEYS |= {"fields"}
_EVENT_KEYS |= {"before", "after", "signature", "n", "prev", "chain"}


def _event(obj: dict[str, Any], *, verified: bool = False) -> Event:
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
        verified=verified,
    )


def _folder(obj: dict[str, Any]) -> str:
    folder = name_from(obj, "folder")
    if folder is None:
        raise KeyError("folder")
    return folder
