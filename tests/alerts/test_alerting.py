"""The delivery of alerts, with a sender that records: each new change once, people's messages
within the hourly limit (the rest in one digest), and a failing channel retried in order while
the others go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fim_tray.alerts.channels import DeliveryError
from fim_tray.alerts.urls import Channel
from fim_tray.app.alerting import Alerting
from fim_tray.models import Change, Entry, Folder, FolderReport
from fim_tray.store.paths import Paths
from tests.alerts.servers import wait_for

ENTRY = Entry("file", 3, 0, 0, 7, 0o644, 0, 0, "ab" * 32)


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

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for k, m in self.got if k == kind]


def report(*names: str) -> FolderReport:
    changes = tuple(Change("added", n, None, ENTRY) for n in names)
    when = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    return FolderReport(Folder("/w", "id"), when, changes=changes, new=changes)


def alerting(tmp_path: Path, recorder: Recorder, **options: Any) -> Alerting:
    paths = Paths(tmp_path / "data", tmp_path / "config")
    alerts = Alerting(paths, sender=recorder, retry=(0.05, 0.2), host="h", **options)
    alerts.add("syslog+tcp://127.0.0.1:1514")
    alerts.add("jsonl:///tmp/never-written.jsonl")
    return alerts


def test_each_new_change_goes_once_to_each_channel(tmp_path: Path) -> None:
    recorder = Recorder()
    alerts = alerting(tmp_path, recorder)
    alerts.start()
    try:
        alerts.on_report(report("a", "b"))
        alerts.on_report(report())  # nothing new: nothing sent
        assert wait_for(lambda: len(recorder.of("syslog")) == 2 and len(recorder.of("jsonl")) == 2)
        time.sleep(0.3)
        assert [m["event"]["fim_tray"]["path"] for m in recorder.of("syslog")] == ["a", "b"]
        assert len(recorder.of("jsonl")) == 2
        assert all(s.waiting == 0 and s.last_sent is not None for s in alerts.states())
    finally:
        alerts.close()


def test_a_failing_channel_keeps_its_messages_in_order_and_holds_up_no_other(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    recorder.down.add("syslog")
    alerts = alerting(tmp_path, recorder)
    alerts.start()
    try:
        alerts.on_report(report("a"))
        alerts.on_report(report("b"))
        assert wait_for(lambda: len(recorder.of("jsonl")) == 2)
        assert wait_for(lambda: any(s.reason for s in alerts.states()))
        state = next(s for s in alerts.states() if s.channel.kind == "syslog")
        assert state.waiting == 2 and state.failing_since is not None
        assert state.reason == "connection refused"
        recorder.down.clear()
        assert wait_for(lambda: len(recorder.of("syslog")) == 2)
        assert [m["event"]["fim_tray"]["path"] for m in recorder.of("syslog")] == ["a", "b"]
    finally:
        alerts.close()


def test_people_get_at_most_the_hourly_limit_and_then_one_digest(tmp_path: Path) -> None:
    recorder = Recorder()
    paths = Paths(tmp_path / "data", tmp_path / "config")
    now = [0.0]
    alerts = Alerting(paths, sender=recorder, host="h", per_hour=3, clock=lambda: now[0])
    from fim_tray.alerts import channels

    channels.save(paths.alerts_file, [Channel("json://127.0.0.1:9/hook", "people")])
    for index in range(6):  # queued while nothing sends
        alerts.on_report(report(f"f{index}"))
    alerts.close()
    alerts = Alerting(paths, sender=recorder, host="h", per_hour=3, clock=lambda: now[0])
    alerts.start()
    try:
        assert wait_for(lambda: len(recorder.of("people")) == 3)
        time.sleep(0.3)
        sent = recorder.of("people")
        assert len(sent) == 3
        assert "f0" in sent[0]["title"] and "f1" in sent[1]["title"]
        assert sent[2]["title"] == "fim-tray: 4 alerts (digest)"
        assert all(f"f{i}" in sent[2]["body"] for i in range(2, 6))
    finally:
        alerts.close()


def test_a_removed_channel_stops_its_sender_and_forgets_its_queue(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.down.add("syslog")
    alerts = alerting(tmp_path, recorder)
    alerts.start()
    try:
        alerts.on_report(report("a"))
        assert wait_for(lambda: any(s.reason for s in alerts.states()))
        before = {t.name for t in threading.enumerate()}
        removed = alerts.remove("syslog+tcp://127.0.0.1:1514")
        alerts.refresh()
        name = f"fim-tray-alerts-{removed.id}"
        assert name in before
        assert wait_for(lambda: name not in {t.name for t in threading.enumerate()}, 5)
        assert [s.channel.kind for s in alerts.states()] == ["jsonl"]
        assert not (tmp_path / "data" / "outbox" / f"{removed.id}.jsonl").exists()
    finally:
        alerts.close()


def test_a_full_outbox_is_said_and_the_count_outlives_a_restart(tmp_path: Path) -> None:
    recorder = Recorder()
    alerts = alerting(tmp_path, recorder)
    alerts.outbox.limit = 2
    alerts.on_report(report("a", "b", "c"))  # not started: everything waits; one does not fit
    syslog = next(s for s in alerts.states() if s.channel.kind == "syslog")
    assert (syslog.waiting, syslog.dropped) == (2, 1)
    again = Alerting(Paths(tmp_path / "data", tmp_path / "config"), sender=recorder, host="h")
    syslog = next(s for s in again.states() if s.channel.kind == "syslog")
    assert (syslog.waiting, syslog.dropped) == (2, 1)


def test_a_channel_removed_by_another_process_stops_being_sent_to(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.down.add("syslog")
    alerts = alerting(tmp_path, recorder)
    alerts.start()
    try:
        alerts.on_report(report("a"))
        assert wait_for(lambda: any(s.reason for s in alerts.states()))
        other = Alerting(Paths(tmp_path / "data", tmp_path / "config"), sender=recorder)
        removed = other.remove("syslog+tcp://127.0.0.1:1514")  # as `fim-tray alert remove`
        name = f"fim-tray-alerts-{removed.id}"
        assert wait_for(lambda: name not in {t.name for t in threading.enumerate()}, 5)
        recorder.down.clear()
        time.sleep(0.5)
        assert recorder.of("syslog") == []
    finally:
        alerts.close()
