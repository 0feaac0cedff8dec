"""Alerts follow the history: a change any process recorded (a one-shot check while no tray or
monitor ran) reaches every channel once, in order; a forged or replayed history line is never
sent; a crash between two channels' queues fills the other later, once; the hourly limit and
what it holds back outlive a restart."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fim_tray.alerts.channels import DeliveryError
from fim_tray.alerts.urls import Channel
from fim_tray.app import alert_feed
from fim_tray.app.alerting import Alerting
from fim_tray.app.service import Service
from tests.alerts.servers import wait_for
from tests.helpers import cli


class Recorder:
    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, channel: Channel, messages: Sequence[dict[str, Any]], **_: Any) -> None:
        if channel.kind in self.down:
            raise DeliveryError("connection refused")
        with self.lock:
            self.got.extend((channel.kind, m) for m in messages)

    def paths(self, kind: str = "jsonl") -> list[str]:
        with self.lock:
            return [m["event"]["fim_tray"]["path"] for k, m in self.got if k == kind]

    def people(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for k, m in self.got if k == "people"]


def watching(service: Service, tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep\n")
    service.watch(str(folder))
    return folder


def alerting(service: Service, recorder: Recorder, **options: Any) -> Alerting:
    return Alerting(service.paths, history=service.store.history, sender=recorder,
                    retry=(0.05, 0.2), host="h", **options)  # fmt: skip


def channels(alerts: Alerting, tmp_path: Path) -> None:
    alerts.add(f"jsonl://{tmp_path / 'siem.jsonl'}")
    alerts.add("syslog+tcp://127.0.0.1:1514")


def test_changes_a_check_recorded_while_nothing_sent_go_out_once_in_order(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "a.txt").write_text("a")
    service.check()  # a one-shot check: recorded in the history, announced, nothing sent
    (folder / "b.txt").write_text("b")
    (folder / "keep.txt").write_text("changed\n")
    service.check()
    service.check()  # nothing new: nothing more
    alerts = alerting(service, recorder)
    assert alerts.deliver(10)
    assert recorder.paths("jsonl") == ["a.txt", "b.txt", "keep.txt"]
    assert recorder.paths("syslog") == ["a.txt", "b.txt", "keep.txt"]
    # each names its history line, in the chain's order
    lines = [m["event"]["fim_tray"]["history"]["line"] for k, m in recorder.got if k == "jsonl"]
    assert lines == sorted(lines) and len(set(lines)) == 3
    for kind, message in recorder.got:  # what Auditbeat's events carry, from the history too
        assert {"inode", "ctime", "mtime", "owner"} <= set(message["event"]["file"]), kind
    # a watcher started afterwards, and a second sender, send none of them again
    again = alerting(service, recorder)
    assert again.deliver(2)
    for report in service.check():  # the monitor's first look: the pending changes again
        again.on_report(report._replace(new=report.changes))
    again.close()
    assert recorder.paths("jsonl") == ["a.txt", "b.txt", "keep.txt"]


def test_changes_from_before_the_first_channel_are_not_sent(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    (folder / "old.txt").write_text("old")
    service.check()
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "new.txt").write_text("new")
    service.check()
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths() == ["new.txt"]


def test_a_forged_or_replayed_history_line_is_never_sent(service: Service, tmp_path: Path) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "real.txt").write_text("real")
    service.check()
    assert alerting(service, recorder).deliver(10)
    history = service.store.history.path
    lines = history.read_bytes().splitlines(keepends=True)
    real = lines[-1]
    forged = real.replace(b"real.txt", b"fake.txt")  # its MAC no longer holds
    forged_high = forged.replace(b',"n":1,', b',"n":99,')
    (folder / "later.txt").write_text("later")
    service.check()  # a real line after the cursor, then a replay and two forgeries after it
    lines = history.read_bytes().splitlines(keepends=True)
    history.write_bytes(b"".join([*lines, real, forged, forged_high]))
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths() == ["real.txt", "later.txt"]


def test_a_crash_between_two_channels_queues_fills_the_other_later_once(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    setup = alerting(service, recorder)
    channels(setup, tmp_path)
    jsonl, syslog = setup.channels()
    (folder / "a.txt").write_text("a")
    service.check()
    crashed = alerting(service, recorder)
    real_put = crashed.outbox.put

    def put_then_die(channel: str, *args: Any) -> int:
        if channel == syslog.id:
            raise KeyboardInterrupt  # killed between the first channel's queue and the next
        return real_put(channel, *args)

    crashed.outbox.put = put_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(KeyboardInterrupt):
        crashed.feed()
    crashed.close()
    assert crashed.cursor.load() is not None  # the cursor was placed, not moved past "a"
    assert crashed.outbox.waiting(jsonl.id) == 1
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths("jsonl") == ["a.txt"]
    assert recorder.paths("syslog") == ["a.txt"]


def test_one_sender_at_a_time(service: Service, tmp_path: Path) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    tray = alerting(service, recorder)
    tray.start()  # the tray, or a monitor
    try:
        assert not alerting(service, recorder).deliver(1)  # what a check starts leaves it be
        (folder / "a.txt").write_text("a")
        service.check()  # another process's check: the tray follows the history
        assert wait_for(lambda: recorder.paths() == ["a.txt"], 15)
    finally:
        tray.close()
    assert alerting(service, recorder).deliver(2)  # the lock is free once the tray is gone
    assert recorder.paths() == ["a.txt"]


def test_the_hourly_limit_and_what_it_holds_outlive_a_restart(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    setup = alerting(service, recorder, per_hour=2)
    setup.add("json://127.0.0.1:9/hook")
    for index in range(2):
        (folder / f"f{index}.txt").write_text("x")
        service.check()
        assert alerting(service, recorder, per_hour=2).deliver(10)
    assert len(recorder.people()) == 2
    (folder / "f2.txt").write_text("x")
    service.check()
    later = alerting(service, recorder, per_hour=2)
    assert later.deliver(3)  # a new process: the two sent this hour still count
    assert len(recorder.people()) == 2
    (state,) = later.states()
    assert state.held and state.waiting == 1
    until = later.held_until(state)
    assert until is not None
    # an hour on, it goes
    hour_on = alerting(service, recorder, per_hour=2, clock=lambda: until.timestamp() + 1)
    assert hour_on.deliver(10)
    assert len(recorder.people()) == 3 and "f2.txt" in recorder.people()[-1]["title"]


def test_a_change_the_history_could_not_hold_is_sent_and_an_old_one_is_not_sent_again(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "old.txt").write_text("old")
    (old,) = service.check()
    for index in range(80):  # more lines since than a sender reads back to place a change
        (folder / f"n{index}.txt").write_text("n")
        service.check()
    alerts = alerting(service, recorder)
    alerts.on_report(old._replace(new=old.changes))  # a watcher announcing it again
    (folder / "full.txt").write_text("full")
    (unrecorded,) = service.check()
    full = [c for c in unrecorded.new if c.path == "full.txt"]
    history = service.store.history.path
    history.write_bytes(b"".join(history.read_bytes().splitlines(keepends=True)[:-1]))
    alerts.on_report(unrecorded._replace(new=tuple(full), warning="the disk is full"))
    alerts.start()
    try:
        assert wait_for(lambda: "full.txt" in recorder.paths(), 10)
    finally:
        alerts.close()
    sent = recorder.paths()
    assert sent.count("old.txt") == 1 and sent.count("full.txt") == 1


def test_a_process_that_takes_over_sending_reads_the_queues_as_the_last_sender_left_them(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "a.txt").write_text("a")
    service.check()
    recorder.down.add("jsonl")
    assert alerting(service, recorder).deliver(0.5)  # syslog took it; the file channel did not
    tray = alerting(service, recorder)  # a tray that sees the other sender's queues meanwhile
    assert [s.waiting for s in tray.states()] == [1, 0]
    recorder.down.clear()
    assert alerting(service, recorder).deliver(10)  # the next check's sender delivers it
    tray.start()  # now the tray sends: nothing is left to send again
    try:
        time.sleep(1)
    finally:
        tray.close()
    assert recorder.paths("jsonl") == ["a.txt"] and recorder.paths("syslog") == ["a.txt"]


def test_a_message_written_into_a_queue_by_anyone_else_is_never_sent(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    recorder.down.update({"jsonl", "syslog"})
    (folder / "real.txt").write_text("real")
    service.check()
    assert alerting(service, recorder).deliver(0.3)  # queued, not delivered
    outbox = service.paths.outbox_dir
    forged = {"event": {"message": "FORGED", "fim_tray": {"path": "FORGED"}}, "time": "x"}
    for queue in outbox.glob("*.jsonl"):
        line = json.loads(queue.read_text().splitlines()[-1])
        copy = {**line, "seq": line["seq"] + 1, "msg": forged}  # its MAC no longer holds
        bare = {"seq": line["seq"] + 2, "msg": forged}  # no MAC at all
        with queue.open("a") as out:
            out.write(json.dumps(copy) + "\n" + json.dumps(bare) + "\n")
    recorder.down.clear()
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths("jsonl") == ["real.txt"] and recorder.paths("syslog") == ["real.txt"]


def test_a_history_begun_again_is_followed_and_one_put_back_sends_nothing_twice(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    history, head = service.store.history.path, service.paths.history_head
    for index in range(4):
        (folder / f"old{index}.txt").write_text("x")
        service.check()
    assert alerting(service, recorder).deliver(10)
    kept_history, kept_head = history.read_bytes(), head.read_bytes()
    (folder / "more.txt").write_text("x")
    service.check()
    assert alerting(service, recorder).deliver(10)
    # An older copy put back: what it holds went out already; what comes after it goes out.
    history.write_bytes(kept_history)
    head.write_bytes(kept_head)
    (folder / "after-rollback.txt").write_text("x")
    service.check()
    assert alerting(service, recorder).deliver(10)
    # The history started afresh (both files gone): its first lines go out.
    history.unlink()
    head.unlink()
    (folder / "fresh.txt").write_text("x")
    service.check()
    assert alerting(service, recorder).deliver(10)
    sent = recorder.paths()
    assert sent == ["old0.txt", "old1.txt", "old2.txt", "old3.txt", "more.txt",
                    "after-rollback.txt", "fresh.txt"]  # fmt: skip


@pytest.mark.parametrize("planted", ["folder", "fifo", "link", "garbage", "huge"])
def test_a_cursor_or_lock_planted_in_the_outbox_loses_nothing(
    service: Service, tmp_path: Path, planted: str
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "a.txt").write_text("a")
    service.check()
    assert alerting(service, recorder).deliver(10)
    outbox = service.paths.outbox_dir
    for name in ("history.cursor", "sender.lock"):
        path = outbox / name
        path.unlink(missing_ok=True)
        if planted == "folder":
            (path / "inside").mkdir(parents=True)
        elif planted == "fifo":
            os.mkfifo(path)
        elif planted == "link":
            path.symlink_to(tmp_path / "elsewhere")
        elif planted == "garbage":
            path.write_bytes(b"\x00not json")
        else:
            path.write_text('{"line": 99999999999999999999}')
    (folder / "b.txt").write_text("b")
    service.check()
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths() == ["a.txt", "b.txt"]
    assert not (tmp_path / "elsewhere").exists()


def test_more_changes_at_once_than_a_queue_holds_are_counted_and_shown(
    service: Service, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_feed, "MOST", 2)
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text(name)
    service.check()
    alerts = alerting(service, recorder)
    assert alerts.deliver(10)
    assert recorder.paths() == ["b.txt", "c.txt"]
    assert [s.dropped for s in alerts.states()] == [1, 1]
    listed = cli("alert", "list", home=home)
    assert listed.out.count("1 dropped: its outbox was full") == 2, listed.out


def test_a_check_with_nothing_new_starts_a_sender_when_the_last_one_ended_before_queueing(
    service: Service, tmp_path: Path, home: Path
) -> None:
    folder = watching(service, tmp_path)
    siem = tmp_path / "siem.jsonl"
    Alerting(service.paths, history=service.store.history).add(f"jsonl://{siem}")
    (folder / "a.txt").write_text("a")
    service.check()  # recorded; its sender never ran (killed, or its machine stopped)
    again = cli("check", home=home)  # nothing new: the change is pending
    assert again.returncode == 1 and "Traceback" not in again.err
    assert wait_for(lambda: siem.exists() and "a.txt" in siem.read_text(), 30)
    assert wait_for(lambda: Alerting(service.paths).take(), 40)  # the sender ended
    quiet = cli("check", home=home)  # up to date now: no sender, nothing sent twice
    assert quiet.returncode == 1
    time.sleep(2)
    assert len(siem.read_text().splitlines()) == 1


def test_an_outbox_taken_away_loses_no_change(service: Service, tmp_path: Path) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    (folder / "a.txt").write_text("a")
    service.check()
    assert alerting(service, recorder).deliver(10)
    shutil.rmtree(service.paths.outbox_dir)
    (folder / "b.txt").write_text("b")
    service.check()
    assert alerting(service, recorder).deliver(10)
    assert "b.txt" in recorder.paths() and recorder.paths().count("b.txt") == 1


def test_an_older_history_head_and_cursor_put_back_do_not_silence_new_changes(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    history, head = service.store.history.path, service.paths.history_head
    cursor = service.paths.outbox_dir / "history.cursor"
    (folder / "old0.txt").write_text("x")
    service.check()
    assert alerting(service, recorder).deliver(10)
    kept = [(p, p.read_bytes()) for p in (history, head, cursor)]
    for index in (1, 2, 3):
        (folder / f"old{index}.txt").write_text("x")
        service.check()
    assert alerting(service, recorder).deliver(10)
    for path, data in kept:
        path.write_bytes(data)
    for index in (0, 1, 2):
        (folder / f"new{index}.txt").write_text("x")
        service.check()
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths() == ["old0.txt", "old1.txt", "old2.txt", "old3.txt",
                                "new0.txt", "new1.txt", "new2.txt"]  # fmt: skip


def test_a_queue_line_put_in_place_of_a_channels_cursor_skips_nothing(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    recorder.down.add("syslog")
    for name in ("t0.txt", "t1.txt", "t2.txt"):
        (folder / name).write_text("x")
        service.check()
    assert alerting(service, recorder).deliver(0.5)
    syslog = next(c for c in alerting(service, recorder).channels() if c.kind == "syslog")
    queue = service.paths.outbox_dir / f"{syslog.id}.jsonl"
    last = queue.read_bytes().splitlines()[-1]
    (service.paths.outbox_dir / f"{syslog.id}.sent").write_bytes(last)
    recorder.down.clear()
    assert alerting(service, recorder).deliver(10)
    assert recorder.paths("syslog") == ["t0.txt", "t1.txt", "t2.txt"]


def test_a_message_a_server_always_refuses_is_set_aside_and_the_rest_go(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    got: list[str] = []

    def picky(channel: Channel, messages: Sequence[dict[str, Any]], **_: Any) -> None:
        for message in messages:
            if "POISON" in message["body"]:
                raise DeliveryError("554 rejected: content")
            got.append(message["title"])

    alerts = Alerting(service.paths, history=service.store.history, sender=picky,
                      retry=(0.05, 0.1), host="h")  # fmt: skip
    alerts.add("json://127.0.0.1:9/hook")
    for name in ("POISON.txt", "after0.txt", "after1.txt"):
        (folder / name).write_text("x")
        service.check()
    assert alerts.deliver(10)
    assert ["after0.txt" in t for t in got] == [True, False] and "after1.txt" in got[1]
    (state,) = alerts.states()
    assert (state.set_aside, state.dropped, state.waiting) == (1, 0, 0)


def test_an_outage_of_a_channel_for_people_sets_nothing_aside(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    recorder.down.add("people")
    alerts = alerting(service, recorder)
    alerts.add("json://127.0.0.1:9/hook")
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_text("x")
        service.check()
    assert alerts.deliver(1.5)  # refused again and again: the channel is down
    recorder.down.clear()
    assert alerting(service, recorder).deliver(10)
    titles = [m["title"] for m in recorder.people()]
    assert [any(n in t for t in titles) for n in ("a.txt", "b.txt", "c.txt")] == [True] * 3


def test_what_a_checks_sender_noticed_is_shown_by_alert_list(
    service: Service, tmp_path: Path, home: Path
) -> None:
    folder = watching(service, tmp_path)
    siem = tmp_path / "siem.jsonl"
    Alerting(service.paths, history=service.store.history).add(f"jsonl://{siem}")
    outbox = service.paths.outbox_dir
    outbox.mkdir(parents=True, exist_ok=True)
    queue = next(iter([outbox / f"{c.id}.jsonl" for c in Alerting(service.paths).channels()]))
    queue.write_text(json.dumps({"seq": 1, "msg": {"event": {}, "time": "x"}}) + "\n")
    (folder / "a.txt").write_text("a")
    assert cli("check", home=home).returncode == 1
    assert wait_for(lambda: siem.exists() and "a.txt" in siem.read_text(), 30)
    assert wait_for(lambda: Alerting(service.paths).take(), 40)
    listed = cli("alert", "list", home=home)
    assert "the sender a check started at" in listed.err
    assert "that fim-tray did not write: not sent" in listed.err, listed.err


def test_a_change_found_while_the_history_is_unusable_is_sent_once(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    recorder = Recorder()
    channels(alerting(service, recorder), tmp_path)
    alerts = alerting(service, recorder)
    alerts.start()
    try:
        history = service.store.history.path
        history.unlink(missing_ok=True)
        history.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(history)  # planted: nothing can be recorded
        (folder / "a.txt").write_text("a")
        for _ in range(3):  # each check finds it anew, and says it could not record it
            (report,) = service.check()
            assert report.error is not None and report.new
            alerts.on_report(report)
        assert wait_for(lambda: recorder.paths() == ["a.txt"], 10)
        history.unlink()  # mended: the next check records it, and it is not sent again
        (report,) = service.check()
        assert report.error is None
        alerts.on_report(report)
        (folder / "b.txt").write_text("b")
        (report,) = service.check()
        alerts.on_report(report)
        assert wait_for(lambda: "b.txt" in recorder.paths(), 10)
        time.sleep(0.5)
        assert recorder.paths() == ["a.txt", "b.txt"]
    finally:
        alerts.close()


def test_a_server_back_while_a_message_is_retried_loses_none_of_them(
    service: Service, tmp_path: Path
) -> None:
    folder = watching(service, tmp_path)
    calls: list[str] = []

    def coming_back(channel: Channel, messages: Sequence[dict[str, Any]], **_: Any) -> None:
        calls.append(messages[0]["title"])
        if len(calls) <= 3:  # down for the first three tries, of the first message
            raise DeliveryError("timed out")

    alerts = Alerting(service.paths, history=service.store.history, sender=coming_back,
                      retry=(0.05, 0.1), host="h")  # fmt: skip
    alerts.add("json://127.0.0.1:9/hook")
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text("x")
        service.check()
    assert alerts.deliver(10)
    delivered = calls[3:]
    assert any("a.txt" in t for t in delivered) and any("b.txt" in t for t in delivered)
    (state,) = alerts.states()
    assert (state.set_aside, state.waiting) == (0, 0)
