"""The trusted record of a watched folder: JSON signed with HMAC-SHA256, written atomically and
read back, both a chunk at a time."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
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
_MAC_HEX = 2 * hashlib.sha256().digest_size  # the length of the hex HMAC
BODY_KEYS = {"path", "path_b64", "algorithm", "created", "updated", "root_dev", "entries"}


# A baseline's ``extra`` key saying its entries carry their extended attributes: one recorded by
# an earlier version has none, and its first full check fills them in (see app/check.py).
XATTRS_RECORDED = "xattrs"
# A baseline's ``extra`` key: its generation, one more at each save (see store/generations.py).
GENERATION = "generation"
# A baseline's ``extra`` key: {ignore pattern: the signature of the file that keeps the records
# the pattern took out of the baseline}, so that only that very file is ever taken back (see
# app/ignore.py and ``Store.set_aside``).
SET_ASIDE = "set_aside"


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


def _body_parts(baseline: Baseline) -> Iterator[bytes]:
    """The body's JSON, in pieces that joined are exactly ``jsonio.dumps(body)``, each made
    when it is asked for: a save writes each piece before the next exists."""
    head = {
        **encode_name(baseline.folder),
        "algorithm": baseline.algorithm,
        "created": baseline.created.isoformat(),
        "updated": baseline.updated.isoformat(),
        "root_dev": baseline.root_dev,
        **baseline.extra,
    }
    head.pop("entries", None)  # "entries" is always the last key (and never an extra one)
    yield jsonio.dumps(head)[:-1] + b',"entries":['
    entries = baseline.entries
    paths = sorted(entries)  # sorting the names alone is cheaper than sorting (name, entry) pairs
    for i in range(0, len(paths), ENTRY_CHUNK):
        if i:
            yield b","
        chunk = [_entry_to_json(p, entries[p]) for p in paths[i : i + ENTRY_CHUNK]]
        yield jsonio.dumps(chunk, large=True)[1:-1]
    yield b"]}"


def serialize(baseline: Baseline, key: bytes) -> bytes:
    """The signed file content for ``baseline``, as :func:`save` writes it."""
    parts = list(_body_parts(baseline))
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
        raise _missing(path) from None
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _missing(path: Path) -> BaselineError:
    return BaselineError(
        f"The baseline {path} is missing. Remove the folder and add it again to record a new one."
    )


def _unreadable(path: Path, exc: OSError) -> BaselineError:
    return BaselineError(f"The baseline {path} cannot be read: {exc.strerror}.")


@contextlib.contextmanager
def opened(path: Path) -> Iterator[int]:
    """The baseline ``path`` open for reading as :func:`fim_tray.jsonio.open_own` opens it
    (never through a link, never a FIFO, only the user's own file), for :func:`verify` and
    :func:`parse_verified`. Missing or unreadable, even while it is read: the
    :class:`BaselineError` :func:`read` raises."""
    try:
        fd = jsonio.open_own(path)
    except FileNotFoundError:
        raise _missing(path) from None
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        yield fd
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    finally:
        os.close(fd)


def load(path: Path, key: bytes) -> Baseline:
    """Read and verify a baseline file, never whole in memory (see :func:`parse_verified`)."""
    source = f"The baseline {path}"
    with opened(path) as fd:
        mac = verify(fd, key)
        if mac is None:
            refuse(fd, key, source)
        return parse_verified(fd, key, mac, source)


def refuse(fd: int, key: bytes, source: str) -> NoReturn:
    """The :class:`BaselineError` :func:`parse` gives for the file open on ``fd``, which
    :func:`verify` refused: damaged, tampered, another key or schema. It is read whole to
    tell which (a rare case: nothing bounds what is in its place)."""
    os.lseek(fd, 0, os.SEEK_SET)
    parse(b"".join(jsonio.read_chunks(fd)), key, source=source)
    raise BaselineError(f"{source} is not in the layout fim-tray writes.")


def save(
    path: Path,
    baseline: Baseline,
    key: bytes,
    *,
    signed: Callable[[str], None] | None = None,
    keep_backup: bool = True,
) -> str:
    """Write atomically, keeping the previous version as ``<name>.bak`` (unless not
    ``keep_backup``); returns the
    :func:`signature` of what was written: the bytes :func:`serialize` gives.

    The body is written a chunk of entries at a time as it is made, and signed as it goes;
    its HMAC, known at the end, is then written in place of a placeholder in the head,
    before the file is synced and takes the place of the old one. ``signed`` is called with
    it at that moment, while the disk is still being waited for."""
    head = _HEAD % SCHEMA
    mac = hmac.new(key, digestmod=hashlib.sha256)

    def parts() -> Iterator[bytes]:
        yield head + b"0" * _MAC_HEX + _BODY
        for part in _body_parts(baseline):
            mac.update(part)
            yield part
        yield _TAIL

    def sign() -> tuple[int, bytes]:
        hexmac = mac.hexdigest()
        if signed is not None:
            signed(hexmac)
        return len(head), hexmac.encode()

    jsonio.atomic_write_chunks(path, parts(), patch=sign, keep_backup=keep_backup)
    return mac.hexdigest()


def write(path: Path, data: bytes) -> None:
    """Write :func:`serialize`'s ``data`` atomically, keeping the previous file as ``.bak``."""
    jsonio.atomic_write(path, data, keep_backup=True)


def signature_of(data: bytes) -> str:
    """The :func:`signature` of what :func:`serialize` just made, without verifying it."""
    start = len(_HEAD % SCHEMA)
    return data[start : start + _MAC_HEX].decode()


# -- reading a file in chunks ---------------------------------------------------------------------


class _Body:
    """The body of the baseline file open on ``fd``, read from its start in chunks (the head
    first, which :attr:`claimed` gives when it is the head :func:`serialize` writes), each added
    to ``mac`` as it is given out. The last ``len(_TAIL)`` bytes are held back, as they are
    not the body but, in a whole file, its tail: :meth:`whole` tells."""

    def __init__(self, fd: int, mac: Any) -> None:
        self.fd = fd
        self.mac = mac
        self.size = 0  # bytes of body given out
        self.held = b""
        os.lseek(fd, 0, os.SEEK_SET)
        head = _HEAD % SCHEMA
        first = self._read(len(head) + _MAC_HEX + len(_BODY))
        self.claimed: bytes | None = None
        if first.startswith(head) and first.startswith(_BODY, len(head) + _MAC_HEX):
            self.claimed = first[len(head) : len(head) + _MAC_HEX]

    def _read(self, count: int) -> bytes:
        got = b""
        while len(got) < count and (chunk := os.read(self.fd, count - len(got))):
            got += chunk
        return got

    def __iter__(self) -> Iterator[memoryview]:
        keep = len(_TAIL)
        for chunk in jsonio.read_chunks(self.fd):
            if len(chunk) >= keep:  # the usual case: no copy of the megabyte
                given = [memoryview(self.held), memoryview(chunk)[:-keep]]
                self.held = chunk[-keep:]
            else:
                joined = self.held + chunk
                given = [memoryview(joined)[:-keep]]
                self.held = joined[-keep:]
            for part in given:
                if part:
                    self.mac.update(part)
                    self.size += len(part)
                    yield part

    def whole(self) -> bool:
        """Once every chunk was given out: whether the file was in the layout :func:`serialize`
        writes (its head, a body that is not empty, its tail)."""
        return self.claimed is not None and self.size > 0 and self.held == _TAIL


def verify(fd: int, key: bytes) -> str | None:
    """:func:`signature` of the baseline file open on ``fd`` (see :func:`opened`), read from its
    start in chunks: the file is never whole in memory. ``OSError`` if it cannot be read."""
    body = _Body(fd, hmac.new(key, digestmod=hashlib.sha256))
    if body.claimed is None:
        return None
    for _part in body:
        pass
    if not body.whole():
        return None
    claimed = body.claimed
    return claimed.decode() if hmac.compare_digest(body.mac.hexdigest().encode(), claimed) else None


def named_signature(fd: int) -> str | None:
    """The signature the head of the baseline file open on ``fd`` names, read from its first
    bytes only and NOT verified: what a cache bound to it may be searched by (see
    :func:`fim_tray.store.state.load_signed_file`). None when the head is not the one
    :func:`serialize` writes."""
    claimed = _Body(fd, hmac.new(b"", digestmod=hashlib.sha256)).claimed
    if claimed is None or any(c not in _HEX_DIGITS for c in claimed):
        return None
    return claimed.decode()


_HEX_DIGITS = frozenset(b"0123456789abcdef")


def verify_file(path: Path, key: bytes) -> str | None:
    """:func:`verify` of the baseline ``path``; missing or unreadable: :class:`BaselineError`."""
    with opened(path) as fd:
        return verify(fd, key)


def parse_verified(fd: int, key: bytes, mac: str, source: str = "the baseline") -> Baseline:
    """:func:`parse` of the baseline file open on ``fd``, whose signature :func:`verify` just
    found to be ``mac``: read again in chunks and parsed as it is read, so what is in memory
    is the entries and a chunk of text, never the whole JSON. Signed again as it is read: a
    file written over in the meantime is refused, never parsed in place of what was verified.
    Every failure is a :class:`BaselineError`, as :func:`parse` says it."""
    with jsonio.gc_paused():
        body = _Body(fd, hmac.new(key, digestmod=hashlib.sha256))
        text = _Text(iter(body))
        try:
            record = _parse_body(text) if body.claimed is not None else None
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            text.drain()
            if _same(body, mac):
                raise BaselineError(f"{source} is signed but incomplete ({exc!r}).") from exc
            record = None
        else:
            text.drain()
        if not _same(body, mac):
            raise BaselineError(
                f"{source} was changed while it was read (another program writing it?). It was "
                "left as it is; try again."
            )
        if record is None:  # signed, yet not in the layout fim-tray writes: parsed whole
            os.lseek(fd, 0, os.SEEK_SET)
            return _parse(b"".join(jsonio.read_chunks(fd)), key, source)
        return record


def _same(body: _Body, mac: str) -> bool:
    """Whether the whole of ``body`` was read and its signature is ``mac``."""
    return body.whole() and hmac.compare_digest(body.mac.hexdigest(), mac)


# -- parsing JSON as it is read -------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")  # what JSON allows between its tokens


class _Text:
    """The text of a body read in chunks and decoded as UTF-8 as :func:`json.loads` decodes
    bytes: ``buf[pos:]`` is what is not parsed yet, and only a chunk or so is kept."""

    def __init__(self, chunks: Iterator[memoryview]) -> None:
        self.chunks = chunks
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        self.buf = ""
        self.pos = 0
        self.done = False  # every chunk read and decoded

    def more(self, count: int = 1) -> bool:
        """Read the next ``count`` chunks (dropping what was parsed); False at the end."""
        if self.done:
            return False
        texts = [self.buf[self.pos :]]
        for _ in range(count):
            chunk = next(self.chunks, None)
            if chunk is None:
                self.done = True
                texts.append(self.decoder.decode(b"", True))  # UnicodeDecodeError: cut short
                break
            texts.append(self.decoder.decode(chunk))
        self.buf = "".join(texts)
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space (left unread), "" at the end."""
        while True:
            match = _SPACE.match(self.buf, self.pos)
            assert match is not None  # it matches the empty string
            self.pos = match.end()
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos : self.pos + 1]

    def value(self) -> Any:
        """The next JSON value; ``ValueError`` when it is not one."""
        self.peek()
        count = 1
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                # Cut by the end of the chunk, perhaps: parsed again with more. Twice as
                # much each time, so a value of many chunks is not parsed once per chunk.
                if self.more(count):
                    count *= 2
                    continue
                raise
            # A number at the end of the chunk may go on in the next one.
            if end == len(self.buf) and isinstance(obj, (int, float)) and self.more():
                continue
            self.pos = end
            return obj

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.buf[self.pos : self.pos + 20]!r}")
        self.pos += 1

    def items(self) -> Iterator[Any]:
        """The values of the array that starts here, each parsed when it is asked for."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        decode = _DECODER.raw_decode
        while True:
            # As written, each value follows its comma and ends before the chunk does: one
            # call for it, not the three of value() (about a third of a parse of 50,000).
            try:
                obj, end = decode(self.buf, self.pos)
            except json.JSONDecodeError:
                end = -1
            if 0 <= end < len(self.buf):
                self.pos = end
            else:  # white space first, cut by the end of the chunk, or not JSON: value() says
                obj = self.value()
            yield obj
            after = self.buf[self.pos : self.pos + 1]
            if after not in (",", "]"):
                after = self.peek()
            if after == "]":
                self.pos += 1
                return
            self.expect(",")

    def drain(self) -> None:
        """Read what is left (for the signature), parsing nothing more."""
        self.buf, self.pos = "", 0
        for _part in self.chunks:
            pass
        self.done = True


def _parse_body(text: _Text) -> Baseline | None:
    """The baseline in a body that is one JSON object, its entries made as they are parsed;
    None for any other signed body, which :func:`parse` reads whole."""
    if text.peek() != "{":
        return None
    text.pos += 1
    body: dict[str, Any] = {}  # "entries" too, made as they are parsed
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            name = text.value()
            if type(name) is not str:
                raise ValueError(f"a key that is not a string: {name!r}")
            text.expect(":")
            if name == "entries":
                if name in body:  # a second one, whose entries would win: parse() says
                    return None
                # Not a list: the loop says what is wrong, as in parse().
                items = text.items() if text.peek() == "[" else text.value()
                body[name] = _entries_from_json(items)
            else:
                body[name] = text.value()
            if text.peek() == "}":
                text.pos += 1
                break
            text.expect(",")
    if text.peek() != "":  # more keys after the body (valid JSON, never written): parse() says
        return None
    return Baseline(
        folder=decode_name(body),
        algorithm=str(body["algorithm"]),
        entries=body["entries"],
        created=datetime.fromisoformat(body["created"]),
        updated=datetime.fromisoformat(body["updated"]),
        root_dev=body.get("root_dev"),
        extra={k: v for k, v in body.items() if k not in BODY_KEYS},
    )
