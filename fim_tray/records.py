"""The compact store of many entries: each :class:`Entry` packed into one bytes object, kept
in a dict by path, unpacked only when it is looked at.

A baseline of 400,000 files held as named tuples costs about 640 bytes a file (the tuple,
a 64-character hex digest, seven int objects); packed, an entry is one bytes object of about
80 bytes (the digest as its 32 raw bytes), so a scan and a baseline both fit where one did.
Two records of a path are compared as bytes, in C, before any of them is unpacked: a check
of an unchanged tree unpacks nothing. A scan that finds an entry as the baseline had it keeps
the baseline's very bytes object, which costs nothing more.

Layout of a record: one byte, the entry's type (its index in ``TYPES``) with a bit for each
optional field present; the fixed fields (``_FIXED``: size, mtime_ns, ctime_ns, ino, mode,
uid, gid); then the digest as a length byte and its raw bytes, and each of target, error and
xattrs as a 4-byte length and UTF-8 (lone surrogates, as undecodable names carry them, kept
with ``surrogatepass``). A value that does not fit (an int out of range, a digest that is not
lowercase hex) makes the record ``_OTHER`` followed by the marshal of the whole entry: every
entry packs, and unpacks to an equal one.
"""

from __future__ import annotations

import marshal
import struct
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from fim_tray.models import Entry, EntryType

TYPES: tuple[EntryType, ...] = (
    "file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev", "other",
)  # fmt: skip
_INDEX = {name: i for i, name in enumerate(TYPES)}
_DIGEST, _TARGET, _ERROR, _XATTRS = 0x10, 0x20, 0x40, 0x80
_TYPE_BITS = 0x0F
_OTHER = 0x0F  # not a type: the marshal of the entry follows
_FIXED = struct.Struct("<qqqQIII")  # size, mtime_ns, ctime_ns, ino, mode, uid, gid
_LEN = struct.Struct("<I")
_HEX = frozenset("0123456789abcdef")


def pack(entry: Entry) -> bytes:
    """The record of ``entry``."""
    kind, size, mtime, ctime, ino, mode, uid, gid, digest, target, error, xattrs = entry
    head = _INDEX.get(kind)
    try:
        if head is None:
            raise ValueError(kind)
        parts = [b"", _FIXED.pack(size, mtime, ctime, ino, mode, uid, gid)]
        if digest is not None:
            raw = bytes.fromhex(digest)
            if raw.hex() != digest or len(raw) > 255:  # upper case or spaces: not kept exactly
                raise ValueError(digest)
            head |= _DIGEST
            parts += (bytes((len(raw),)), raw)
        for bit, text in ((_TARGET, target), (_ERROR, error), (_XATTRS, xattrs)):
            if text is not None:
                data = text.encode("utf-8", "surrogatepass")
                head |= bit
                parts += (_LEN.pack(len(data)), data)
    except (struct.error, ValueError, TypeError, UnicodeError):
        return bytes((_OTHER,)) + marshal.dumps(tuple(entry))
    parts[0] = bytes((head,))
    return b"".join(parts)


def unpack(record: bytes) -> Entry:
    """The entry of a record :func:`pack` made."""
    head = record[0]
    if head == _OTHER:
        return Entry(*marshal.loads(record[1:]))  # noqa: S302 - made by pack() in this process
    size, mtime, ctime, ino, mode, uid, gid = _FIXED.unpack_from(record, 1)
    at = 1 + _FIXED.size
    digest = target = error = xattrs = None
    if head & _DIGEST:
        end = at + 1 + record[at]
        digest = record[at + 1 : end].hex()
        at = end
    if head & (_TARGET | _ERROR | _XATTRS):
        texts: list[str | None] = []
        for bit in (_TARGET, _ERROR, _XATTRS):
            if head & bit:
                (length,) = _LEN.unpack_from(record, at)
                at += _LEN.size
                texts.append(record[at : at + length].decode("utf-8", "surrogatepass"))
                at += length
            else:
                texts.append(None)
        target, error, xattrs = texts
    return Entry(
        TYPES[head & _TYPE_BITS], size, mtime, ctime, ino, mode, uid, gid,
        digest, target, error, xattrs,
    )  # fmt: skip


def stat_key(
    size: int, mtime: int, ctime: int, ino: int, mode: int, uid: int, gid: int
) -> bytes | None:
    """The fixed fields as a record holds them after its first byte, to tell with one
    ``startswith`` that a path's details did not change; None when they do not pack."""
    try:
        return _FIXED.pack(size, mtime, ctime, ino, mode, uid, gid)
    except struct.error:
        return None


def same_details(record: bytes, key: bytes, kind: EntryType, *, digest: bool) -> bool:
    """Whether ``record`` is of type ``kind`` with the fixed fields ``key`` (see
    :func:`stat_key`), no error and no link target, and a digest exactly when ``digest``:
    a quick rescan may then keep the record as it is (extended attributes included, which
    cannot change without moving ctime)."""
    want = _INDEX[kind] | (_DIGEST if digest else 0)
    return (record[0] & ~_XATTRS) == want and record.startswith(key, 1)


_CTIME = slice(1 + 16, 1 + 32)  # where ctime and the inode are kept, next to each other


def alike(old: bytes, new: bytes) -> bool:
    """Whether two records differ at most in ctime and inode, which a comparison does not report
    (a ``chown -R`` to the same owner, a tree restored from a backup, copied with its times):
    a check may then take the new one as the old one."""
    if old[0] == _OTHER or new[0] == _OTHER or len(old) != len(new):
        return False
    return old[: _CTIME.start] == new[: _CTIME.start] and old[_CTIME.stop :] == new[_CTIME.stop :]


def is_dir(record: bytes) -> bool:
    """Whether ``record`` is a folder's."""
    head = record[0]
    if head == _OTHER:
        return unpack(record).type == "dir"
    return (head & _TYPE_BITS) == _DIR


_DIR = _INDEX["dir"]


class Records(MutableMapping[str, Entry]):
    """Entries by path, packed (see the module's docstring). Reading an entry unpacks it;
    :meth:`record` and :meth:`put` give and take the packed form, which is what a scan and
    a compare use."""

    __slots__ = ("_packed",)

    def __init__(
        self,
        items: Mapping[str, Entry] | Iterable[tuple[str, Entry]] = (),
        *,
        packed: dict[str, bytes] | None = None,
    ) -> None:
        """Records of ``items`` (entries, or another Records' records), or the ``packed``
        dict itself (path -> record, taken over, not copied)."""
        self._packed: dict[str, bytes] = {} if packed is None else packed
        if isinstance(items, Records):
            self._packed.update(items.packed_items())
        elif items:
            self.update(items)

    @classmethod
    def from_packed(cls, paths: Iterable[str], records: Iterable[bytes]) -> Records:
        """Records from paths and their records, as a cache or a worker process hands them."""
        made = cls()
        made.extend_packed(paths, records)
        return made

    def __getitem__(self, path: str) -> Entry:
        return unpack(self._packed[path])

    def get(self, path: str, default: Any = None) -> Any:
        record = self._packed.get(path)
        return default if record is None else unpack(record)

    def __setitem__(self, path: str, entry: Entry) -> None:
        self._packed[path] = pack(entry)

    def __delitem__(self, path: str) -> None:
        del self._packed[path]

    def __contains__(self, path: object) -> bool:
        return path in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Records):
            return len(self) == len(other) and self._packed.items() == other.packed_items()
        if isinstance(other, Mapping):
            return len(self) == len(other) and all(
                other.get(path) == entry for path, entry in self.items()
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dict

    def __repr__(self) -> str:
        return f"Records({len(self)} entries)"

    def record(self, path: str) -> bytes | None:
        """The packed record of ``path``, or None."""
        return self._packed.get(path)

    def extend_packed(self, paths: Iterable[str], records: Iterable[bytes]) -> None:
        """Keep the records of ``paths`` (see :meth:`put`)."""
        self._packed.update(zip(paths, records, strict=True))

    def put(self, path: str, record: bytes) -> None:
        """Keep ``record`` (made by :func:`pack`, or another Records') for ``path``."""
        self._packed[path] = record

    def packed_items(self) -> ItemsView[str, bytes]:
        """(path, record) pairs, in no order."""
        return self._packed.items()

    def update(self, other: Any = (), /, **kwargs: Entry) -> None:
        """As dict.update; the records of another Records are taken as they are."""
        if isinstance(other, Records) and not kwargs:
            self._packed.update(other.packed_items())
        else:
            super().update(other, **kwargs)

    def subset(self, keep: Callable[[str], bool]) -> Records:
        """The records of the paths ``keep`` says yes to (sharing the records)."""
        return Records(packed={path: rec for path, rec in self._packed.items() if keep(path)})

    def copy(self) -> Records:
        """A copy that shares the records (bytes objects never change)."""
        return Records(self)


def unreadable(entries: Mapping[str, Entry]) -> int:
    """How many of ``entries`` carry an error (could not be read), without unpacking them."""
    if not isinstance(entries, Records):
        return sum(1 for entry in entries.values() if entry.error is not None)
    return sum(
        1
        for _, record in entries.packed_items()
        if record[0] & _ERROR or (record[0] == _OTHER and unpack(record).error is not None)
    )


def records_of(entries: Mapping[str, Entry]) -> Records:
    """``entries`` as :class:`Records`: themselves when they already are (not a copy)."""
    return entries if isinstance(entries, Records) else Records(entries)
