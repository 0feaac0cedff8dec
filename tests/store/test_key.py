"""Tests of fim_tray.store.key: the install key made once, private, shared between processes
that race to make it, and refused when damaged."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
import stat
import threading
import time
from pathlib import Path

import pytest

import fim_tray.store.key
from fim_tray.errors import BaselineError
from fim_tray.store.key import load_or_create


def test_key_is_created_private_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "config" / "install.key"
    key = load_or_create(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text("ascii").strip() == key.hex()
    assert load_or_create(path) == key
    assert load_or_create(tmp_path / "other.key") != key


def test_damaged_key_file_is_a_baseline_error(tmp_path: Path) -> None:
    path = tmp_path / "install.key"
    path.write_text("not hex at all\n")
    with pytest.raises(BaselineError, match="install key"):
        load_or_create(path)
    assert path.read_text() == "not hex at all\n"


@pytest.mark.parametrize("content", ["", "\n", "abcd\n", "00" * 31 + "\n"])
def test_key_of_the_wrong_length_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    monkeypatch.setattr(fim_tray.store.key, "KEY_WAIT", 0.05)
    path = tmp_path / "install.key"
    path.write_text(content)
    with pytest.raises(BaselineError, match="install key"):
        load_or_create(path)


def test_key_being_written_by_another_process_is_waited_for(tmp_path: Path) -> None:
    # Another process has just created the file (O_EXCL) and not yet written the key in it.
    path = tmp_path / "install.key"
    theirs = os.urandom(32)
    path.touch(mode=0o600)

    def write_soon() -> None:
        time.sleep(0.2)
        with open(path, "w", encoding="ascii") as out:
            out.write(theirs.hex() + "\n")

    writer = threading.Thread(target=write_soon)
    writer.start()
    try:
        assert load_or_create(path) == theirs
    finally:
        writer.join(5)


def test_key_file_left_empty_by_a_crash_is_refused_after_a_short_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fim_tray.store.key, "KEY_WAIT", 0.2)
    path = tmp_path / "install.key"
    path.touch(mode=0o600)
    started = time.monotonic()
    with pytest.raises(BaselineError, match="delete it"):
        load_or_create(path)
    assert 0.2 <= time.monotonic() - started < 2


def _take_key(path: str, out: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait(10)
    key = load_or_create(Path(path))
    Path(out).write_text(key.hex())


def test_concurrent_key_creation_gives_every_process_the_same_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    count = 6
    barrier = ctx.Barrier(count)
    path = tmp_path / "install.key"
    outs = [tmp_path / f"out{i}" for i in range(count)]
    procs = [ctx.Process(target=_take_key, args=(str(path), str(out), barrier)) for out in outs]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(20)
    assert [proc.exitcode for proc in procs] == [0] * count
    keys = {out.read_text() for out in outs}
    assert keys == {path.read_text("ascii").strip()}
    assert len(bytes.fromhex(keys.pop())) == 32
