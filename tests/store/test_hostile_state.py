"""Tests of fim-tray's own state files under attack, in process: links and FIFOs planted in their
place, baselines copied between folders or nested 60,000 deep, saved copies whose header lies about
their size, and two changes whose fields would join to the same text."""

from __future__ import annotations

import errno
import functools
import hashlib
import lzma
import os
import signal
import stat
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import NamedTuple

import pytest

from fim_tray import jsonio
from fim_tray.app.service import Service
from fim_tray.errors import (
    BaselineError,
    BaselineTamperedError,
    ConfigError,
    CopyDamagedError,
    CopyError,
    StorageError,
)
from fim_tray.models import Change, Entry, Folder
from fim_tray.store import baseline as baseline_file
from fim_tray.store import cache
from fim_tray.store import config as config_file
from fim_tray.store.copies import (
    LZMA,
    MAGIC,
    MAX_HEADER_SIZE,
    ZLIB,
    CopyStore,
)
from fim_tray.store.history import History
from fim_tray.store.lock import InstanceLock, data_lock
from fim_tray.store.paths import folder_id
from fim_tray.store.pending import PendingFile
from fim_tray.store.pending import parse as parse_pending
from fim_tray.store.state import load_signed_file
from tests.helpers import is_regular, make_tree, plant_fifo, plant_link

pytestmark = pytest.mark.skipif(os.name == "nt", reason="FIFOs and O_NOFOLLOW are POSIX")

VICTIM_CONTENT = b"a file of someone else's, outside the data folder\n"
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
HANG_LIMIT = 10  # seconds after which an open that blocks fails the test instead of hanging it


# -- helpers ------------------------------------------------------------------------------------


class Victim(NamedTuple):
    """A file outside the data folder that a planted link points at."""

    path: Path
    before: os.stat_result

    def assert_untouched(self) -> None:
        """Same bytes, same inode, not written, and no hard link made to it."""
        assert self.path.read_bytes() == VICTIM_CONTENT
        now = self.path.stat()
        assert (now.st_ino, now.st_size, now.st_mtime_ns, now.st_nlink) == (
            self.before.st_ino, self.before.st_size, self.before.st_mtime_ns, 1,
        )  # fmt: skip


@pytest.fixture
def victim(tmp_path: Path) -> Victim:
    path = tmp_path / "outside" / "victim.txt"
    path.parent.mkdir()
    path.write_bytes(VICTIM_CONTENT)
    return Victim(path, path.stat())





def is_link_to(path: Path, target: Path) -> bool:
    return path.is_symlink() and os.readlink(path) == str(target)


class Hung(BaseException):
    """Raised in a test blocked on a FIFO; not an OSError, so no ``except OSError`` takes it."""


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, rather than hang for ever, a test whose open of a FIFO blocks."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hung(f"blocked for {HANG_LIMIT} s or more: an open waited on a FIFO")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT, 1)  # and every second after, till it ends
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Watched(NamedTuple):
    service: Service
    a: Folder
    b: Folder
    a_root: Path
    b_root: Path


@pytest.fixture
def watched(tmp_path: Path, service: Service) -> Watched:
    """Two watched folders, A and B, each with a recorded baseline, cache and pending file."""
    a_root = make_tree(tmp_path / "A", {"a.txt": "alpha\n", "sub/x.txt": "x\n"})
    b_root = make_tree(tmp_path / "B", {"b.txt": "beta\n"})
    a, _ = service.watch(str(a_root))
    b, _ = service.watch(str(b_root))
    service.check()  # writes every pending file
    return Watched(service, a, b, a_root, b_root)


# -- open_own and read_own ------------------------------------------------------------------------

OPEN_MODES = {
    "read": os.O_RDONLY,
    "read-write-create": os.O_RDWR | os.O_CREAT,
    "append-create": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    "write-truncate": os.O_WRONLY | os.O_TRUNC,
}


@pytest.mark.parametrize("flags", OPEN_MODES.values(), ids=OPEN_MODES.keys())
def test_open_own_never_follows_a_link(tmp_path: Path, victim: Victim, flags: int) -> None:
    link = tmp_path / "data" / "own.json"
    plant_link(link, victim.path)
    with pytest.raises(OSError, match="a link is in its place") as caught:
        jsonio.open_own(link, flags)
    assert caught.value.filename == str(link)
    victim.assert_untouched()
    assert is_link_to(link, victim.path)


@pytest.mark.parametrize("flags", OPEN_MODES.values(), ids=OPEN_MODES.keys())
def test_open_own_never_creates_the_target_of_a_dangling_link(tmp_path: Path, flags: int) -> None:
    link = tmp_path / "data" / "own.json"
    target = tmp_path / "outside" / "made-by-fim-tray"
    target.parent.mkdir()
    plant_link(link, target)
    with pytest.raises(OSError, match="a link is in its place"):
        jsonio.open_own(link, flags)
    assert not os.path.lexists(target)


@pytest.mark.parametrize("flags", OPEN_MODES.values(), ids=OPEN_MODES.keys())
def test_open_own_never_blocks_on_a_fifo(tmp_path: Path, flags: int, no_hang: None) -> None:
    fifo = tmp_path / "own.json"
    plant_fifo(fifo)
    with pytest.raises(OSError, match="a FIFO is in its place") as caught:
        jsonio.open_own(fifo, flags)
    assert caught.value.filename == str(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # refused, left as it is


def test_open_own_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="a folder is in its place"):
        jsonio.open_own(tmp_path)


def test_read_own_refuses_more_than_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 1001)
    with pytest.raises(OSError) as caught:
        jsonio.read_own(path, limit=1000)
    assert caught.value.errno == errno.EFBIG
    assert jsonio.read_own(path, limit=1001) == b"x" * 1001


def test_atomic_write_replaces_a_link_not_its_target(tmp_path: Path, victim: Victim) -> None:
    path = tmp_path / "data" / "own.json"
    plant_link(path, victim.path)
    jsonio.atomic_write(path, b"{}\n")
    assert is_regular(path) and path.read_bytes() == b"{}\n"
    victim.assert_untouched()


def test_atomic_write_over_a_dangling_link_creates_no_target(tmp_path: Path) -> None:
    path = tmp_path / "data" / "own.json"
    target = tmp_path / "made-by-fim-tray"
    plant_link(path, target)
    jsonio.atomic_write(path, b"{}\n", keep_backup=True)
    assert is_regular(path) and path.read_bytes() == b"{}\n"
    assert not os.path.lexists(target)


# -- the locks ------------------------------------------------------------------------------------


def test_data_lock_refuses_a_link_in_its_place(tmp_path: Path, victim: Victim) -> None:
    lock = tmp_path / "data" / "lock"
    plant_link(lock, victim.path)
    with pytest.raises(StorageError, match="a link is in its place") as caught, data_lock(lock, 1):
        pytest.fail("the lock was taken through a link")
    assert str(lock) in caught.value.message
    victim.assert_untouched()  # neither truncated nor given a process id
    assert is_link_to(lock, victim.path)


def test_data_lock_never_creates_the_target_of_a_dangling_link(tmp_path: Path) -> None:
    lock = tmp_path / "data" / "lock"
    target = tmp_path / "made-by-fim-tray"
    plant_link(lock, target)
    with pytest.raises(StorageError, match="a link is in its place"), data_lock(lock, 1):
        pytest.fail("the lock was taken through a link")
    assert not os.path.lexists(target)


def test_data_lock_refuses_a_fifo_without_waiting(tmp_path: Path, no_hang: None) -> None:
    lock = tmp_path / "data" / "lock"
    plant_fifo(lock)
    with pytest.raises(StorageError, match="a FIFO is in its place") as caught, data_lock(lock, 1):
        pytest.fail("a FIFO was taken as the lock")
    assert str(lock) in caught.value.message


def test_instance_lock_refuses_a_link_in_its_place(tmp_path: Path, victim: Victim) -> None:
    lock = InstanceLock(tmp_path / "data" / "tray.lock")
    plant_link(lock.path, victim.path)
    with pytest.raises(StorageError, match="a link is in its place") as caught:
        lock.acquire()
    assert str(lock.path) in caught.value.message
    assert lock.holder() == ""  # the victim's content is never read as a process id
    victim.assert_untouched()


def test_instance_lock_never_creates_the_target_of_a_dangling_link(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path / "data" / "tray.lock")
    target = tmp_path / "made-by-fim-tray"
    plant_link(lock.path, target)
    with pytest.raises(StorageError):
        lock.acquire()
    assert not os.path.lexists(target)


def test_instance_lock_refuses_a_fifo_without_waiting(tmp_path: Path, no_hang: None) -> None:
    lock = InstanceLock(tmp_path / "data" / "tray.lock")
    plant_fifo(lock.path)
    with pytest.raises(StorageError, match="a FIFO is in its place"):
        lock.acquire()
    assert lock.holder() == ""


# -- the history ----------------------------------------------------------------------------------


def one_change(path: str = "f.txt") -> Change:
    entry = Entry("file", 3, 1, 1, 1, 0o644, 0, 0, "0" * 64)
    return Change("added", path, None, entry)


def test_history_refuses_to_append_through_a_link(tmp_path: Path, victim: Victim) -> None:
    history = History(tmp_path / "data" / "events.jsonl")
    plant_link(history.path, victim.path)
    with pytest.raises(StorageError, match="a link is in its place") as caught:
        history.append("/w", [one_change()], WHEN)
    assert str(history.path) in caught.value.message
    assert history.read() == []  # the victim is never read as history either
    victim.assert_untouched()


def test_history_never_creates_the_target_of_a_dangling_link(tmp_path: Path) -> None:
    history = History(tmp_path / "data" / "events.jsonl")
    target = tmp_path / "made-by-fim-tray"
    plant_link(history.path, target)
    with pytest.raises(StorageError):
        history.append("/w", [one_change()], WHEN)
    assert not os.path.lexists(target)


def test_history_never_blocks_on_a_fifo(tmp_path: Path, no_hang: None) -> None:
    history = History(tmp_path / "events.jsonl")
    plant_fifo(history.path)
    with pytest.raises(StorageError, match="a FIFO is in its place") as caught:
        history.append("/w", [one_change()], WHEN)
    assert str(history.path) in caught.value.message
    assert history.read() == []  # the FIFO is skipped (and logged), never waited on
    assert stat.S_ISFIFO(os.lstat(history.path).st_mode)


def test_history_skips_a_rotated_fifo_and_link(
    tmp_path: Path, victim: Victim, no_hang: None
) -> None:
    history = History(tmp_path / "events.jsonl")
    plant_fifo(tmp_path / "events.jsonl.1")
    plant_link(tmp_path / "events.jsonl.2", victim.path)
    history.append("/w", [one_change()], WHEN)
    assert [e.path for e in history.read()] == ["f.txt"]
    victim.assert_untouched()


def test_history_skips_lines_nested_too_deep(tmp_path: Path) -> None:
    history = History(tmp_path / "events.jsonl")
    history.append("/w", [one_change("before.txt")], WHEN)
    with history.path.open("ab") as out:
        out.write(b"[" * 100_000 + b"\n")  # orjson's size: past jsonio.LARGE
        out.write(b"[" * 60_000 + b"\n")  # the standard library's
        out.write(b"{" * 60_000 + b"\n")
    history.append("/w", [one_change("after.txt")], WHEN)
    assert [e.path for e in history.read()] == ["before.txt", "after.txt"]
    assert [e.path for e in history.read(limit=1)] == ["after.txt"]


# -- pending files, baselines, caches, settings ----------------------------------------------------


def test_pending_file_through_a_link_is_ignored_then_replaced(
    tmp_path: Path, victim: Victim
) -> None:
    path = tmp_path / "data" / "baselines" / "f.pending.json"
    plant_link(path, victim.path)
    pending = PendingFile(path, b"k" * 32, "f")
    assert pending.read(warn=True) == {}
    pending.save({"sig": "a.txt"}, WHEN)
    assert is_regular(path)
    assert pending.changes() == {"sig": "a.txt"}
    victim.assert_untouched()


def test_pending_file_never_blocks_on_a_fifo(tmp_path: Path, no_hang: None) -> None:
    path = tmp_path / "f.pending.json"
    plant_fifo(path)
    pending = PendingFile(path, b"k" * 32, "f")
    assert pending.read(warn=True) == {}
    pending.save({}, WHEN)
    assert is_regular(path)


def test_pending_file_with_a_hostile_hmac_or_nesting_is_refused() -> None:
    key, folder = b"k" * 32, "f"
    head = b'{"format":"fim-tray-pending","hmac":"'
    hostile = [
        head + "é".encode() * 32 + b'","body":{}}\n',  # 64 bytes, none of them hex
        head + "\u00e9".encode() + b'","body":{}}\n',
        head + b"0" * 64 + b'","body":' + b"[" * 100_000 + b"}\n",
    ]
    for data in hostile:
        assert parse_pending(data, key, folder) is None


def test_baseline_through_a_link_is_refused(watched: Watched, victim: Victim) -> None:
    store = watched.service.store
    path = store.paths.baseline_file(watched.a.id)
    plant_link(path, victim.path)
    with pytest.raises(BaselineError, match="a link is in its place") as caught:
        store.load_baseline(watched.a)
    assert str(path) in caught.value.message
    (report,) = watched.service.check(str(watched.a_root))
    assert report.error is not None and str(path) in report.error
    assert is_link_to(path, victim.path)  # left for the person to inspect
    victim.assert_untouched()


@pytest.mark.parametrize("suffix", [".json", ".json.cache", ".pending.json"])
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-victim", "dangling"])
def test_new_baseline_replaces_links_planted_for_it(
    tmp_path: Path, watched: Watched, victim: Victim, suffix: str, dangling: bool
) -> None:
    """Files of a folder not yet watched: their names are predictable, so links can wait there."""
    service = watched.service
    root = make_tree(tmp_path / "C", {"c.txt": "c\n"})
    planted = service.paths.baselines_dir / f"{folder_id(str(root.resolve()))}{suffix}"
    target = tmp_path / "made-by-fim-tray" if dangling else victim.path
    plant_link(planted, target)
    service.watch(str(root))
    assert is_regular(planted)
    victim.assert_untouched()
    assert dangling == (not os.path.lexists(target))
    (report,) = service.check(str(root))
    assert report.error is None and report.changes == ()


def test_cache_through_a_link_is_ignored_and_replaced(watched: Watched, victim: Victim) -> None:
    store = watched.service.store
    path = store.paths.baseline_file(watched.a.id)
    plant_link(cache.cache_path(path), victim.path)
    record, _signature = load_signed_file(path, store.key())
    assert record.folder == watched.a.path
    assert is_regular(cache.cache_path(path))
    victim.assert_untouched()


def test_cache_fifo_is_ignored_and_replaced(watched: Watched, no_hang: None) -> None:
    store = watched.service.store
    path = store.paths.baseline_file(watched.a.id)
    plant_fifo(cache.cache_path(path))
    record, _signature = load_signed_file(path, store.key())
    assert record.folder == watched.a.path
    assert is_regular(cache.cache_path(path))


def test_settings_through_a_link_are_refused(tmp_path: Path, victim: Victim) -> None:
    path = tmp_path / "config" / "config.json"
    plant_link(path, victim.path)
    with pytest.raises(ConfigError, match="a link is in its place") as caught:
        config_file.load(path)
    assert str(path) in caught.value.message
    victim.assert_untouched()


def test_settings_fifo_is_refused_without_waiting(tmp_path: Path, no_hang: None) -> None:
    path = tmp_path / "config.json"
    plant_fifo(path)
    with pytest.raises(ConfigError, match="a FIFO is in its place"):
        config_file.load(path)


def test_settings_nested_too_deep_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for data in (b"[" * 100_000, b"[" * 60_000):
        path.write_bytes(data)
        with pytest.raises(ConfigError, match="not valid JSON"):
            config_file.load(path)


# -- baselines that are not what they claim --------------------------------------------------------


@pytest.mark.parametrize(
    "copied",
    [(".json",), (".json", ".json.cache"), (".json", ".json.cache", ".pending.json")],
    ids=["baseline", "baseline+cache", "baseline+cache+pending"],
)
def test_baseline_of_another_folder_is_refused(watched: Watched, copied: tuple[str, ...]) -> None:
    store = watched.service.store
    (watched.b_root / "b.txt").write_text("hidden change\n")
    for suffix in copied:
        source = store.paths.baselines_dir / f"{watched.a.id}{suffix}"
        target = store.paths.baselines_dir / f"{watched.b.id}{suffix}"
        target.write_bytes(source.read_bytes())
    with pytest.raises(BaselineTamperedError, match="is signed for another folder") as caught:
        store.load_baseline(watched.b)
    assert f"({watched.a.path}), not {watched.b.path}" in caught.value.message
    a_report, b_report = watched.service.check()
    assert a_report.error is None and a_report.changes == ()
    assert b_report.error is not None and "is signed for another folder" in b_report.error
    assert b_report.changes == ()


HOSTILE_BASELINES: dict[str, Callable[[bytes], bytes]] = {
    "60,000 [": lambda _good: b"[" * 60_000,
    "100,000 [": lambda _good: b"[" * 100_000,
    "body nested 12,000 deep": lambda good: good[: good.index(b'"body":') + 7] + b'{"a":' * 12_000,
    "hmac of 64 non-ASCII bytes": lambda good: _with_hmac(good, "é" * 32),
    "hmac of one non-ASCII letter": lambda good: _with_hmac(good, "é"),
    "hmac escaped as \\u00e9": lambda good: _with_hmac(good, "\\u00e9" * 10 + "0" * 4),
}


def _with_hmac(good: bytes, mac: str) -> bytes:
    start = good.index(b'"hmac":"') + len(b'"hmac":"')
    return good[:start] + mac.encode() + good[good.index(b'"', start) :]


@pytest.mark.parametrize("make", HOSTILE_BASELINES.values(), ids=HOSTILE_BASELINES.keys())
def test_hostile_baseline_is_an_error_of_its_folder_only(
    watched: Watched, make: Callable[[bytes], bytes]
) -> None:
    store = watched.service.store
    path = store.paths.baseline_file(watched.a.id)
    path.write_bytes(make(path.read_bytes()))
    with pytest.raises(BaselineError):
        baseline_file.parse(path.read_bytes(), store.key())
    (watched.b_root / "b.txt").write_text("a real change\n")
    a_report, b_report = watched.service.check()
    assert a_report.error is not None and str(path) in a_report.error
    assert "unexpected error" not in a_report.error
    assert [(c.kind, c.path) for c in b_report.changes] == [("modified", "b.txt")]


# -- saved copies ----------------------------------------------------------------------------------


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def zeros_compressed(codec: int, megabytes: int) -> bytes:
    """A small body that would decompress to ``megabytes`` MB of zeros, made a MB at a time."""
    packer = zlib.compressobj(9) if codec == ZLIB else lzma.LZMACompressor(preset=0)
    chunk = bytes(1 << 20)
    parts = [packer.compress(chunk) for _ in range(megabytes)]
    return b"".join([*parts, packer.flush()])


def lying_copy(codec: int, claimed: int, body: bytes) -> bytes:
    name = b"sha256"
    return MAGIC + bytes([codec, len(name)]) + name + claimed.to_bytes(8, "big") + body


def peak_bytes_of(call: Callable[[], object]) -> int:
    """The most memory Python allocated while ``call`` ran (it must raise CopyDamagedError)."""
    tracemalloc.start()
    try:
        with pytest.raises(CopyDamagedError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("codec", [ZLIB, LZMA], ids=["zlib", "lzma"])
@pytest.mark.parametrize(
    ("claimed", "limit"),
    [
        (1 << 40, 10_000_000),  # 1 TiB, against copy_max_file_bytes' default
        (1 << 40, 1_000),  # against a small copy_max_file_bytes
        (MAX_HEADER_SIZE + 1, 1 << 62),  # past the most any header may claim, whatever the limit
        ((1 << 64) - 1, 1 << 62),
    ],
    ids=["1TiB-default-limit", "1TiB-small-limit", "past-the-cap", "2**64-1"],
)
def test_copy_claiming_too_much_is_damaged_and_never_decompressed(
    tmp_path: Path, codec: int, claimed: int, limit: int
) -> None:
    store = CopyStore(tmp_path / "snapshots")
    data = b"the real content\n"
    path = store.path(sha(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(lying_copy(codec, claimed, zeros_compressed(codec, 32)))
    assert len(path.read_bytes()) < 1_000_000
    # As diff and restore read it: the signed baseline says how big the content is.
    peak = peak_bytes_of(lambda: store.read(sha(data), limit=limit, size=len(data)))
    assert peak < 8_000_000, f"{peak:,} bytes used to refuse it"
    assert not path.exists()  # a damaged copy is removed


@pytest.mark.parametrize("codec", [ZLIB, LZMA], ids=["zlib", "lzma"])
def test_copy_claiming_more_than_the_limit_is_refused_unread_and_kept(
    tmp_path: Path, codec: int
) -> None:
    """Without the size a baseline gives, a claim past the limit may be a whole copy stored
    before the limit was lowered: refused without decompressing, and kept."""
    store = CopyStore(tmp_path / "snapshots")
    data = b"the real content\n"
    path = store.path(sha(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(lying_copy(codec, 1 << 40, zeros_compressed(codec, 32)))
    tracemalloc.start()
    try:
        with pytest.raises(CopyError, match="more than copy_max_file_bytes"):
            store.read(sha(data), limit=10_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000, f"{peak:,} bytes used to refuse it"
    assert path.exists()


def test_copy_decompressed_at_most_to_its_limit(tmp_path: Path) -> None:
    """A header within the limit over a body that expands far past it: cut at the limit."""
    store = CopyStore(tmp_path / "snapshots")
    data = b"the real content\n"
    path = store.path(sha(data))
    path.parent.mkdir(parents=True)
    path.write_bytes(lying_copy(ZLIB, 1_000_000, zeros_compressed(ZLIB, 32)))
    peak = peak_bytes_of(lambda: store.read(sha(data), limit=1_000_000))
    assert peak < 16_000_000, f"{peak:,} bytes used to refuse it"


def test_copy_replaced_by_a_link_is_refused(tmp_path: Path, victim: Victim) -> None:
    store = CopyStore(tmp_path / "snapshots")
    data = VICTIM_CONTENT  # the victim even holds the right content: still never read
    store.put(data, sha(data))
    path = store.path(sha(data))
    plant_link(path, victim.path)
    with pytest.raises(CopyError, match="a link is in its place") as caught:
        store.read(sha(data))
    assert not isinstance(caught.value, CopyDamagedError)
    assert not store.intact(path, "sha256")
    assert not store.verify(sha(data))  # removes the link, never its target
    assert not os.path.lexists(path)
    victim.assert_untouched()


def test_copy_put_replaces_a_link_not_its_target(tmp_path: Path, victim: Victim) -> None:
    store = CopyStore(tmp_path / "snapshots")
    data = b"content to keep\n"
    path = store.path(sha(data))
    plant_link(path, victim.path)
    assert store.put(data, sha(data)) > 0
    assert is_regular(path) and store.read(sha(data)) == data
    victim.assert_untouched()


def test_copy_put_over_a_dangling_link_creates_no_target(tmp_path: Path) -> None:
    store = CopyStore(tmp_path / "snapshots")
    data = b"content to keep\n"
    path = store.path(sha(data))
    target = tmp_path / "made-by-fim-tray"
    plant_link(path, target)
    store.put(data, sha(data))
    assert is_regular(path)
    assert not os.path.lexists(target)


def test_copy_fifo_is_refused_without_waiting(tmp_path: Path, no_hang: None) -> None:
    store = CopyStore(tmp_path / "snapshots")
    data = b"content\n"
    plant_fifo(store.path(sha(data)))
    with pytest.raises(CopyError, match="a FIFO is in its place"):
        store.read(sha(data))
    assert not store.intact(store.path(sha(data)), "sha256")


# -- change signatures ----------------------------------------------------------------------------


def colliding_pair() -> tuple[Change, Change]:
    """A link ``a`` and a file ``a|symlink|None|T`` whose fields join, with "|", to one text."""
    content = b"payload\n"
    digest = sha(content)
    link = Entry("symlink", 40, 1, 1, 2, 0o777, 0, 0, None, f"T|file|{digest}|None")
    file = Entry("file", len(content), 1, 1, 3, 0o644, 0, 0, digest)
    return Change("added", "a", None, link), Change("added", "a|symlink|None|T", None, file)


def naive_signature(change: Change) -> str:
    after = change.after
    assert after is not None
    fields = (change.kind, change.path, after.type, after.digest, after.target)
    return "|".join(str(f) for f in fields)


def test_fields_that_join_alike_have_different_signatures() -> None:
    link, file = colliding_pair()
    assert naive_signature(link) == naive_signature(file)  # the ambiguity is real
    assert link.signature() != file.signature()


def test_signature_tells_apart_names_with_quotes_and_escapes() -> None:
    entry = Entry("file", 1, 1, 1, 1, 0o644, 0, 0, "0" * 64)
    names = ["a", "a'", 'a"', "a\\", "a\\'", "a', 'b", "a\udcff", "a\\udcff", "a\n", "a\\n"]
    signatures = {Change("added", name, None, entry).signature() for name in names}
    assert len(signatures) == len(names)


def test_colliding_changes_are_reported_and_accepted_apart(
    tmp_path: Path, service: Service
) -> None:
    root = make_tree(tmp_path / "W", {"keep.txt": "keep\n"})
    service.watch(str(root))
    content = b"payload\n"
    (root / "a|symlink|None|T").write_bytes(content)
    (root / "a").symlink_to(f"T|file|{sha(content)}|None")
    (report,) = service.check(str(root))
    by_path = {c.path: c for c in report.changes}
    assert set(by_path) == {"a", "a|symlink|None|T"}
    assert naive_signature(by_path["a"]) == naive_signature(by_path["a|symlink|None|T"])
    assert len({c.signature() for c in report.new}) == 2
    assert service.store.pending(service.folder(str(root))).changes() == {
        c.signature(): c.path for c in report.changes
    }

    accepted = service.accept_changes(str(root), {by_path["a"].key()})
    assert [c.path for c in accepted.changes] == ["a"]
    (again,) = service.check(str(root))
    assert [c.path for c in again.changes] == ["a|symlink|None|T"]
    assert again.new == ()  # still pending as before, not announced anew
