"""The signed, sorted load cache and index beside each baseline (``<id>.json.cache``): its
format, written and read whole, and searched by path without reading it whole.
:mod:`fim_tray.store.state` reads and writes it with each baseline.

The JSON stays the only source of truth and its format does not change. Parsing it is most of
the time a check spends on its baseline, and holds the whole document in memory; the cache
holds the same entries as packed records (:mod:`fim_tray.records`), sorted by path, in frames
of ``FRAME`` entries, and is used only when it is provably the JSON's own content:

* the JSON's signature is verified on every load (one HMAC pass, no parse), so a tampered
  or damaged JSON is reported as such, whatever cache sits beside it;
* the cache carries that signature, and HMAC-SHA256 (same install key) covers every byte of
  it that is used: each frame has its own MAC, kept in the table, and one MAC at the end covers
  the signature, the head and the table. A cache made from another JSON, cut short, edited, or
  made with another key is ignored: the JSON is then parsed and the cache written again.

Layout: ``MAGIC``, the JSON's signature (32 bytes), ``_TAG`` (cache version; Python version
and byte order, as marshal data is only read back by the Python that wrote it), then frames,
each a 4-byte length and marshal data: the head (the baseline's fields, its entry count), the
entries' frames (paths and records), the table (for each entry frame: its first path, offset,
length and MAC); then the table's offset (8 bytes) and the MAC of all but the entry frames.

Every byte is checked in memory, then used from that very copy: never read again from the
file, which another process could change in between. A whole load holds the records and one
frame; a search (:class:`Index`, for a file event in a folder of a million files) holds the
head, the table and the frames it reads, and checks only those.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import marshal
import os
import struct
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.models import ENTRY_FIELDS
from fim_tray.records import Records
from fim_tray.store.baseline import BODY_KEYS, Baseline

log = logs.getLogger(__name__)

SUFFIX = ".cache"
VERSION = 2
# Also what the cache's HMAC starts with: the JSON's HMAC always covers a body that starts
# with "{", so a MAC of one can never pass for a MAC of the other.
MAGIC = b"fim-tray baseline cache\n"
_TAG = struct.pack(
    "<HBBB", VERSION, sys.version_info[0], sys.version_info[1], sys.byteorder == "little"
)
_MAC = hashlib.sha256().digest_size
_LEN = struct.Struct("<I")
_END = struct.Struct("<Q")  # the table's offset
_FIELDS = ENTRY_FIELDS
FRAME = 4096  # entries a frame: what a search reads to find one path
_FRAME_DOMAIN = b"fim-tray cache frame\n"
# The most the head or the table of a cache may hold: read before their MAC can be checked.
# The table has a row per 4,096 entries (of about 100 bytes, with its path): 64 MiB is room
# for billions of files; the head holds a few fields.
_MAX_UNCHECKED = 64 << 20


def cache_path(path: Path) -> Path:
    """Where the cache of the baseline ``path`` is kept."""
    return path.with_name(path.name + SUFFIX)


# -- writing --------------------------------------------------------------------------------------


def parts(record: Baseline, json_mac: str, key: bytes) -> Iterator[bytes]:
    """The cache of ``record``, bound to the JSON whose
    :func:`~fim_tray.store.baseline.signature` is ``json_mac``, in pieces (a frame at a time:
    never the whole of it at once). ``ValueError`` (before the first piece) when the cache
    would not give back what parsing that JSON gives, so there must be none."""
    extra = record.extra
    if extra.keys() & BODY_KEYS:  # they override the body's own keys in the JSON
        raise ValueError(f"extra keys {sorted(extra.keys() & BODY_KEYS)}")
    # What the JSON parse gives: JSON values (lists, not tuples), in the JSON's order.
    extra = jsonio.loads(jsonio.dumps(dict(extra)))
    entries = record.entries
    packed = entries if isinstance(entries, Records) else Records(entries)
    paths = sorted(packed)  # the JSON's order
    head = (
        _FIELDS, record.folder, record.algorithm, record.created.isoformat(),
        record.updated.isoformat(), record.root_dev, extra, len(paths),
    )  # fmt: skip
    return _framed(head, packed, paths, json_mac, key)


def _framed(
    head: tuple[Any, ...], packed: Records, paths: list[str], json_mac: str, key: bytes
) -> Iterator[bytes]:
    mac = hmac.new(key, digestmod=hashlib.sha256)  # the signature, the head and the table
    bound = MAGIC + bytes.fromhex(json_mac) + _TAG
    head_frame = _frame(head)
    mac.update(bound + head_frame)
    yield bound + head_frame
    offset = len(bound) + len(head_frame)
    table = []
    get = packed.record
    for start in range(0, len(paths), FRAME):
        names = paths[start : start + FRAME]
        frame = _frame((names, list(map(get, names))))
        table.append((names[0], offset, len(frame), _frame_mac(key, frame)))
        offset += len(frame)
        yield frame
    table_frame = _frame(table) + _END.pack(offset)
    mac.update(table_frame)
    yield table_frame
    yield mac.digest()


def _frame_mac(key: bytes, frame: bytes) -> bytes:
    # Its own domain: a frame's MAC can never pass for the MAC of the head and table.
    return hmac.new(key, _FRAME_DOMAIN + frame, hashlib.sha256).digest()


def _frame(value: Any) -> bytes:
    data = marshal.dumps(value)
    return _LEN.pack(len(data)) + data


def encode(record: Baseline, json_mac: str, key: bytes) -> bytes:
    """The whole cache of ``record`` (see :func:`parts`) as one bytes object."""
    return b"".join(parts(record, json_mac, key))


def write(path: Path, record: Baseline, json_mac: str, key: bytes) -> None:
    """Write the cache of the baseline ``path`` a frame at a time. The disk is not waited
    for: a cache cut short by a power failure fails its HMAC and is not used."""
    jsonio.atomic_write_chunks(cache_path(path), parts(record, json_mac, key), durable=False)


# -- reading --------------------------------------------------------------------------------------


class _Reader:
    """A cache file opened, its head and table checked: its frames read by offset, each checked
    against its MAC in the table before it is used."""

    def __init__(self, fd: int, size: int, key: bytes, path: Path) -> None:
        self.fd = fd
        self.path = path
        self.size = size
        self.key = key

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise ValueError("cut short while read")
        return data

    def raw_frame(self, offset: int) -> bytes:
        """The head or the table at ``offset`` (its length and data), as it is in the file;
        ``ValueError`` when the length it claims, not yet checked, is more than any such frame
        of a cache fim-tray writes (a planted length must not cost gigabytes to refuse)."""
        (length,) = _LEN.unpack(self.read(offset, _LEN.size))
        if length > _MAX_UNCHECKED:
            raise ValueError(f"a frame of {length:,} bytes")
        return self.read(offset, _LEN.size + length)

    def frame(self, row: tuple[str, int, int, bytes]) -> tuple[list[str], list[bytes]]:
        """The entry frame the table's ``row`` names, once its bytes match its MAC."""
        _first, offset, length, mac = row
        data = self.read(offset, length)
        if not hmac.compare_digest(_frame_mac(self.key, data), mac):
            raise _Forged
        value: tuple[list[str], list[bytes]] = _value(data)
        return value


class _Forged(Exception):
    """A frame whose bytes are not the ones its MAC was made of: the cache is not used."""


def _value(frame: bytes) -> Any:
    # Only bytes that were just checked against this install's key reach marshal.
    return marshal.loads(memoryview(frame)[_LEN.size :])  # noqa: S302


def _open(path: Path, json_mac: str, key: bytes) -> tuple[_Reader, Baseline, int, list[Any]] | None:
    """The cache of baseline ``path`` opened, when it is the one made with ``key`` from the
    JSON whose signature is ``json_mac`` (and by a Python that reads it back the same): its
    reader, the baseline's fields (its entries empty), its entry count and its table. None
    otherwise (the descriptor then closed)."""
    try:
        fd = jsonio.open_own(cache_path(path))
    except OSError:  # none yet (FileNotFoundError), a link or a FIFO planted: not used
        return None
    try:
        reader = _Reader(fd, os.fstat(fd).st_size, key, cache_path(path))
        bound = MAGIC + bytes.fromhex(json_mac) + _TAG
        end = reader.size - _MAC
        # The cheap test first: a cache left from an earlier version of the JSON fails here.
        if end < len(bound) + _END.size or reader.read(0, len(bound)) != bound:
            raise ValueError("another JSON's")
        head_frame = reader.raw_frame(len(bound))
        (table_at,) = _END.unpack(reader.read(end - _END.size, _END.size))
        table_frame = reader.raw_frame(table_at)
        if table_at + len(table_frame) + _END.size != end:
            raise ValueError("a table that does not end where the file says")
        mac = hmac.new(key, bound + head_frame, hashlib.sha256)
        mac.update(table_frame)
        mac.update(reader.read(end - _END.size, _END.size))
        if not hmac.compare_digest(mac.digest(), reader.read(end, _MAC)):
            raise ValueError("not signed with this key")
        opened = _head(_value(head_frame))
        if opened is None:
            raise ValueError("written before Entry changed")
        record, count = opened
        table = [tuple(row) for row in _value(table_frame)]
    except (OSError, ValueError, struct.error):
        os.close(fd)
        return None
    except Exception:  # signed by this key, yet unreadable (a bug of the writer): not used
        log.debug("ignoring an unreadable baseline cache", exc_info=True)
        os.close(fd)
        return None
    return reader, record, count, table


def _head(head: Any) -> tuple[Baseline, int] | None:
    """The baseline's fields (its entries empty) and its entry count."""
    fields, folder, algorithm, created, updated, root_dev, extra, count = head
    if tuple(fields) != _FIELDS:  # written before Entry changed
        return None
    record = Baseline(
        folder=folder,
        algorithm=algorithm,
        entries=Records(),
        created=datetime.fromisoformat(created),
        updated=datetime.fromisoformat(updated),
        root_dev=root_dev,
        extra=extra,
    )
    return record, count


def load(path: Path, json_mac: str, key: bytes) -> Baseline | None:
    """The baseline in the cache of ``path`` if it was made with ``key`` from the JSON whose
    signature is ``json_mac``; else None (and the JSON must be parsed)."""
    opened = _open(path, json_mac, key)
    if opened is None:
        return None
    reader, record, count, table = opened
    try:
        entries = record.entries
        assert isinstance(entries, Records)
        with jsonio.gc_paused():  # many new objects that all survive: collections are in vain
            for row in table:
                paths, records = reader.frame(row)
                entries.extend_packed(paths, records)
        if len(entries) != count:
            return None
        return record
    except _Forged:
        log.info("ignoring a baseline cache changed outside fim-tray: %s", cache_path(path))
        return None
    except Exception:  # signed by this key, yet unreadable (a bug of the writer): not used
        log.debug("ignoring an unreadable baseline cache", exc_info=True)
        return None
    finally:
        os.close(reader.fd)


class Index:
    """The cache of one baseline opened for searching by path, without reading it whole: the
    head and the table of frames are held, and each search reads and checks only the frames
    its paths fall in, each once. Open with :func:`open_index`; close it (or use it in a
    ``with``)."""

    def __init__(self, reader: _Reader, record: Baseline, count: int, table: list[Any]) -> None:
        self._reader = reader
        self.record = record  # the baseline's fields; its entries are not loaded
        self.count = count
        self._firsts = [row[0] for row in table]
        self._table = table

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.fd >= 0:
            os.close(self._reader.fd)
            self._reader.fd = -1

    def _at(self, path: str) -> int:
        """The frame that holds ``path`` if any does."""
        return max(bisect.bisect_right(self._firsts, path) - 1, 0)

    def entries(self, paths: Iterable[str], folders: Iterable[str] = ()) -> Records | None:
        """The records of ``paths`` and of everything under ``folders`` (relative, without a
        trailing ``/``; "" is the whole folder), as far as the baseline has them; None when a
        frame read is not the one its MAC was made of (the cache is then not to be used)."""
        if not self._table:
            return Records()
        wanted: dict[int, list[tuple[str, str | None]]] = {}  # frame -> (low, high) ranges
        for path in set(paths):
            wanted.setdefault(self._at(path), []).append((path, None))
        for folder in set(folders):
            # Every path under folder/ lies between folder + "/" and folder + "0", the
            # character after "/", in the sorted order.
            low, top = (folder + "/", folder + "0") if folder else ("", "\U0010ffff\U0010ffff")
            for at in range(self._at(low), self._at(top) + 1):
                wanted.setdefault(at, []).append((low, top))
        found = Records()
        try:
            for at in sorted(wanted):
                names, records = self._reader.frame(self._table[at])
                for low, high in wanted[at]:
                    start = bisect.bisect_left(names, low)
                    if high is None:  # one path
                        if start < len(names) and names[start] == low:
                            found.put(low, records[start])
                        continue
                    stop = bisect.bisect_left(names, high)
                    found.extend_packed(names[start:stop], records[start:stop])
        except _Forged:
            log.info("ignoring a baseline cache changed outside fim-tray: %s", self._reader.path)
            return None
        return found


def open_index(path: Path, json_mac: str, key: bytes) -> Index | None:
    """The cache of baseline ``path`` opened for searching (see :class:`Index`), when it is
    the JSON's own (see :func:`load`); None otherwise."""
    opened = _open(path, json_mac, key)
    if opened is None:
        return None
    reader, record, count, table = opened
    return Index(reader, record, count, table)
