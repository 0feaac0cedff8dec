"""Tests of fim_tray.store.baseline read and written a chunk at a time: the same bytes as the
whole-body writer made, crash- and full-disk-safe saves, and a verify and a parse by chunks
that agree with :func:`signature` and :func:`parse` on every file, valid or not."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from fim_tray import jsonio
from fim_tray.errors import BaselineError, BaselineTamperedError, StorageError
from fim_tray.models import Entry
from fim_tray.store import baseline as store
from fim_tray.store import state
from fim_tray.store.baseline import Baseline
from fim_tray.store.names import encode_name
from tests.helpers import WHEN, plant_fifo, plant_link, sample_baseline

KEY = bytes(range(32))
HANG_LIMIT = 5.0


def _old_serialize(baseline: Baseline, key: bytes) -> bytes:
    """The writer before saves were streamed, as it was: the reference for the file format."""
    head = {
        **encode_name(baseline.folder),
        "algorithm": baseline.algorithm,
        "created": baseline.created.isoformat(),
        "updated": baseline.updated.isoformat(),
        "root_dev": baseline.root_dev,
        **baseline.extra,
    }
    head.pop("entries", None)
    entries = baseline.entries
    paths = sorted(entries)
    chunks = [
        jsonio.dumps(
            [store._entry_to_json(p, entries[p]) for p in paths[i : i + 4096]], large=True
        )[1:-1]
        for i in range(0, len(paths), 4096)
    ]
    parts = [jsonio.dumps(head)[:-1], b',"entries":[', b",".join(chunks), b"]}"]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    head_bytes = b'{"format":"fim-tray-baseline","schema":1,"hmac":"'
    return b"".join([head_bytes, mac.hexdigest().encode(), b'","body":', *parts, b"}\n"])


def _entries() -> dict[str, Entry]:
    return {
        "a.txt": Entry("file", 5, 1_700_000_000_123_456_789, 17, 42, 0o644, 1000, 100, "ab" * 32),
        "sub": Entry("dir", 0, 1, 2, 43, 0o755, 1000, 100),
        "caf\udce9/na\udcffme": Entry("file", 0, 3, 4, 44, 0o600, 0, 0, digest="cd" * 32),
        "café/日本語.txt": Entry("file", 7, 3, 4, 49, 0o600, 0, 0, digest="ef" * 32),
        "link": Entry("symlink", 4, 5, 6, 45, 0o777, 1000, 100, target="../\udcfe\udc80x"),
        "plain-link": Entry("symlink", 3, 5, 6, 46, 0o777, 1000, 100, target="a.txt"),
        "locked": Entry("file", 9, 7, 8, 47, 0o000, 0, 0, error="permission denied"),
        "pipe": Entry("fifo", 0, 9, 10, 48, 0o644, 1000, 100),
        "caps": Entry(
            "file", 1, 1, 1, 50, 0o755, 0, 0, "01" * 32, xattrs="security.capability=ab12\nu%3Dx=1"
        ),
        "old": Entry("file", 2**40, -(10**18), -1, 2**64 - 1, 0o644, 2**32 - 2, 0, "ef" * 32),
    }


def _many(count: int) -> dict[str, Entry]:
    return {
        f"dir{n % 97}/file-{n:06d}-é.txt": Entry(
            "file", n, n * 1000, n, n, 0o644, 1000, 100, f"{n:064x}"
        )
        for n in range(count)
    }


BASELINES: dict[str, Callable[[], Baseline]] = {
    "varied": lambda: sample_baseline(_entries()),
    "extras": lambda: sample_baseline(
        _entries(), note="kept", counts=[1, 2], nested={"b": None, "a": 1.5}, generation=7
    ),
    "empty": lambda: Baseline("/w", "blake2b", {}, WHEN, WHEN, root_dev=None),
    "utf8 folder": lambda: Baseline("/home/zoë/日本", "sha256", _entries(), WHEN, WHEN, 1),
    "many": lambda: sample_baseline(_many(9000) | _entries()),
}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "baselines" / "x.json"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, rather than hang for ever, a test whose open of a FIFO blocks."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise AssertionError(f"blocked for {HANG_LIMIT} s: an open waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- the same bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_save_writes_the_bytes_of_the_whole_body_writer(
    name: str, chunk: int, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = BASELINES[name]()
    expected = _old_serialize(record, KEY)
    monkeypatch.setattr(store, "ENTRY_CHUNK", chunk)
    if name == "many" and chunk != 4096:
        record = record._replace(entries=dict(list(record.entries.items())[:50]))
        expected = _old_serialize(record, KEY)
    signature = store.save(path, record, KEY)
    assert path.read_bytes() == expected
    assert store.serialize(record, KEY) == expected
    assert signature == store.signature(expected, KEY) == store.signature_of(expected)


def test_the_state_save_returns_the_signature_and_binds_the_cache_to_it(path: Path) -> None:
    record = BASELINES["extras"]()
    signature = state.save_baseline_file(path, record, KEY)
    assert path.read_bytes() == _old_serialize(record, KEY)
    assert signature == store.signature(path.read_bytes(), KEY)
    assert state.load_signed_file(path, KEY) == (record, signature)


def test_the_signature_is_written_before_the_file_is_synced(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = BASELINES["varied"]()
    seen: list[bytes] = []
    real_fsync = os.fsync

    def look(fd: int) -> None:
        if not seen:  # the temporary file, before it is synced and renamed
            (temp,) = [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
            seen.append(temp.read_bytes())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", look)
    store.save(path, record, KEY)
    assert seen == [_old_serialize(record, KEY)]


# -- saves that fail ------------------------------------------------------------------------------


def _saved_twice(path: Path) -> tuple[bytes, bytes]:
    """A baseline saved twice (so with a .bak): the bytes of both files."""
    store.save(path, BASELINES["varied"](), KEY)
    store.save(path, BASELINES["extras"](), KEY)
    return path.read_bytes(), path.with_name("x.json.bak").read_bytes()


def test_an_error_raised_while_the_body_is_made_leaves_the_old_files(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _saved_twice(path)
    real = store._entry_to_json
    made: list[str] = []

    def fails_midway(name: str, entry: Entry) -> dict[str, Any]:
        made.append(name)
        if len(made) > 500:
            raise RuntimeError("killed")
        return real(name, entry)

    monkeypatch.setattr(store, "_entry_to_json", fails_midway)
    monkeypatch.setattr(store, "ENTRY_CHUNK", 100)
    with pytest.raises(RuntimeError, match="killed"):
        store.save(path, BASELINES["many"](), KEY)
    assert (path.read_bytes(), path.with_name("x.json.bak").read_bytes()) == before
    assert _names(path.parent) == ["x.json", "x.json.bak"]


@pytest.mark.parametrize("after", [0, 10, 5000, 200_000])
def test_a_disk_full_midway_leaves_the_old_files_and_says_so(
    after: int, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _saved_twice(path)
    real_write = os.write
    written = [0]

    def fills_up(fd: int, data: Any) -> int:
        room = after - written[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        count = real_write(fd, bytes(data[:room]))
        written[0] += count
        return count

    monkeypatch.setattr(os, "write", fills_up)
    with pytest.raises(StorageError) as caught:
        state.save_baseline_file(path, BASELINES["many"](), KEY)
    assert caught.value.message == (
        f"Could not save {path}: the disk is full (or a size limit was reached). The previous "
        "version is unchanged; free some space or fix the permissions and try again."
    )
    assert (path.read_bytes(), path.with_name("x.json.bak").read_bytes()) == before
    assert _names(path.parent) == ["x.json", "x.json.bak"]  # no temporary file, no new cache


SAVER = """
import sys
from pathlib import Path
from fim_tray.models import Entry
from fim_tray.store import baseline
from tests.helpers import sample_baseline

entries = {
    f"dir{n % 97}/file-{n:06d}.txt": Entry("file", n, n, n, n, 0o644, 0, 0, f"{n:064x}")
    for n in range(int(sys.argv[3]))
}
record = sample_baseline(entries)
print("ready", flush=True)
baseline.save(Path(sys.argv[1]), record, bytes.fromhex(sys.argv[2]))
print("saved", flush=True)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_kill_9_while_a_big_baseline_is_written_leaves_the_old_file(path: Path) -> None:
    old = BASELINES["extras"]()
    store.save(path, old, KEY)
    old_bytes = path.read_bytes()
    rng = random.Random(7)
    root = Path(__file__).resolve().parents[2]
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), KEY.hex(), "120000"],
            stdout=subprocess.PIPE,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + 60
            while not any(p.name.endswith(".tmp") for p in path.parent.iterdir()):
                assert time.monotonic() < deadline, "the save never started"
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.2))  # somewhere in the body, or at its end
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.stdout is not None
            proc.stdout.close()
        if path.read_bytes() == old_bytes:
            assert store.load(path, KEY) == old
        else:  # it finished just before the kill: the new file, whole
            assert len(store.load(path, KEY).entries) == 120000
            store.save(path, old, KEY)
            old_bytes = path.read_bytes()
        for leftover in path.parent.glob(".x.json.*.tmp"):
            leftover.unlink()
    store.save(path, old, KEY)  # and the next save is not in the way of anything left
    assert store.load(path, KEY) == old


# -- verifying by chunks --------------------------------------------------------------------------


def _verify(path: Path, data: bytes) -> str | None:
    path.write_bytes(data)
    return store.verify_file(path, KEY)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1024 * 1024])
def test_verify_by_chunks_agrees_with_signature(
    chunk: int, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonio, "READ_CHUNK", chunk)
    path.parent.mkdir()
    data = store.serialize(BASELINES["varied"](), KEY)
    assert _verify(path, data) == store.signature(data, KEY) == store.signature_of(data)
    body = data.index(b'"body":')
    lengths = range(len(data)) if chunk < 4 else [*range(0, 120), *range(len(data) - 40, len(data))]
    for length in lengths:  # cut short
        assert _verify(path, data[:length]) is None, length
    end = len(data)
    for index in (0, 40, 60, 100, body + 9, end // 2, end - 3, end - 2, end - 1):
        damaged = data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]
        assert store.signature(damaged, KEY) is None
        assert _verify(path, damaged) is None, index
    assert _verify(path, data + b"\n") is None
    assert _verify(path, data[:-2] + b"x}\n") is None


def test_verify_by_chunks_agrees_on_every_byte_changed(path: Path) -> None:
    path.parent.mkdir()
    data = store.serialize(BASELINES["varied"](), KEY)
    for index in range(len(data)):
        damaged = data[:index] + bytes([data[index] ^ 0x20]) + data[index + 1 :]
        assert _verify(path, damaged) == store.signature(damaged, KEY) is None


def test_verify_of_an_empty_body_or_a_file_of_another_key(path: Path) -> None:
    path.parent.mkdir()
    head = b'{"format":"fim-tray-baseline","schema":1,"hmac":"'
    empty = hmac.new(KEY, b"", hashlib.sha256).hexdigest().encode()
    data = head + empty + b'","body":}\n'
    assert _verify(path, data) == store.signature(data, KEY) is None
    assert _verify(path, b"") is None
    data = store.serialize(BASELINES["varied"](), bytes(32))
    assert _verify(path, data) is None and store.signature(data, bytes(32)) is not None


@pytest.mark.skipif(os.name == "nt", reason="FIFOs and O_NOFOLLOW are POSIX")
@pytest.mark.usefixtures("no_hang")
def test_a_link_or_a_fifo_in_place_of_the_baseline_is_refused(path: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    store.save(victim, BASELINES["varied"](), KEY)
    loads: list[Callable[[Path], object]] = [
        lambda p: store.verify_file(p, KEY),
        lambda p: store.load(p, KEY),
        lambda p: state.load_baseline_file(p, KEY),
    ]
    plant_link(path, victim)
    for load in loads:
        with pytest.raises(BaselineError, match="cannot be read: a link is in its place"):
            load(path)
    plant_fifo(path)
    for load in loads:
        with pytest.raises(BaselineError, match="cannot be read: a FIFO is in its place"):
            load(path)


# -- parsing by chunks ----------------------------------------------------------------------------


def _signed(body: bytes, key: bytes = KEY) -> bytes:
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    head = f'{{"format":"fim-tray-baseline","schema":1,"hmac":"{mac}","body":'
    return head.encode() + body + b"}\n"


def _parsed_by_chunks(path: Path, data: bytes) -> Baseline:
    path.write_bytes(data)
    with store.opened(path) as fd:
        mac = store.verify(fd, KEY)
        assert mac is not None
        return store.parse_verified(fd, KEY, mac, "the baseline")


def _outcome(call: Callable[[], Baseline]) -> tuple[Any, ...]:
    try:
        record = call()
    except BaselineError as exc:
        # What a parse error says (its repr) depends on the parser: only the kind is compared.
        return (type(exc), exc.message.split(" (")[0])
    return (record, list(record.entries), record.extra)


ENTRY = {
    "path": "a",
    "type": "file",
    "size": 1,
    "mtime_ns": 1234567890123456789,
    "ctime_ns": -1,
    "ino": 2**64 - 1,
    "mode": 420,
    "uid": 0,
    "gid": 0,
    "digest": "00" * 32,
}
HEAD = {"path": "/w", "algorithm": "sha256", "created": WHEN.isoformat()}
UPDATED = {"updated": (WHEN + timedelta(1)).isoformat(), "root_dev": 3}


def _hand(obj: object, **options: Any) -> bytes:
    return json.dumps(obj, **options).encode()


HAND_MADE = {
    "spaces": _hand({**HEAD, **UPDATED, "entries": [ENTRY, {**ENTRY, "path": "b"}]}),
    "indented": _hand({**HEAD, **UPDATED, "entries": [ENTRY]}, indent=2),
    "entries first": _hand({"entries": [ENTRY], **HEAD, **UPDATED, "x": [1, {"y": 2}]}),
    "entries between": _hand({**HEAD, "entries": [ENTRY], **UPDATED, "note": "é日"}),
    "no entries": _hand({**HEAD, **UPDATED, "entries": []}),
    "empty with spaces": b'{"entries" : [ \n ] , "path":"/w","algorithm":"s","created":"'
    + WHEN.isoformat().encode()
    + b'","updated":"'
    + WHEN.isoformat().encode()
    + b'"}  ',
    "repeated key": b'{"algorithm":"md5",'
    + _hand({**HEAD, **UPDATED, "entries": [ENTRY]}, ensure_ascii=False)[1:],
    "repeated entries": _hand({**HEAD, **UPDATED, "entries": [ENTRY]})[:-1]
    + b', "entries": ['
    + _hand({**ENTRY, "path": "z"})
    + b"]}",
    "more keys after the body": _hand({**HEAD, **UPDATED, "entries": [ENTRY]}) + b', "x": 1',
    "another body after it": _hand({**HEAD, "entries": []})
    + b', "body": '
    + _hand({**HEAD, **UPDATED, "entries": [ENTRY]}),
    "escapes": _hand({**HEAD, **UPDATED, "entries": [{**ENTRY, "path": 'a\ud800\n"\\/'}]}),
    "non-ascii": _hand(
        {**HEAD, **UPDATED, "entries": [{**ENTRY, "path": "日本/é"}]}, ensure_ascii=False
    ),
    "floats and exponents": _hand(
        {**HEAD, **UPDATED, "n": [1.5, -2e-3, 1e300], "entries": [{**ENTRY, "size": 3.0}]}
    ),
    "b64 name": _hand(
        {**HEAD, **UPDATED, "entries": [{**ENTRY, "path": None, "path_b64": "/w=="}]}
    ),
    # Signed, yet incomplete: each a BaselineError, as parse() says it.
    "entries missing": _hand({**HEAD, **UPDATED}),
    "entries null": _hand({**HEAD, **UPDATED, "entries": None}),
    "entries a string": _hand({**HEAD, **UPDATED, "entries": "abc"}),
    "entries an object": _hand({**HEAD, **UPDATED, "entries": {"a": ENTRY}}),
    "entry not an object": _hand({**HEAD, **UPDATED, "entries": [[1, 2]]}),
    "entry incomplete": _hand({**HEAD, **UPDATED, "entries": [{"path": "a"}]}),
    "size not a number": _hand({**HEAD, **UPDATED, "entries": [{**ENTRY, "size": "big"}]}),
    "bad date": _hand({**HEAD, **UPDATED, "created": "yesterday", "entries": []}),
    "body a list": b"[]",
    "body a string": b'"body"',
    "body a number": b"12",
    "trailing comma": _hand({**HEAD, **UPDATED, "entries": [ENTRY]})[:-2] + b",]}",
    "missing comma": _hand({**HEAD, **UPDATED, "entries": [ENTRY, ENTRY]}).replace(b"}, {", b"} {"),
    "key not a string": b'{1: 2, "entries": []}',
    "garbage after": _hand({**HEAD, **UPDATED, "entries": []}) + b" x",
    "not UTF-8": _hand({**HEAD, **UPDATED, "entries": []}).replace(b"/w", b"/\xff"),
    "deep": b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b', "entries": []}',
    "deep entry": b'{"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
}


@pytest.mark.parametrize(
    ("name", "chunk"),
    [
        (name, chunk)
        for name in sorted(HAND_MADE)
        for chunk in (1, 5, 1024 * 1024)
        # 200,000 one-byte reads of the deep ones would test what 5-byte ones do
        if not (name.startswith("deep") and chunk == 1)
    ],
)
def test_parse_by_chunks_gives_what_parse_gives(
    name: str, chunk: int, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonio, "READ_CHUNK", chunk)
    path.parent.mkdir()
    data = _signed(HAND_MADE[name])
    expected = _outcome(lambda: store.parse(data, KEY))
    assert _outcome(lambda: _parsed_by_chunks(path, data)) == expected


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1024 * 1024])
def test_parse_by_chunks_of_what_save_writes(
    name: str, chunk: int, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = BASELINES[name]()
    if chunk < 100 and name == "many":
        record = record._replace(entries=dict(list(record.entries.items())[:300]))
    store.save(path, record, KEY)
    monkeypatch.setattr(jsonio, "READ_CHUNK", chunk)
    data = path.read_bytes()
    parsed = _parsed_by_chunks(path, data)
    assert parsed == record == store.parse(data, KEY)
    assert list(parsed.entries) == list(store.parse(data, KEY).entries)
    assert store.load(path, KEY) == record


def test_a_signed_body_cut_short_is_incomplete_at_every_length(path: Path) -> None:
    path.parent.mkdir()
    data = store.serialize(BASELINES["varied"](), KEY)
    body = data[data.index(b'"body":') + 7 : -2]
    for length in range(1, len(body)):
        cut = _signed(body[:length])
        with pytest.raises(BaselineError, match="signed but incomplete"):
            store.parse(cut, KEY)
        with pytest.raises(BaselineError, match="signed but incomplete"):
            _parsed_by_chunks(path, cut)


def test_a_file_written_over_between_verify_and_parse_is_refused(path: Path) -> None:
    store.save(path, BASELINES["varied"](), KEY)
    other = store.serialize(BASELINES["extras"](), KEY)
    with store.opened(path) as fd:
        mac = store.verify(fd, KEY)
        assert mac is not None
        with open(path, "r+b") as same_file:  # in place: the same file, other content
            same_file.write(other)
        with pytest.raises(BaselineError, match="changed while it was read"):
            store.parse_verified(fd, KEY, mac, "the baseline")


def test_load_reports_damage_as_parse_does(path: Path) -> None:
    store.save(path, BASELINES["varied"](), KEY)
    data = path.read_bytes()
    for damaged, kind in (
        (data[: len(data) // 2], BaselineError),
        (data.replace(b"ab" * 32, b"ba" * 32), BaselineTamperedError),
        (data.replace(b'"schema":1', b'"schema":2'), BaselineError),
        (b"[1, 2]", BaselineError),
    ):
        path.write_bytes(damaged)
        with pytest.raises(BaselineError) as expected:
            store.parse(damaged, KEY, source=f"The baseline {path}")
        for load in (store.load, state.load_baseline_file):
            with pytest.raises(kind) as caught:
                load(path, KEY)
            assert type(caught.value) is type(expected.value)
            assert caught.value.message == expected.value.message
