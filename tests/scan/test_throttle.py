"""Unit tests of the reading-speed cap: the token bucket on a fake clock, the hashing and scans
it slows, a stop that ends its wait, and the max_mb_per_s setting."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from fim_tray.errors import ConfigError, ScanCancelled
from fim_tray.scan.hashing import BUFFER_SIZE, hash_fd
from fim_tray.scan.scanner import Scanner
from fim_tray.scan.throttle import MB, STEP, Throttle, check_mb_per_s, throttle_for
from fim_tray.store import config as config_store
from fim_tray.store.config import Config, from_json, to_json

MIB = BUFFER_SIZE  # one chunk, 1 MiB


class FakeClock:
    """A clock that moves only when something sleeps on it; thread-safe, as hashing threads
    share one throttle. ``on_sleep`` runs after each sleep (a test sets a stop there)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()


def _throttle(mb_per_s: float, clock: FakeClock) -> Throttle:
    return Throttle(mb_per_s * MB, clock=clock, sleep=clock.sleep)


def _write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def _hash(path: Path, throttle: Throttle | None, cancelled: Any = None) -> str | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return hash_fd(fd, "sha256", path.stat().st_size, cancelled, throttle)
    finally:
        os.close(fd)


# -- the bucket --------------------------------------------------------------------------------


@pytest.mark.parametrize("mib", [1, 8])
def test_a_throttled_hash_of_n_mib_takes_n_over_the_cap(tmp_path: Path, mib: int) -> None:
    path = _write(tmp_path / "big.bin", mib * MIB + 123)  # and a short last chunk
    clock = FakeClock()
    digest = _hash(path, _throttle(2.0, clock))
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    expected = path.stat().st_size / (2.0 * MB)
    assert clock.now == pytest.approx(expected, rel=1e-9)  # every byte paid for, no more
    assert max(clock.sleeps) <= STEP + 1e-12  # in small steps, so a stop is seen soon


def test_idle_time_saves_up_only_a_short_burst() -> None:
    clock = FakeClock()
    throttle = _throttle(4.0, clock)
    clock.now += 100.0  # a long walk through folders, reading nothing
    assert throttle.charge(int(4.0 * MB * 0.25))  # a quarter second's worth: free
    assert clock.sleeps == []
    throttle.charge(MIB)
    assert sum(clock.sleeps) == pytest.approx(MIB / (4.0 * MB))  # the rest is paid in full


def test_threads_sharing_a_throttle_keep_to_its_rate_together() -> None:
    clock = FakeClock()
    throttle = _throttle(1.0, clock)
    chunks_each, threads = 5, 4

    def read() -> None:
        for _ in range(chunks_each):
            throttle.charge(MIB)

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert clock.now >= chunks_each * threads * MIB / MB - 1e-9


def test_a_stop_ends_the_wait_at_once() -> None:
    clock = FakeClock()
    stop = threading.Event()
    clock.on_sleep = lambda: stop.set() if len(clock.sleeps) == 3 else None
    throttle = _throttle(0.001, clock)  # 1 KB/s: a chunk would take over 17 minutes
    assert throttle.charge(MIB, stop.is_set) is False
    assert len(clock.sleeps) == 3  # left right after the stop, without sitting out the debt


def test_a_stop_ends_a_throttled_hash(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.bin", 4 * MIB)
    clock = FakeClock()
    stop = threading.Event()
    clock.on_sleep = stop.set
    assert _hash(path, _throttle(0.01, clock), stop.is_set) is None
    assert len(clock.sleeps) == 1


def test_a_stop_wakes_a_thread_waiting_on_the_real_clock() -> None:
    throttle = Throttle(1.0)  # one byte a second: a chunk would take twelve days
    stop = threading.Event()
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(throttle.charge(MIB, stop.is_set)))
    waiter.start()
    stop.set()
    waiter.join(10)  # a generous bound, not a timing: a sleep of the whole debt would hang
    assert not waiter.is_alive()
    assert results == [False]


def test_zero_or_none_is_no_throttle(tmp_path: Path) -> None:
    assert throttle_for(0) is None
    assert throttle_for(0.0) is None
    assert throttle_for(None) is None
    throttle = throttle_for(2.5)
    assert throttle is not None and throttle.rate == 2.5 * MB
    path = _write(tmp_path / "f.bin", 3 * MIB)
    assert _hash(path, None) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("rate", [0, -1, math.nan, math.inf])
def test_a_throttle_needs_a_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="positive rate"):
        Throttle(rate)


# -- scans -------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 4])
def test_a_throttled_scan_keeps_to_the_cap(tmp_path: Path, workers: int) -> None:
    root = tmp_path / "w"
    for n in range(4):
        _write(root / f"big{n}.bin", 2 * MIB)  # big: hashed on the worker threads
    _write(root / "small.txt", 1000)
    clock = FakeClock()
    plain = Scanner(str(root), hash_workers=workers).run()
    slowed = Scanner(str(root), hash_workers=workers, throttle=_throttle(4.0, clock)).run()
    assert slowed.entries == plain.entries
    assert clock.now >= slowed.hashed_bytes / (4.0 * MB) - 1e-9


@pytest.mark.parametrize("workers", [1, 4])
def test_a_stop_during_a_throttled_scan_cancels_it(tmp_path: Path, workers: int) -> None:
    root = tmp_path / "w"
    for n in range(3):
        _write(root / f"big{n}.bin", 2 * MIB)
    clock = FakeClock()
    stop = threading.Event()
    clock.on_sleep = stop.set
    throttle = _throttle(0.001, clock)
    with pytest.raises(ScanCancelled):
        Scanner(str(root), stop=stop, hash_workers=workers, throttle=throttle).run()
    assert clock.now < 1.0  # hours of debt, left at the first step


# -- the setting -------------------------------------------------------------------------------


def test_max_mb_per_s_round_trips_and_defaults_to_no_cap(tmp_path: Path) -> None:
    assert Config().max_mb_per_s == 0
    assert from_json({}).max_mb_per_s == 0
    assert to_json(Config())["max_mb_per_s"] == 0
    path = tmp_path / "config.json"
    for value in (12.5, 3):
        config = Config(max_mb_per_s=value)
        config_store.save(path, config)
        again = config_store.load(path)
        assert again == config
        assert again.max_mb_per_s == value
    assert from_json({"max_mb_per_s": 0}).max_mb_per_s == 0
    assert from_json({"max_mb_per_s": math.inf}).max_mb_per_s == 0  # JSON's 1e999: no cap


@pytest.mark.parametrize("value", [-1, -0.5, "10", None, True, [5], math.nan, -math.inf])
def test_an_invalid_max_mb_per_s_is_a_config_error_naming_it(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        from_json({"max_mb_per_s": value}, source="/c/config.json")
    assert "max_mb_per_s" in caught.value.message
    assert "/c/config.json" in caught.value.message


def test_check_mb_per_s() -> None:
    assert check_mb_per_s(0) == 0.0
    assert check_mb_per_s(7) == 7.0
    for bad in (-1, "1", False, math.nan):
        with pytest.raises(ValueError):
            check_mb_per_s(bad)
