"""The outbox keeps every message until its channel took it, in order, across restarts."""

from __future__ import annotations

from pathlib import Path

from fim_tray.alerts.outbox import Outbox


def test_messages_wait_in_order_and_go_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.put("a", [{"n": 1}, {"n": 2}])
    box.put("a", [{"n": 3}])
    box.put("b", [{"n": 9}])
    assert box.peek("a", 2) == [{"n": 1}, {"n": 2}]
    box.done("a", 2)
    assert box.peek("a", 10) == [{"n": 3}]
    # a restart: what was delivered stays delivered, what was not waits
    again = Outbox(tmp_path / "outbox")
    assert again.peek("a", 10) == [{"n": 3}]
    assert again.peek("b", 10) == [{"n": 9}]
    again.done("a", 1)
    again.put("a", [{"n": 4}])
    assert Outbox(tmp_path / "outbox").peek("a", 10) == [{"n": 4}]


def test_a_full_outbox_drops_new_messages_and_counts_them(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox", limit=3)
    assert box.put("a", [{"n": i} for i in range(5)]) == 2
    assert box.waiting("a") == 3
    assert box.dropped["a"] == 2
    assert [m["n"] for m in box.peek("a", 10)] == [0, 1, 2]


def test_its_files_are_private_and_a_removed_channel_leaves_none(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox")
    box.put("a", [{"n": 1}])
    queue = tmp_path / "outbox" / "a.jsonl"
    assert queue.stat().st_mode & 0o077 == 0
    assert (tmp_path / "outbox").stat().st_mode & 0o077 == 0
    box.forget("a")
    assert not queue.exists()
    assert box.waiting("a") == 0
