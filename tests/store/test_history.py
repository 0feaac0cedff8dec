"""Tests of fim_tray.store.history: appending, reading back, limits, rotation, damaged lines."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fim_tray.errors import StorageError
from fim_tray.models import Change, Entry
from fim_tray.store.history import History, change_json, entry_json

T0 = datetime(2026, 1, 2, 10, 11, 12, tzinfo=timezone(timedelta(hours=-5)))
BEFORE = Entry("file", 10, 1_700_000_000_000_000_000, 1, 7, 0o644, 1000, 100, digest="aa" * 32)
AFTER = Entry("file", 15, 1_700_000_001_000_000_000, 2, 7, 0o600, 1000, 100, digest="bb" * 32)


def _change(path: str, kind: str = "modified") -> Change:
    if kind == "added":
        return Change("added", path, None, AFTER)
    if kind == "removed":
        return Change("removed", path, BEFORE, None)
    return Change("modified", path, BEFORE, AFTER, fields=("mode", "size"), suspicious=True)


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "data" / "events.jsonl")


def test_nothing_yet_reads_empty(history: History) -> None:
    assert history.read() == []
    assert history.files() == []


def test_append_then_read_in_order(history: History) -> None:
    first = history.append("/w", [_change("a", "added"), _change("b", "removed")], T0)
    second = history.append("/w", [_change("c")], T0 + timedelta(minutes=1))
    events = history.read()
    assert [e.path for e in events] == ["a", "b", "c"]
    assert [e.change for e in events] == ["added", "removed", "modified"]
    assert events == [*first, *second]
    assert len({e.id for e in events}) == 3


def test_event_fields_survive(history: History) -> None:
    history.append("/home/ann/Documents", [_change("notes/todo.txt")], T0)
    (event,) = history.read()
    assert event.time == T0
    assert event.time.utcoffset() == timedelta(hours=-5)
    assert event.folder == "/home/ann/Documents"
    assert event.suspicious is True
    assert event.fields == ("mode", "size")
    assert event.before is not None and event.after is not None
    assert event.before["digest"] == "aa" * 32
    assert event.after["mode"] == "0600"
    assert event.after["size"] == 15


def test_undecodable_path_round_trips(history: History) -> None:
    history.append("/w", [_change("caf\udce9\n.txt", "added")], T0)
    line = history.path.read_bytes()
    line.decode("utf-8")  # the file stays valid UTF-8
    assert b"path_b64" in line
    assert [e.path for e in history.read()] == ["caf\udce9\n.txt"]


def test_empty_append_writes_nothing(history: History) -> None:
    assert history.append("/w", [], T0) == []
    assert not history.path.exists()


def test_one_write_per_append(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    history.append("/w", [_change(f"f{i}") for i in range(50)], T0)
    assert len(writes) == 1
    assert writes[0] == history.path.stat().st_size
    assert len(history.path.read_bytes().splitlines()) == 50


def test_each_line_is_one_json_object(history: History) -> None:
    history.append("/w", [_change("a"), _change("b", "added")], T0)
    lines = history.path.read_bytes().splitlines()
    objs = [json.loads(line) for line in lines]
    assert [o["path"] for o in objs] == ["a", "b"]
    assert all(o["time"] == T0.isoformat() for o in objs)


def test_history_file_is_private(history: History) -> None:
    history.append("/w", [_change("a")], T0)
    assert stat.S_IMODE(history.path.stat().st_mode) == 0o600


def test_limit_gives_the_newest_oldest_first(history: History) -> None:
    for i in range(5):
        history.append("/w", [_change(f"f{i}")], T0 + timedelta(seconds=i))
    assert [e.path for e in history.read(2)] == ["f3", "f4"]
    assert [e.path for e in history.read(5)] == [f"f{i}" for i in range(5)]
    assert [e.path for e in history.read(99)] == [f"f{i}" for i in range(5)]
    assert [e.path for e in history.read()] == [f"f{i}" for i in range(5)]


def test_limit_zero_gives_nothing(history: History) -> None:
    history.append("/w", [_change("a"), _change("b")], T0)
    assert history.read(0) == []


def _fill(history: History, count: int) -> None:
    for i in range(count):
        history.append("/w", [_change(f"f{i:03d}")], T0 + timedelta(seconds=i))


def test_rotation_keeps_keep_files_and_drops_the_oldest(tmp_path: Path) -> None:
    history = History(tmp_path / "events.jsonl", max_bytes=2000, keep=2)
    _fill(history, 60)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert history.files() == [
        tmp_path / "events.jsonl.2",
        tmp_path / "events.jsonl.1",
        tmp_path / "events.jsonl",
    ]
    events = history.read()
    paths = [e.path for e in events]
    assert paths == sorted(paths)  # still in order across the files
    assert paths[-1] == "f059"
    assert "f000" not in paths  # the oldest were dropped with the third file
    for path in history.files():
        assert path.stat().st_size < 2000 + 1000  # rotated once past the cap, by one append


def test_rotated_files_are_read_back_in_order(tmp_path: Path) -> None:
    history = History(tmp_path / "events.jsonl", max_bytes=1500, keep=10)
    _fill(history, 20)
    assert len(history.files()) > 2
    assert [e.path for e in history.read()] == [f"f{i:03d}" for i in range(20)]
    assert [e.path for e in history.read(12)] == [f"f{i:03d}" for i in range(8, 20)]


def test_no_rotation_below_the_cap(tmp_path: Path) -> None:
    history = History(tmp_path / "events.jsonl")
    _fill(history, 20)
    assert history.files() == [tmp_path / "events.jsonl"]


def test_damaged_lines_are_skipped_and_logged(
    history: History, caplog: pytest.LogCaptureFixture
) -> None:
    history.append("/w", [_change("a")], T0)
    with open(history.path, "ab") as out:
        out.write(b'{"id": "x", "time": "2026-01-0\n')  # cut short by a crash
        out.write(b'{"id": "y"}\n')  # valid JSON, not an event
        out.write(
            b'{"id": "z", "time": "not a time", "folder": "/w", "path": "p", "change": "added"}\n'
        )
        out.write(b"\xff\xfe\x00garbage\n")
        out.write(b"[1, 2]\n")
        out.write(b"\n")
    history.append("/w", [_change("b")], T0)
    with caplog.at_level(logging.WARNING, logger="fim_tray.store.history"):
        events = history.read()
    assert [e.path for e in events] == ["a", "b"]
    assert sum("damaged line" in r.getMessage() for r in caplog.records) == 5


def test_unwritable_history_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_bytes(b"a file where the folder should be")
    history = History(tmp_path / "data" / "events.jsonl")
    with pytest.raises(StorageError, match="history"):
        history.append("/w", [_change("a")], T0)


def test_entry_json_values() -> None:
    obj = entry_json(AFTER)
    assert obj is not None
    assert obj["mode"] == "0600"
    assert obj["type"] == "file"
    assert datetime.fromisoformat(str(obj["mtime"])).timestamp() == 1_700_000_001
    assert "target" not in obj and "error" not in obj
    assert entry_json(None) is None


def test_entry_json_of_a_link_and_an_unreadable_file() -> None:
    link = Entry("symlink", 3, 0, 0, 1, 0o777, 0, 0, target="a.txt")
    locked = Entry("file", 3, 0, 0, 1, 0o000, 0, 0, error="permission denied")
    assert (entry_json(link) or {})["target"] == "a.txt"
    assert (entry_json(locked) or {})["error"] == "permission denied"
    assert "digest" not in (entry_json(locked) or {})


def test_change_json_keys() -> None:
    obj = change_json(_change("x"), "/w", T0)
    assert list(obj) == [
        "time",
        "folder",
        "path",
        "change",
        "suspicious",
        "fields",
        "before",
        "after",
    ]
    assert obj["fields"] == ["mode", "size"]
