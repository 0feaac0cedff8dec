"""The signed, sorted load cache and index beside each baseline (``<id>.json.cache``): its
format, written and read whole, and searched by path without reading it whole.
:mod:`fim_tray.store.state` reads and writes it with each baseline.

The JSON stays the only source of truth and its format does not change. Parsing it is most of
the time a check spends on its baseline, and holds the whole document in memory; the cache
holds the same entries as packed records (:mod:`fim_tray.records`), sorted by path, in frames
of ``FRAME`` entries, and is used only when it is provably the JSON's own content:

* the JSON's signature is verified on every load (one HMAC pass, no parse), so a tampered
  or damaged JSON is reported as such, whatever cache sits beside it;
* the cache carries that signature, and its own HMAC-SHA256 (same install key), at its end,
  covers everything before it, so a cache made from another JSON, cut short, edited, or made
  with another key is ignored: the JSON is then parsed and the cache written again.

Layout: ``MAGIC``, the JSON's signature (32 bytes), ``_TAG`` (cache version; Python version
and byte order, as marshal data is only read back by the Python that wrote it), then frames,
each a 4-byte length and marshal data: the head (the baseline's fields, its entry count), the
entries' frames (paths and records), the table (each entry frame's first path, offset and
length); then the table's offset (8 bytes) and the HMAC (32 bytes).

Memory: a whole load holds the records and one frame of the file; a search (:class:`Index`,
for a file event in a folder of a million files) holds the table and the frames it reads.
Both verify the HMAC first, reading the file in pieces, and read it again through the same
descriptor (only bytes this install's key signed reach marshal).
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
from fim_tray.store import verified
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
_READ = 1 << 20  # bytes read at a time while the HMAC is checked
_CACHE = "cache"  # what store.verified remembers of a cache


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
    mac = hmac.new(key, digestmod=hashlib.sha256)
    offset = 0

    def out(data: bytes) -> bytes:
        nonlocal offset
        mac.update(data)
        offset += len(data)
        return data

    yield out(MAGIC + bytes.fromhex(json_mac) + _TAG)
    yield out(_frame(head))
    table = []
    get = packed.record
    for start in range(0, len(paths), FRAME):
        names = paths[start : start + FRAME]
        frame = _frame((names, list(map(get, names))))
        table.append((names[0], offset, len(frame)))
        yield out(frame)
    at = offset
    yield out(_frame(table))
    yield out(_END.pack(at))
    yield mac.digest()


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
    """A cache file opened and verified: its frames read by offset."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise ValueError("cut short while read")
        return data

    def frame(self, offset: int) -> tuple[Any, int]:
        """The value of the frame at ``offset`` and where the next one starts."""
        (length,) = _LEN.unpack(self.read(offset, _LEN.size))
        start = offset + _LEN.size
        return marshal.loads(self.read(start, length)), start + length  # noqa: S302


def _open(path: Path, json_mac: str, key: bytes) -> tuple[_Reader, int] | None:
    """The cache of baseline ``path`` opened, when it is the one made with ``key`` from the
    JSON whose signature is ``json_mac`` (and by a Python that reads it back the same): its
    reader and the offset of its first frame. None otherwise (the descriptor then closed)."""
    try:
        fd = jsonio.open_own(cache_path(path))
    except OSError:  # none yet (FileNotFoundError), a link or a FIFO planted: not used
        return None
    try:
        reader = _Reader(fd, os.fstat(fd).st_size)
        bound = MAGIC + bytes.fromhex(json_mac) + _TAG
        # The cheap test first: a cache left from an earlier version of the JSON fails here.
        if reader.size < len(bound) + _END.size + _MAC or reader.read(0, len(bound)) != bound:
            os.close(fd)
            return None
        # A version of the cache this process verified before (see store/verified.py) is
        # not read whole again: a file event in a folder of a million files reads little.
        if verified.recall(_CACHE, fd, key) != json_mac:
            if not _verified(reader, key):
                os.close(fd)
                return None
            verified.remember(_CACHE, fd, key, json_mac)
    except (OSError, ValueError):
        os.close(fd)
        return None
    return reader, len(bound)


def _verified(reader: _Reader, key: bytes) -> bool:
    """Whether the HMAC at the end of the file covers all that comes before it."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    end = reader.size - _MAC
    offset = 0
    while offset < end:
        chunk = reader.read(offset, min(_READ, end - offset))
        mac.update(chunk)
        offset += len(chunk)
    return hmac.compare_digest(mac.digest(), reader.read(end, _MAC))


def _head(reader: _Reader, start: int) -> tuple[Baseline, int, int] | None:
    """The baseline's fields (its entries empty), its entry count and the first entry frame."""
    head, first = reader.frame(start)
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
    return record, count, first


def load(path: Path, json_mac: str, key: bytes) -> Baseline | None:
    """The baseline in the cache of ``path`` if it was made with ``key`` from the JSON whose
    signature is ``json_mac``; else None (and the JSON must be parsed)."""
    opened = _open(path, json_mac, key)
    if opened is None:
        return None
    reader, start = opened
    try:
        head = _head(reader, start)
        if head is None:
            return None
        record, count, offset = head
        entries = record.entries
        assert isinstance(entries, Records)
        table_at = _END.unpack(reader.read(reader.size - _MAC - _END.size, _END.size))[0]
        with jsonio.gc_paused():  # many new objects that all survive: collections are in vain
            while offset < table_at:
                (paths, records), offset = reader.frame(offset)
                entries.extend_packed(paths, records)
        if len(entries) != count:
            return None
        return record
    except Exception:  # signed by this key, yet unreadable (a bug of the writer): not used
        log.debug("ignoring an unreadable baseline cache", exc_info=True)
        return None
    finally:
        os.close(reader.fd)


class Index:
    """The cache of one baseline opened for searching by path, without reading it whole: the
    table of frames is held, and each search reads only the frames its paths fall in. Open
    with :func:`open_index`; close it (or use it in a ``with``)."""

    def __init__(self, reader: _Reader, record: Baseline, count: int, table: list[Any]) -> None:
        self._reader = reader
        self.record = record  # the baseline's fields; its entries are not loaded
        self.count = count
        self._firsts = [first for first, _, _ in table]
        self._table = table

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._reader.fd >= 0:
            os.close(self._reader.fd)
            self._reader.fd = -1

    def _frames(self, low: str, high: str | None) -> Iterator[tuple[list[str], list[bytes]]]:
        """The frames that may hold paths from ``low`` up to ``high`` (None: ``low`` only)."""
        first = max(bisect.bisect_right(self._firsts, low) - 1, 0)
        last = first if high is None else max(bisect.bisect_right(self._firsts, high) - 1, 0)
        for _, offset, _length in self._table[first : last + 1]:
            value, _next = self._reader.frame(offset)
            yield value

    def entries(self, paths: Iterable[str], folders: Iterable[str] = ()) -> Records:
        """The records of ``paths`` and of everything under ``folders`` (relative, without a
        trailing ``/``; "" is the whole folder), as far as the baseline has them."""
        found = Records()
        for path in sorted(set(paths)):
            for names, records in self._frames(path, None):
                at = bisect.bisect_left(names, path)
                if at < len(names) and names[at] == path:
                    found.put(path, records[at])
        for folder in sorted(set(folders)):
            # Every path under folder/ lies between folder + "/" and folder + "0", the
            # character after "/", in the sorted order.
            low, high = (folder + "/", folder + "0") if folder else ("", None)
            for names, records in self._frames(low, high or "\U0010ffff"):
                start = bisect.bisect_left(names, low)
                stop = len(names) if high is None else bisect.bisect_left(names, high)
                for at in range(start, stop):
                    found.put(names[at], records[at])
        return found


def open_index(path: Path, json_mac: str, key: bytes) -> Index | None:
    """The cache of baseline ``path`` opened for searching (see :class:`Index`), when it is
    the JSON's own (see :func:`load`); None otherwise."""
    opened = _open(path, json_mac, key)
    if opened is None:
        return None
    reader, start = opened
    try:
        head = _head(reader, start)
        if head is not None:
            record, count, _first = head
            table_at = _END.unpack(reader.read(reader.size - _MAC - _END.size, _END.size))[0]
            table, _next = reader.frame(table_at)
            return Index(reader, record, count, [tuple(row) for row in table])
    except Exception:  # signed by this key, yet unreadable: not used
        log.debug("ignoring an unreadable baseline cache", exc_info=True)
    os.close(reader.fd)
    return None
