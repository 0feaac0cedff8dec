"""The outbox: every message waiting for a channel, kept on disk until the channel took it, so a
server that is down, a restart of the tray or of the monitor, loses nothing.

Each channel has its own queue (``<id>.jsonl``: one ``{"seq": n, "msg": {...}}`` a line,
appended whole) and cursor (``<id>.sent``: the last number delivered, written atomically), so
each message goes to each channel once and in order; a crash between a send and its cursor
sends that batch again rather than lose it. A message made from history lines carries the
highest line's number (``"line"``), and a channel never queues a line it has queued before: a
crash between filling one channel's queue and the next one's fills the others later, once.
A queue holds at most ``limit`` messages: past that, new ones are dropped and counted, and the
count is shown.

With a ``key`` (the install key), each line and each cursor carries a MAC made with it: a line
written into a queue by anyone else is never sent (it is dropped and said), and a cursor
changed by anyone else counts as damaged (the queue is sent again rather than lost)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import stat
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs

log = logs.getLogger(__name__)

LIMIT = 5000  # messages waiting per channel
COMPACT = 1000  # delivered lines kept at the head of a queue file before it is rewritten
MAX_READ = 256 * 1024 * 1024
_DOMAIN = b"fim-tray outbox\n"  # what a MAC here is of: never mistaken for another file's
MAC_HEX = 32


class Outbox:
    """The queues of every channel under ``folder``; safe to use from several threads."""

    def __init__(
        self, folder: Path, limit: int = LIMIT, key: Callable[[], bytes] | None = None
    ) -> None:
        self.folder = folder
        self.limit = limit
        self._key = key
        self._lock = threading.Lock()
        self._queues: dict[str, deque[tuple[int, dict[str, Any], int | None]]] = {}
        self._lines: dict[str, int] = {}  # the highest history line queued for each channel
        self._at: dict[str, datetime | None] = {}  # and the newest time of a line queued
        self._next: dict[str, int] = {}
        self._stale: dict[str, int] = {}  # delivered lines still in the queue file
        self.dropped: dict[str, int] = {}

    def _queue_file(self, channel: str) -> Path:
        return self.folder / f"{channel}.jsonl"

    def _sent_file(self, channel: str) -> Path:
        return self.folder / f"{channel}.sent"

    def _load(self, channel: str) -> deque[tuple[int, dict[str, Any], int | None]]:
        queue = self._queues.get(channel)
        if queue is not None:
            return queue
        sent, top, at = 0, -1, None
        with contextlib.suppress(FileNotFoundError):
            try:
                cursor = self._opened(channel, jsonio.read_own(self._sent_file(channel), 4096))
                sent, top, at = int(cursor["seq"]), _line(cursor), _when(cursor.get("at"))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                log.warning("the outbox's cursor %s is damaged (%s): sending its queue again",
                            self._sent_file(channel), exc)  # fmt: skip
                clear_odd(self._sent_file(channel))
        queue = deque()
        stale, last = 0, sent
        try:
            data = jsonio.read_own(self._queue_file(channel), MAX_READ)
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            log.warning("cannot read the outbox %s: %s", self._queue_file(channel), exc)
            clear_odd(self._queue_file(channel))  # a link or a FIFO planted there
            data = b""
        lines = data.splitlines()
        damaged = forged = 0
        for number, line in enumerate(lines, 1):
            try:
                obj = jsonio.loads(line)
                seq, msg, line_ = int(obj["seq"]), obj["msg"], _line(obj)
                mark = line_ if line_ >= 0 else None
                if not isinstance(msg, dict):
                    raise TypeError("not a message")
            except (ValueError, KeyError, TypeError, RecursionError, AttributeError):
                # The last line cut short by a crash was never acknowledged to anyone; any other
                # damaged line is a message lost, and said so.
                damaged += number < len(lines)
                continue
            if not self._holds(channel, obj):
                forged += 1
                continue
            last = max(last, seq)
            top = max(top, line_)
            if mark is not None:
                at = _later(at, _when(msg.get("time")))
            if seq <= sent:
                stale += 1
            else:
                queue.append((seq, msg, mark))
        if damaged:
            log.warning("the outbox %s had %d damaged line(s): those alerts are lost (the history "
                        "still has every change)", self._queue_file(channel), damaged)  # fmt: skip
        if forged:
            log.warning("the outbox %s had %d line(s) that fim-tray did not write: not sent",
                        self._queue_file(channel), forged)  # fmt: skip
        self._queues[channel] = queue
        self._lines[channel] = top
        self._at[channel] = at
        self._next[channel] = last + 1
        self._stale[channel] = stale
        return queue

    def put(
        self, channel: str, messages: list[dict[str, Any]], lines: list[int | None] | None = None
    ) -> int:
        """Queue ``messages`` for ``channel`` (on disk before this returns); the number dropped
        because its queue is full. ``lines``: the history line each message was made from
        (None: none); one this channel has queued already is left out."""
        marks: list[int | None] = list(lines) if lines is not None else [None] * len(messages)
        with self._lock:
            queue = self._load(channel)
            fresh = [(m, n) for m, n in zip(messages, marks, strict=True)
                     if not self._queued(channel, n, m)]  # fmt: skip
            if not fresh:
                return 0
            messages, marks = [m for m, _ in fresh], [n for _, n in fresh]
            room = max(0, self.limit - len(queue))
            kept, dropped = messages[:room], len(messages) - room if len(messages) > room else 0
            if dropped:
                self.dropped[channel] = self.dropped.get(channel, 0) + dropped
                log.warning("the outbox of a channel is full (%d messages waiting): %d new "
                            "message(s) dropped", len(queue), dropped)  # fmt: skip
            if not kept:
                return dropped
            seq = self._next[channel]
            numbered = [(seq + i, msg, marks[i]) for i, msg in enumerate(kept)]
            data = b"".join(self._envelope(channel, *item) for item in numbered)
            self._append(self._queue_file(channel), data)
            self._next[channel] = seq + len(kept)
            self._lines[channel] = max([self._lines[channel], *(n for n in marks if n is not None)])
            for msg, n in zip(kept, marks, strict=False):
                if n is not None:
                    self._at[channel] = _later(self._at[channel], _when(msg.get("time")))
            queue.extend(numbered)
            return dropped

    def _queued(self, channel: str, line: int | None, msg: dict[str, Any]) -> bool:
        """Whether the message made from history ``line`` was queued for ``channel`` before:
        a line at or below the highest queued, and no newer than it (the numbers of a history
        put back are given again, to lines written later)."""
        if line is None or line > self._lines[channel]:
            return False
        at, when = self._at[channel], _when(msg.get("time"))
        try:
            return at is None or when is None or when <= at
        except TypeError:  # one with a zone, one without: taken as queued (never sent twice)
            return True

    def _mark(self, channel: str) -> dict[str, Any]:
        at = self._at.get(channel)
        return {"line": self._lines[channel], "at": at.isoformat() if at else None}

    def line(self, channel: str) -> int:
        """The highest history line ever queued for ``channel`` (-1: none)."""
        with self._lock:
            self._load(channel)
            return self._lines[channel]

    def _append(self, path: Path, data: bytes) -> None:
        jsonio.private_dir(path.parent)
        fd = jsonio.open_own(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            start = os.fstat(fd).st_size
            if start and os.pread(fd, 1, start - 1) != b"\n":
                data = b"\n" + data
            if os.write(fd, data) != len(data):
                os.ftruncate(fd, start)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)

    def peek(self, channel: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` messages waiting for ``channel``, oldest first."""
        with self._lock:
            queue = self._load(channel)
            return [msg for _, msg, _ in list(queue)[:limit]]

    def waiting(self, channel: str) -> int:
        with self._lock:
            return len(self._load(channel))

    def done(self, channel: str, count: int) -> None:
        """The first ``count`` messages were delivered: never send them again."""
        if count <= 0:
            return
        with self._lock:
            queue = self._load(channel)
            last = 0
            for _ in range(min(count, len(queue))):
                last = queue.popleft()[0]
            # The highest line queued goes with the cursor: it is either delivered or still in
            # the queue file, which goes away once empty.
            cursor = self._sealed(f"{channel}.sent", {"seq": last, **self._mark(channel)})
            jsonio.atomic_write(self._sent_file(channel), jsonio.dumps(cursor) + b"\n")
            self._stale[channel] += count
            if not queue:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._queue_file(channel))
                self._stale[channel] = 0
            elif self._stale[channel] >= COMPACT:
                data = b"".join(self._envelope(channel, *item) for item in queue)
                jsonio.atomic_write(self._queue_file(channel), data)
                self._stale[channel] = 0

    def _sealed(self, channel: str, obj: dict[str, Any]) -> dict[str, Any]:
        return sealed(self._key, channel, obj)

    def _holds(self, channel: str, obj: dict[str, Any]) -> bool:
        return holds(self._key, channel, obj)

    def _opened(self, channel: str, data: bytes) -> dict[str, Any]:
        """A cursor's JSON; ``ValueError`` when it is not one fim-tray wrote."""
        obj = jsonio.loads(data)
        if not isinstance(obj, dict) or not self._holds(f"{channel}.sent", obj):
            raise ValueError("fim-tray did not write it")
        return obj

    def _envelope(self, channel: str, seq: int, msg: dict[str, Any], line: int | None) -> bytes:
        obj: dict[str, Any] = {"seq": seq, "msg": msg}
        if line is not None:
            obj["line"] = line
        return jsonio.dumps(self._sealed(channel, obj)) + b"\n"

    def clamp(self, channel: str, newest: int) -> None:
        """Forget the history lines above ``newest`` that ``channel`` queued: the history was
        started afresh (or an older copy put back), and its numbers begin again."""
        with self._lock:
            queue = self._load(channel)
            if self._lines[channel] <= newest:
                return
            kept = deque((seq, msg, line if line is None or line <= newest else None)
                         for seq, msg, line in queue)  # fmt: skip
            data = b"".join(self._envelope(channel, *item) for item in kept)
            if kept:
                jsonio.atomic_write(self._queue_file(channel), data)
            sent = kept[0][0] - 1 if kept else self._next[channel] - 1  # delivered up to
            cursor = self._sealed(f"{channel}.sent", {"seq": sent, "line": -1})
            jsonio.atomic_write(self._sent_file(channel), jsonio.dumps(cursor) + b"\n")
            if not kept:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._queue_file(channel))
            self._queues[channel] = kept
            self._stale[channel] = 0
            self._lines[channel] = max((n for _, _, n in kept if n is not None), default=-1)
            self._at[channel] = None

    def reload(self) -> None:
        """Read every queue from disk again at its next use: another process may have sent
        from it, or added to it, since this one read it."""
        with self._lock:
            self._queues.clear()
            self._lines.clear()
            self._at.clear()

    def forget(self, channel: str) -> None:
        """Drop a removed channel's queue and cursor."""
        with self._lock:
            self._queues.pop(channel, None)
            self._lines.pop(channel, None)
            self._at.pop(channel, None)
            self.dropped.pop(channel, None)
            for path in (self._queue_file(channel), self._sent_file(channel)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


def sealed(key: Callable[[], bytes] | None, what: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with its MAC as a file of ``what`` holds it, when there is a ``key``."""
    return {**obj, "mac": mac(key(), what, obj)} if key is not None else obj


def holds(key: Callable[[], bytes] | None, what: str, obj: dict[str, Any]) -> bool:
    """Whether fim-tray wrote ``obj`` as a file of ``what`` holds it (always, without a key)."""
    if key is None:
        return True
    claimed = obj.get("mac")
    return isinstance(claimed, str) and hmac.compare_digest(
        claimed.encode(), mac(key(), what, obj).encode()
    )


def mac(key: bytes, what: str, obj: dict[str, Any]) -> str:
    """The MAC of ``obj`` (without its own ``mac``) as a file of ``what`` holds it."""
    body = jsonio.dumps({k: v for k, v in obj.items() if k != "mac"})
    digest = hmac.new(key, _DOMAIN + what.encode() + b"\n" + body, hashlib.sha256)
    return digest.hexdigest()[:MAC_HEX]


def _line(obj: dict[str, Any], default: int = -1) -> int:
    """A history line's number (they count from 0) kept beside a message or a cursor."""
    line = obj.get("line")
    if isinstance(line, int) and not isinstance(line, bool) and line >= 0:
        return line
    return default


def clear_odd(path: Path, *, folder: bool = False) -> None:
    """Take away what is in the place of one of the outbox's own files (or of the outbox
    ``folder`` itself) and is not one (a link, a FIFO, a folder or a file planted there), so it
    can be written again; said."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode):
        return
    what = "a folder" if stat.S_ISDIR(st.st_mode) else "a link or another file"
    log.warning("%s was not what fim-tray made there (%s): removed", path, what)
    if stat.S_ISDIR(st.st_mode):
        import shutil  # only here: off the path of a check

        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _when(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    try:
        return max(a, b)
    except TypeError:  # one with a zone, one without
        return b
