"""Parallel hashing, quick rescans and the fast baseline code give the same results as the plain
serial ways: correctness only, never timings."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fim_tray import jsonio
from fim_tray.errors import ConfigError, ScanCancelled
from fim_tray.models import Entry, ScanResult
from fim_tray.records import Records
from fim_tray.scan import hashing, hashpool
from fim_tray.scan.compare import compare
from fim_tray.scan.hashing import BUFFER_SIZE, hash_fd
from fim_tray.scan.hashpool import BIG_FILE, DEFAULT_HASH_WORKERS, MAX_HASH_WORKERS
from fim_tray.scan.scanner import Scanner
from fim_tray.scan.throttle import Throttle
from fim_tray.store import baseline as store
from fim_tray.store.config import Config, from_json, to_json
from fim_tray.store.names import encode_name

KEY = bytes(range(32))
MAIN = threading.current_thread().name

# A baseline written by fim-tray before the fast serialisation (with the key above): it must load,
# and be written again byte for byte. Names that are not UTF-8, one that needs escapes, a symlink
# whose target is not UTF-8, unreadable entries, big numbers and extra body keys.
OLD_BASELINE = (
    b'{"format":"fim-tray-baseline","schema":1,"hmac":"b1aae44e01b03df14973d4f5b2857e5edde'
    b'84ca15d4929a593342a41c140dbf8","body":{"path_b64":"L2hvbWUvYW5uL0RvY/91bWVudHM=","al'
    b'gorithm":"sha256","created":"2026-01-02T10:11:12.345678+02:00","updated":"2026-01-03'
    b'T10:11:12.345678+02:00","root_dev":2049,"note":"kept","counts":[1,2],"entries":[{"pa'
    b'th":"a.txt","type":"file","size":5,"mtime_ns":1700000000123456789,"ctime_ns":1700000'
    b'0005,"ino":42,"mode":420,"uid":1000,"gid":100,"digest":"abababababababababababababab'
    b'abababababababababababababababababab"},{"path":"big.iso","type":"file","size":429496'
    b'7296,"mtime_ns":15,"ctime_ns":16,"ino":1099511627779,"mode":2541,"uid":2147483648,"g'
    b'id":2147483649,"digest":"9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9'
    b'f9f9f"},{"path":"broken-link","type":"symlink","size":0,"mtime_ns":5,"ctime_ns":6,"i'
    b'no":50,"mode":511,"uid":1000,"gid":100,"error":"permission denied"},{"path_b64":"Y2F'
    b'm6S9uYf9tZQ==","type":"file","size":0,"mtime_ns":3,"ctime_ns":4,"ino":44,"mode":384,'
    b'"uid":0,"gid":0,"digest":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd'
    b'cdcdcd"},{"path":"link","type":"symlink","size":4,"mtime_ns":5,"ctime_ns":6,"ino":45'
    b',"mode":511,"uid":1000,"gid":100,"target_b64":"Li4v/oB4"},{"path":"locked","type":"f'
    b'ile","size":9,"mtime_ns":7,"ctime_ns":8,"ino":47,"mode":0,"uid":0,"gid":0,"error":"p'
    b'ermission denied"},{"path":"pipe","type":"fifo","size":0,"mtime_ns":9,"ctime_ns":10,'
    b'"ino":48,"mode":420,"uid":1000,"gid":100},{"path":"plain-link","type":"symlink","siz'
    b'e":3,"mtime_ns":5,"ctime_ns":6,"ino":46,"mode":511,"uid":1000,"gid":100,"target":"a.'
    b'txt"},{"path":"q\\"uote\\\\back\\nline\\t\\u0001","type":"file","size":1,"mtime_ns":13,"ct'
    b'ime_ns":14,"ino":51,"mode":420,"uid":1000,"gid":100,"digest":"0101010101010101010101'
    b'010101010101010101010101010101010101010101"},{"path":"sub","type":"dir","size":0,"mt'
    b'ime_ns":1,"ctime_ns":2,"ino":43,"mode":493,"uid":1000,"gid":100},{"path":"sub/caf\xc3\xa9 '
    b'\xe2\x98\x83.txt","type":"file","size":7,"mtime_ns":11,"ctime_ns":12,"ino":49,"mode":416,"uid'
    b'":1000,"gid":100,"digest":"efefefefefefefefefefefefefefefefefefefefefefefefefefefefe'
    b'fefefef"}]}}\n'
)
OLD_ENTRIES = {
    "a.txt": Entry(
        "file", 5, 1_700_000_000_123_456_789, 1_700_000_000_5, 42, 0o644, 1000, 100, "ab" * 32
    ),
    "sub": Entry("dir", 0, 1, 2, 43, 0o755, 1000, 100),
    "sub/caf\u00e9 \u2603.txt": Entry("file", 7, 11, 12, 49, 0o640, 1000, 100, "ef" * 32),
    "caf\udce9/na\udcffme": Entry("file", 0, 3, 4, 44, 0o600, 0, 0, "cd" * 32),
    "link": Entry("symlink", 4, 5, 6, 45, 0o777, 1000, 100, target="../\udcfe\udc80x"),
    "plain-link": Entry("symlink", 3, 5, 6, 46, 0o777, 1000, 100, target="a.txt"),
    "broken-link": Entry("symlink", 0, 5, 6, 50, 0o777, 1000, 100, error="permission denied"),
    "locked": Entry("file", 9, 7, 8, 47, 0o000, 0, 0, error="permission denied"),
    "pipe": Entry("fifo", 0, 9, 10, 48, 0o644, 1000, 100),
    'q"uote\\back\nline\t\x01': Entry("file", 1, 13, 14, 51, 0o644, 1000, 100, "01" * 32),
    "big.iso": Entry("file", 4 << 30, 15, 16, 2**40 + 3, 0o4755, 2**31, 2**31 + 1, "9f" * 32),
}


# -- a mixed tree, and ways to make files unreadable, vanish or change while they are read --------


def data_of(size: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (size // len(block) + 1))[:size]


SIZES = {
    "empty": 0,
    "one": 1,
    "page": 4095,
    "just-small": BIG_FILE - 1,
    "just-big": BIG_FILE,
    "big-plus-one": BIG_FILE + 1,
    "three-chunks": 3 * BUFFER_SIZE + 5,
}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return build_mixed(tmp_path / "w")


def build_mixed(root: Path) -> Path:
    """Small and big files in several folders, a symlink, a FIFO, and files named so that
    :func:`sabotage` makes them unreadable (locked-*), vanish (gone-*) or change while they
    are read (restless-*), each in a small and a big size."""
    seed = 0
    for folder in ("", "a", "a/deep", "b"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, size in SIZES.items():
            seed += 1
            (root / folder / f"{name}.bin").write_bytes(data_of(size, seed))
    for trouble in ("locked", "gone", "restless"):
        for size_name, size in (("small", 10), ("big", 2 * BIG_FILE)):
            seed += 1
            (root / "b" / f"{trouble}-{size_name}.bin").write_bytes(data_of(size, seed))
    (root / "a" / "link").symlink_to("../one.bin")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "a" / "pipe")
    return root


def sabotage(monkeypatch: pytest.MonkeyPatch) -> None:
    """os.open refuses locked-* (permission denied, whoever runs the tests) and finds no gone-*;
    os.fstat shows a new mtime at every call for restless-*, as for a file being written."""
    real_open, real_fstat = os.open, os.fstat
    names: dict[int, str] = {}
    ticks: dict[int, int] = {}  # fstat calls per open file, so every scan sees the same mtimes

    def sabotaged_open(path: str, flags: int, *args: int, **kwargs: int) -> int:
        name = os.path.basename(path)
        if name.startswith("locked-"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if name.startswith("gone-"):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        fd = real_open(path, flags, *args, **kwargs)
        names[fd], ticks[fd] = name, 0
        return fd

    def sabotaged_fstat(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        if not names.get(fd, "").startswith("restless-"):
            return st
        ticks[fd] += 1  # one thread per open file: no lock needed
        tick = ticks[fd]
        fields = list(st[: os.stat_result.n_sequence_fields])
        extra = {name: getattr(st, name) for name in ("st_atime_ns", "st_ctime_ns", "st_blksize")}
        return os.stat_result(fields, {**extra, "st_mtime_ns": st.st_mtime_ns + tick})

    monkeypatch.setattr(os, "open", sabotaged_open)
    monkeypatch.setattr(os, "fstat", sabotaged_fstat)


@pytest.fixture
def threads_used(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Which thread hashed each file (by name), and room for a pool on any machine: the scanner
    sees four CPUs."""
    used: dict[str, str] = {}
    opened: dict[tuple[int, int], str] = {}  # (thread, fd): file name
    real_open, real_hash = hashpool.open_file, hashing.hash_fd

    def spy_open(path: str, st: os.stat_result | None, *args: Any) -> Any:
        fd, before, failed = real_open(path, st, *args)
        opened[threading.get_ident(), fd] = os.path.basename(path)
        return fd, before, failed

    def spy_hash(fd: int, *args: Any) -> str | None:
        used[opened[threading.get_ident(), fd]] = threading.current_thread().name
        return real_hash(fd, *args)

    monkeypatch.setattr(hashpool, "open_file", spy_open)
    monkeypatch.setattr(hashpool, "hash_fd", spy_hash)
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 4)
    yield used


def assert_same(first: ScanResult, second: ScanResult) -> None:
    assert sorted(first.entries.items()) == sorted(second.entries.items())
    assert first.problems == second.problems
    assert first.unlisted == second.unlisted
    assert (first.hashed_files, first.hashed_bytes) == (second.hashed_files, second.hashed_bytes)


# -- parallel hashing -------------------------------------------------------------------------


# None: a first baseline, where regular files are opened without an lstat first; {}: a rescan
# against a baseline that knows none of them, where every file is lstat'ed and then hashed.
@pytest.mark.parametrize("previous", [None, {}])
def test_parallel_and_serial_scans_give_identical_results(
    mixed: Path,
    threads_used: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    previous: dict[str, Entry] | None,
) -> None:
    sabotage(monkeypatch)
    serial = Scanner(str(mixed), previous=previous, hash_workers=1).run()
    assert set(threads_used.values()) == {MAIN}
    threads_used.clear()
    parallel = Scanner(str(mixed), previous=previous, hash_workers=4).run()
    assert_same(serial, parallel)

    # Big files went to the workers, small ones stayed on the walking thread.
    for name, thread in threads_used.items():
        big = name.startswith(("just-big", "big-plus-one", "three-chunks")) or "-big" in name
        assert (thread != MAIN) == big, (name, thread)
        assert thread == MAIN or thread.startswith("fim-tray-hash-")

    entries = parallel.entries
    for folder in ("", "a/", "a/deep/", "b/"):
        for name, size in SIZES.items():
            path = mixed / folder / f"{name}.bin"
            assert (
                entries[f"{folder}{name}.bin"].digest
                == hashlib.sha256(path.read_bytes()).hexdigest()
            )
            assert entries[f"{folder}{name}.bin"].size == size
    for kind in ("small", "big"):
        assert entries[f"b/locked-{kind}.bin"].error == "permission denied"
        assert entries[f"b/locked-{kind}.bin"].digest is None
        assert f"b/gone-{kind}.bin" not in entries
        assert entries[f"b/restless-{kind}.bin"].digest is not None
    assert entries["a/link"].target == "../one.bin"
    messages = {p.path: p.message for p in parallel.problems}
    assert messages == {
        "b/locked-small.bin": "cannot be read: permission denied",
        "b/locked-big.bin": "cannot be read: permission denied",
        "b/gone-small.bin": "vanished during the scan",
        "b/gone-big.bin": "vanished during the scan",
        "b/restless-small.bin": "kept changing while it was read",
        "b/restless-big.bin": "kept changing while it was read",
    }
    readable = sum(1 for e in entries.values() if e.digest is not None)
    assert parallel.hashed_files == readable + 2  # each restless file was read twice


@pytest.mark.parametrize("workers", [1, 4])
def test_a_first_baseline_without_lstat_records_what_a_rescan_with_lstat_does(
    mixed: Path, threads_used: dict[str, str], monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    sabotage(monkeypatch)
    first = Scanner(str(mixed), hash_workers=workers).run()
    assert_same(first, Scanner(str(mixed), previous={}, hash_workers=workers).run())
    assert_same(first, Scanner(str(mixed), previous=first.entries, full=True, hash_workers=1).run())


def test_one_hash_worker_hashes_everything_on_the_scanning_thread(
    mixed: Path, threads_used: dict[str, str]
) -> None:
    before = set(threading.enumerate())
    result = Scanner(str(mixed), hash_workers=1).run()
    assert set(threading.enumerate()) == before
    assert set(threads_used.values()) == {MAIN}
    assert (
        result.entries["three-chunks.bin"].digest
        == hashlib.sha256((mixed / "three-chunks.bin").read_bytes()).hexdigest()
    )


def test_no_worker_starts_for_small_files(tmp_path: Path, threads_used: dict[str, str]) -> None:
    (tmp_path / "small.txt").write_bytes(b"x" * (BIG_FILE - 1))
    result = Scanner(str(tmp_path), hash_workers=4).run()
    assert threads_used == {"small.txt": MAIN}
    assert result.hashed_files == 1


def test_when_no_thread_can_start_big_files_are_hashed_on_the_scanning_thread(
    mixed: Path, threads_used: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = Scanner(str(mixed), hash_workers=1).run()
    threads_used.clear()

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    assert_same(serial, Scanner(str(mixed), hash_workers=4).run())
    assert set(threads_used.values()) == {MAIN}


def test_workers_are_capped_by_the_cpus_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 2)
    assert hashpool.hash_threads(8) == 2
    assert hashpool.hash_threads(1) == 0  # one thread: inline, no pool
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 1)
    assert hashpool.hash_threads(8) == 0  # a single CPU gains nothing from a worker
    monkeypatch.setattr(hashpool, "cpu_count", lambda: 256)
    assert hashpool.hash_threads(8) == 8
    assert hashpool.hash_threads(10_000) == MAX_HASH_WORKERS


def _stop_after_first_chunk(monkeypatch: pytest.MonkeyPatch, stop: threading.Event) -> list[str]:
    """Set ``stop`` once the first chunk of any file is hashed; returns the threads that did."""
    real = hashing.hash_fd
    seen: list[str] = []

    def hash_then_stop(
        fd: int,
        algorithm: str,
        size: int,
        cancelled: Callable[[], bool] | None,
        throttle: Throttle | None = None,
    ) -> str | None:
        def stop_now() -> bool:
            seen.append(threading.current_thread().name)
            stop.set()
            return cancelled() if cancelled is not None else False

        return real(fd, algorithm, size, stop_now, throttle)

    monkeypatch.setattr(hashpool, "hash_fd", hash_then_stop)
    return seen


@pytest.mark.parametrize("workers", [1, 4])
def test_a_stop_while_a_big_file_is_hashed_cancels_and_leaves_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads_used: dict[str, str], workers: int
) -> None:
    with open(tmp_path / "huge.img", "wb") as out:
        out.truncate(64 * BUFFER_SIZE)  # sparse: nothing on disk, 64 chunks to hash
    stop = threading.Event()
    seen = _stop_after_first_chunk(monkeypatch, stop)
    before = set(threading.enumerate())
    with pytest.raises(ScanCancelled, match="stopped"):
        Scanner(str(tmp_path), stop=stop, hash_workers=workers).run()
    assert len(seen) == 1  # asked once, after the first chunk: then it ended
    assert (seen[0] == MAIN) == (workers == 1)
    assert set(threading.enumerate()) == before  # every worker was joined


def test_a_stop_while_waiting_for_the_workers_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads_used: dict[str, str]
) -> None:
    (tmp_path / "big.bin").write_bytes(b"b" * BIG_FILE)
    stop = threading.Event()
    waiting = threading.Event()
    real_wait = hashpool.HashPool.wait

    def wait(pool: hashpool.HashPool) -> None:
        waiting.set()  # the walk is over: the scanning thread now only waits for the workers
        real_wait(pool)

    hashed_on: list[str] = []

    def long_hash(
        fd: int,
        algorithm: str,
        size: int,
        cancelled: Callable[[], bool] | None,
        throttle: Throttle | None = None,
    ) -> str | None:
        hashed_on.append(threading.current_thread().name)
        assert cancelled is not None
        assert waiting.wait(10)
        stop.set()
        for _ in range(1000):  # a long file: the workers look at the stop between chunks
            if cancelled():
                return None
            threading.Event().wait(0.01)
        raise AssertionError("the worker was never told to stop")

    monkeypatch.setattr(hashpool.HashPool, "wait", wait)
    monkeypatch.setattr(hashpool, "hash_fd", long_hash)
    before = set(threading.enumerate())
    with pytest.raises(ScanCancelled):
        Scanner(str(tmp_path), stop=stop, hash_workers=4).run()
    assert len(hashed_on) == 1
    assert hashed_on[0].startswith("fim-tray-hash-")
    assert set(threading.enumerate()) == before


def test_a_worker_stuck_in_a_read_is_left_behind_and_does_not_hang_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A read that never returns (a dead network share) ignores every stop: closing the pool
    waits JOIN_TIMEOUT, warns, and lets the daemon thread go instead of hanging Ctrl-C/Quit."""
    (tmp_path / "big.bin").write_bytes(b"b" * BIG_FILE)
    stop = threading.Event()
    release = threading.Event()
    stuck: list[threading.Thread] = []

    def blocked_read(fd: int, *args: Any) -> str | None:
        stuck.append(threading.current_thread())
        stop.set()  # Quit is pressed while the read hangs
        release.wait(30)  # deaf to ``cancelled``, as a read in the kernel is
        return None

    monkeypatch.setattr(hashpool, "cpu_count", lambda: 4)
    monkeypatch.setattr(hashpool, "hash_fd", blocked_read)
    monkeypatch.setattr(hashpool, "JOIN_TIMEOUT", 0.2)
    try:
        with (
            caplog.at_level("WARNING", logger="fim_tray.scan.hashpool"),
            pytest.raises(ScanCancelled),
        ):
            Scanner(str(tmp_path), stop=stop, hash_workers=4).run()
        assert len(stuck) == 1 and stuck[0].name.startswith("fim-tray-hash-")
        assert stuck[0].is_alive() and stuck[0].daemon  # left behind, cannot keep us alive
        assert f"{stuck[0].name} did not stop" in caplog.text
    finally:
        release.set()
        for thread in stuck:
            thread.join(10)
    assert not any(thread.is_alive() for thread in stuck)


def test_an_error_on_a_worker_is_raised_by_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads_used: dict[str, str]
) -> None:
    (tmp_path / "big.bin").write_bytes(b"b" * BIG_FILE)
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        Scanner(str(tmp_path), algorithm="md4", hash_workers=4).run()
    assert threads_used["big.bin"].startswith("fim-tray-hash-")


# -- quick rescans --------------------------------------------------------------------------


def test_quick_rescan_of_an_unchanged_tree_hashes_nothing_and_reuses_every_record(
    mixed: Path, threads_used: dict[str, str]
) -> None:
    first = Scanner(str(mixed)).run()
    threads_used.clear()
    second = Scanner(str(mixed), previous=first.entries).run()
    assert (second.hashed_files, second.hashed_bytes) == (0, 0)
    assert threads_used == {}  # nothing opened, no worker started
    assert second.entries == first.entries
    assert isinstance(first.entries, Records) and isinstance(second.entries, Records)
    assert all(second.entries.record(p) is first.entries.record(p) for p in first.entries)
    assert compare(first.entries, second.entries) == []


def test_quick_rescan_builds_a_new_record_when_only_metadata_differs(mixed: Path) -> None:
    first = Scanner(str(mixed)).run()
    # A record that agrees on size, times and inode but not on the mode (a chmod moves the
    # ctime, so this takes a baseline recorded otherwise): the digest is reused, the record not.
    previous = dict(first.entries)
    previous["one.bin"] = first.entries["one.bin"]._replace(mode=0o600)
    second = Scanner(str(mixed), previous=previous).run()
    assert second.hashed_files == 0
    assert second.entries["one.bin"] is not previous["one.bin"]
    assert second.entries["one.bin"] == first.entries["one.bin"]
    changes = compare(previous, second.entries)
    assert [(c.kind, c.path, c.fields) for c in changes] == [("metadata", "one.bin", ("mode",))]


def test_a_full_rescan_hashes_every_file_again(mixed: Path) -> None:
    first = Scanner(str(mixed)).run()
    full = Scanner(str(mixed), previous=first.entries, full=True).run()
    assert full.hashed_files == first.hashed_files
    assert full.entries == first.entries
    assert compare(first.entries, full.entries) == []


def test_a_reused_record_never_carries_a_stale_error_or_target(mixed: Path) -> None:
    first = Scanner(str(mixed)).run()
    previous = dict(first.entries)
    previous["one.bin"] = previous["one.bin"]._replace(error="permission denied")
    second = Scanner(str(mixed), previous=previous).run()
    assert second.entries["one.bin"] == first.entries["one.bin"]
    assert second.hashed_files == 0


# -- hashing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, BUFFER_SIZE - 1, BUFFER_SIZE, BUFFER_SIZE + 1])
@pytest.mark.parametrize("portable", [False, True])
def test_hash_fd_reads_the_whole_file_whatever_the_size_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, portable: bool
) -> None:
    if portable:  # as on Windows: no preadv
        monkeypatch.setattr(hashing, "_preadv", None)
    data = data_of(size, size)
    path = tmp_path / "f"
    path.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.lseek(fd, size // 2, os.SEEK_SET)  # the file offset does not matter
        for hint in (size, -1, 0, max(0, size - 1)):  # a file that grew since its fstat
            assert hash_fd(fd, "sha256", hint) == expected
    finally:
        os.close(fd)


def test_hash_fd_returns_none_when_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"z" * (2 * BUFFER_SIZE))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert hash_fd(fd, "sha256", 2 * BUFFER_SIZE, lambda: True) is None
        assert hash_fd(fd, "sha256", 2 * BUFFER_SIZE, lambda: False) == (
            hashlib.sha256(b"z" * (2 * BUFFER_SIZE)).hexdigest()
        )
    finally:
        os.close(fd)


# -- the baseline file ------------------------------------------------------------------------


def _old_style(baseline: store.Baseline) -> bytes:
    """The body as fim-tray wrote it before the fast path: one dict, dumped at once."""
    entries = []
    for path, entry in sorted(baseline.entries.items()):
        obj: dict[str, object] = dict(encode_name(path))
        for name in ("type", "size", "mtime_ns", "ctime_ns", "ino", "mode", "uid", "gid"):
            obj[name] = getattr(entry, name)
        if entry.digest is not None:
            obj["digest"] = entry.digest
        if entry.target is not None:
            obj.update(store._target_json(entry.target))
        if entry.error is not None:
            obj["error"] = entry.error
        entries.append(obj)
    body = {
        **encode_name(baseline.folder),
        "algorithm": baseline.algorithm,
        "created": baseline.created.isoformat(),
        "updated": baseline.updated.isoformat(),
        "root_dev": baseline.root_dev,
        **baseline.extra,
        "entries": entries,
    }
    return jsonio.dumps(body)


def test_a_baseline_written_before_still_loads_and_is_written_again_unchanged() -> None:
    loaded = store.parse(OLD_BASELINE, KEY)
    assert loaded.entries == OLD_ENTRIES
    assert loaded.folder == "/home/ann/Doc\udcffuments"
    assert loaded.root_dev == 2049
    assert loaded.extra == {"note": "kept", "counts": [1, 2]}
    assert loaded.created == datetime(
        2026, 1, 2, 10, 11, 12, 345678, tzinfo=timezone(timedelta(hours=2))
    )
    assert store.serialize(loaded, KEY) == OLD_BASELINE


@pytest.mark.parametrize("chunk", [1, 2, 3, 4096])
def test_the_body_written_in_chunks_is_the_body_written_at_once(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(store, "ENTRY_CHUNK", chunk)
    loaded = store.parse(OLD_BASELINE, KEY)
    data = store.serialize(loaded, KEY)
    body = _old_style(loaded)
    assert data.endswith(b',"body":' + body + b"}\n")
    assert json.loads(data)["body"] == json.loads(body)
    empty = loaded._replace(entries={})
    assert store.serialize(empty, KEY).endswith(b',"body":' + _old_style(empty) + b"}\n")


def test_a_scanned_tree_round_trips_through_the_baseline(mixed: Path) -> None:
    result = Scanner(str(mixed)).run()
    now = datetime.now().astimezone()
    record = store.Baseline(str(mixed), "sha256", result.entries, now, now, result.root_dev)
    again = store.parse(store.serialize(record, KEY), KEY)
    assert again.entries == result.entries
    assert store.serialize(again, KEY).endswith(b',"body":' + _old_style(record) + b"}\n")


# -- the setting ------------------------------------------------------------------------------


def test_hash_workers_setting_defaults_round_trips_and_is_checked() -> None:
    assert Config().hash_workers == DEFAULT_HASH_WORKERS
    assert from_json({}).hash_workers == DEFAULT_HASH_WORKERS
    config = from_json({"hash_workers": 2, "theme": "dark"})
    assert config.hash_workers == 2
    assert to_json(config)["hash_workers"] == 2
    assert from_json(to_json(config)) == config
    assert config.extra == {"theme": "dark"}
    for bad in (0, -1, MAX_HASH_WORKERS + 1, True, "4", 2.0, None):
        with pytest.raises(ConfigError, match="hash_workers"):
            from_json({"hash_workers": bad})
