"""The signed binary load cache beside each baseline (``<id>.json.cache``): its format, encoded
and decoded. :mod:`fim_tray.store.state` reads and writes it with each baseline.

The JSON stays the only source of truth and its format does not change. Parsing it and
building 50,000 :class:`Entry` objects is most of the time a no-change ``check`` spends on
its baseline; the cache holds the same content as marshal data, in columns, and is used only
when it is provably the JSON's own content:

* the JSON's signature is verified on every load (one HMAC pass, no parse), so a tampered
  or damaged JSON is reported as such, whatever cache sits beside it;
* the cache carries that signature, and its own HMAC-SHA256 (same install key) covers it
  and the rest of the cache, so a cache made from another JSON, edited, or made with
  another key is ignored: the JSON is then parsed and the cache written again.

Layout: ``MAGIC``, the cache's HMAC (32 bytes), then what it signs: the JSON's signature
(32 bytes), ``_TAG`` (cache version; Python version, byte order and array item sizes, as
marshal data and array bytes are only read back by the Python that wrote them), and the
marshal payload.
"""

from __future__ import annotations

import hashlib
import hmac
import marshal
import struct
import sys
from array import array
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.models import ENTRY_FIELDS, entries_from_columns
from fim_tray.store.baseline import BODY_KEYS, Baseline

log = logs.getLogger(__name__)

SUFFIX = ".cache"
VERSION = 1
# Also what the cache's HMAC starts with: the JSON's HMAC always covers a body that starts
# with "{", so a MAC of one can never pass for a MAC of the other.
MAGIC = b"fim-tray baseline cache\n"
# Array type codes tried for a column of ints, smallest first: a smaller cache to read and MAC.
_INT_CODES = ("B", "H", "I", "Q", "q")
_TAG = struct.pack(
    "<HBBB", VERSION, sys.version_info[0], sys.version_info[1], sys.byteorder == "little"
) + bytes(array(code).itemsize for code in _INT_CODES)
_MAC = hashlib.sha256().digest_size
_BOUND = len(MAGIC) + _MAC  # where the signed part starts
_FIELDS = ENTRY_FIELDS


def cache_path(path: Path) -> Path:
    """Where the cache of the baseline ``path`` is kept."""
    return path.with_name(path.name + SUFFIX)


# -- the format -----------------------------------------------------------------------------------


def _pack(values: list[Any]) -> Any:
    """A column as marshal will store it: ints as (type code, array bytes), which load in a
    fifth of the time a list of big ints does; anything else (or ints too big) as the list."""
    for code in _INT_CODES:
        try:
            return (code, array(code, values).tobytes())
        except (TypeError, OverflowError):  # not all ints (fails at the first str or None)
            continue
    return values


def _unpack(column: Any) -> list[Any]:
    if type(column) is tuple:
        code, raw = column
        values = array(code)
        values.frombytes(raw)
        return values.tolist()
    if type(column) is not list:
        raise TypeError(f"a column of type {type(column).__name__}")
    return column


def encode(record: Baseline, json_mac: str, key: bytes) -> bytes:
    """The cache of ``record``, bound to the JSON whose :func:`~fim_tray.store.baseline.signature`
    is ``json_mac``. ``ValueError`` when the cache would not give back what parsing that
    JSON gives, so there must be none."""
    extra = record.extra
    if extra.keys() & BODY_KEYS:  # they override the body's own keys in the JSON
        raise ValueError(f"extra keys {sorted(extra.keys() & BODY_KEYS)}")
    # What the JSON parse gives: JSON values (lists, not tuples), in the JSON's order.
    extra = jsonio.loads(jsonio.dumps(dict(extra)))
    paths = sorted(record.entries)  # the JSON's order; already sorted after a parse: O(n)
    entries = [record.entries[p] for p in paths]
    columns = []
    # Entries are tuples: zip() turns the rows into columns in C.
    for name, values in zip(
        _FIELDS, zip(*entries, strict=True) if entries else [()] * len(_FIELDS), strict=True
    ):
        if name == "type":  # one object per type, so marshal writes a reference after the first
            values = tuple(map(sys.intern, values))
        columns.append(_pack(list(values)))
    payload = marshal.dumps(
        (
            _FIELDS,
            record.folder,
            record.algorithm,
            record.created.isoformat(),
            record.updated.isoformat(),
            record.root_dev,
            extra,
            paths,
            tuple(columns),
        )
    )
    signed = [bytes.fromhex(json_mac), _TAG, payload]
    mac = hmac.new(key, MAGIC, hashlib.sha256)
    for part in signed:
        mac.update(part)
    return b"".join([MAGIC, mac.digest(), *signed])


def decode(data: bytes, json_mac: str, key: bytes) -> Baseline | None:
    """The baseline in the cache ``data`` if it was made with ``key`` from the JSON whose
    signature is ``json_mac`` (and by a Python that reads it back the same); else None."""
    bound = bytes.fromhex(json_mac) + _TAG
    # The cheap tests first: a cache left from an earlier version of the JSON fails here.
    if not data.startswith(MAGIC) or not data.startswith(bound, _BOUND):
        return None
    mac = hmac.new(key, MAGIC, hashlib.sha256)
    mac.update(memoryview(data)[_BOUND:])
    if not hmac.compare_digest(mac.digest(), data[len(MAGIC) : _BOUND]):
        return None
    try:  # only bytes this install's key signed reach marshal
        return _build(marshal.loads(memoryview(data)[_BOUND + len(bound) :]))  # noqa: S302
    except Exception:  # signed by this key, yet unreadable (a bug of the writer): not used
        log.debug("ignoring an unreadable baseline cache", exc_info=True)
        return None


def _build(payload: Any) -> Baseline | None:
    fields, folder, algorithm, created, updated, root_dev, extra, paths, packed = payload
    if fields != _FIELDS:  # written before Entry changed
        return None
    columns = [_unpack(column) for column in packed]
    with jsonio.gc_paused():  # 50,000 new objects that all survive: collections are in vain
        try:
            objs = entries_from_columns(paths, columns)
        except ValueError:
            return None
        entries = dict(zip(paths, objs, strict=True))
    if len(entries) != len(paths):
        return None
    return Baseline(
        folder=folder,
        algorithm=algorithm,
        entries=entries,
        created=datetime.fromisoformat(created),
        updated=datetime.fromisoformat(updated),
        root_dev=root_dev,
        extra=extra,
    )
