"""ECS events shaped as Auditbeat's file_integrity events, and the text for people."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone

from fim_tray import jsonio
from fim_tray.alerts.digest import HourlyLimit, fold, local_time, notice
from fim_tray.alerts.ecs import Chain, Origin, ecs_event
from fim_tray.app.alerting import change_words
from fim_tray.models import Event, Writer

WHEN = datetime(2026, 12, 7, 10, 31, 2, tzinfo=timezone(timedelta(hours=1)))
ORIGIN = Origin("laptop-7", "9.9")
STATE = {"type": "file", "size": 5, "mtime": WHEN.isoformat(), "mode": "0644",
         "uid": os.getuid(), "gid": os.getgid(), "digest": "ab" * 32, "ino": 42}  # fmt: skip


def event(change: str, **extra: object) -> Event:
    before = None if change == "added" else {**STATE, "size": 3}
    after = None if change == "removed" else STATE
    fields: dict[str, object] = {"before": before, "after": after}
    fields.update(extra)
    return Event(id="e1", time=WHEN, folder="/home/ann/Documents", path="sub/a.txt",
                 change=change, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_a_digest_goes_under_auditbeats_name_for_its_algorithm() -> None:
    from fim_tray.scan.hashing import ALGORITHMS, new_hash

    names = {"sha256": "sha256", "blake2b": "blake2b_512"}
    assert set(ALGORITHMS) <= set(names)  # a new algorithm: say here which field it gets
    for algorithm, field in names.items():
        made = new_hash(algorithm)
        made.update(b"x")
        digest = made.hexdigest()
        obj = ecs_event(event("modified", after={**STATE, "digest": digest}), ORIGIN)
        assert obj["file"]["hash"] == {field: digest}, algorithm
    odd = ecs_event(event("modified", after={**STATE, "digest": "ab" * 10}), ORIGIN)
    assert odd["file"]["hash"] == {"fim_tray": "ab" * 10}  # no algorithm makes these


def test_each_kind_of_change_has_auditbeats_action_and_type() -> None:
    expected = {
        "added": ("created", ["creation"]), "removed": ("deleted", ["deletion"]),
        "modified": ("updated", ["change"]), "metadata": ("attributes_modified", ["change"]),
    }  # fmt: skip
    for change, (action, kind) in expected.items():
        obj = ecs_event(event(change), ORIGIN)
        assert obj["event"]["action"] == action
        assert obj["event"]["type"] == kind
        assert obj["event"]["module"] == "file_integrity"
        assert obj["event"]["kind"] == "event"
        assert obj["event"]["category"] == ["file"]


def test_the_file_fields_are_ecs_and_the_rest_is_fim_trays() -> None:
    obj = ecs_event(event("modified", fields=("content",), suspicious=True), ORIGIN,
                    chain=Chain(7, "c0ffee"), process=Writer("vim", 99))  # fmt: skip
    assert obj["@timestamp"] == "2026-12-07T09:31:02.000Z"
    file = obj["file"]
    assert file["path"] == "/home/ann/Documents/sub/a.txt"
    assert file["name"] == "a.txt" and file["extension"] == "txt"
    assert (file["type"], file["size"], file["mode"]) == ("file", 5, "0644")
    assert file["uid"] == str(os.getuid()) and file["gid"] == str(os.getgid())
    assert file["inode"] == "42"
    assert file["hash"] == {"sha256": "ab" * 32}
    assert "owner" in file
    assert obj["host"]["name"] == "laptop-7"
    assert obj["agent"] == {"name": "fim-tray", "type": "fim-tray", "version": "9.9"}
    mine = obj["fim_tray"]
    assert mine["folder"] == "/home/ann/Documents" and mine["path"] == "sub/a.txt"
    assert mine["suspicious"] is True and mine["fields"] == ["content"]
    assert mine["before"]["size"] == 3
    assert mine["history"] == {"line": 7, "chain": "c0ffee"}
    assert mine["process"] == {"name": "vim", "pid": 99, "hint": True}


def test_a_removed_file_is_described_as_it_was() -> None:
    obj = ecs_event(event("removed"), ORIGIN)
    assert obj["file"]["size"] == 3
    assert "before" not in obj["fim_tray"]


def test_a_burst_is_one_message_with_the_first_names_and_the_local_time() -> None:
    events = [event("added")._replace(path=f"f{i}.txt") for i in range(40)]
    message = notice(events, "laptop-7")
    assert message["title"] == "fim-tray: 40 files changed in Documents"
    body = message["body"]
    assert local_time(WHEN) in body
    assert "f0.txt" in body and "f3.txt" in body and "f4.txt" not in body
    assert body.endswith("and 36 more")
    assert "laptop-7" in body


def test_what_the_hourly_limit_holds_back_is_folded_into_one_digest() -> None:
    limit = HourlyLimit(2)
    assert limit.room(0.0) == 2
    limit.spend(0.0)
    limit.spend(1.0)
    assert limit.room(10.0) == 0
    assert limit.room(3600.5) == 1
    digest = fold([{"title": "t1", "body": "b1"}, {"title": "t2", "body": "b2"}])
    assert digest["title"] == "fim-tray: 2 alerts (digest)"
    assert "t1\nb1" in digest["body"] and "t2\nb2" in digest["body"]


def test_a_name_that_is_not_utf8_is_readable_and_kept_whole() -> None:
    raw = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    obj = ecs_event(event("added")._replace(path=raw), ORIGIN)
    data = jsonio.dumps(obj)  # valid JSON, valid UTF-8
    assert obj["file"]["name"] == "caf\\xe9.txt"
    assert base64.b64decode(obj["fim_tray"]["path_b64"]) == b"caf\xe9.txt"
    assert b"caf" in data
    message = notice([event("added")._replace(path=raw)], "h")
    jsonio.dumps(message)


def test_a_message_words_what_changed_as_the_desktop_notification_does() -> None:
    from fim_tray.display import notice_detail
    from fim_tray.models import Change, Entry
    from fim_tray.store.history import entry_json, event_change

    then = int(WHEN.timestamp()) * 10**9
    was = Entry("file", 3, then, then, 42, 0o644, os.getuid(), os.getgid(), "ab" * 32)
    grown = was._replace(size=5, mtime_ns=then + 10**9, digest="cd" * 32)
    changes = [
        Change("metadata", "m.txt", was, was._replace(mode=0o600), ("mode",)),
        Change("modified", "f1.txt", was, grown, ("size", "mtime_ns")),
        Change("modified", "s.txt", was, was._replace(digest="cd" * 32), (), True),
        Change("metadata", "t.txt", was, was._replace(mtime_ns=then + 10**9), ("mtime_ns",)),
    ]
    events = [
        event(c.kind)._replace(path=c.path, fields=c.fields, suspicious=c.suspicious,
                               before=entry_json(c.before), after=entry_json(c.after))
        for c in changes
    ]  # fmt: skip
    lines = notice(events, "h", change_words)["body"].splitlines()[1:]
    assert lines[0] == "metadata: m.txt (mode 0644 -> 0600)"
    assert lines[1] == "modified: f1.txt"  # content speaks for itself, as on the desktop
    assert "SUSPICIOUS" in lines[2] and lines[3].startswith("metadata: t.txt (mtime ")
    for change, line, ev in zip(changes, lines, events, strict=True):
        assert event_change(ev) is not None
        detail = notice_detail(change)
        assert line == f"{change.kind}: {change.path}" + (f" ({detail})" if detail else "")
    assert "mtime_ns" not in "\n".join(lines)


def test_the_algorithms_ecs_names_are_those_fim_tray_hashes_with() -> None:
    from fim_tray.alerts.ecs import MADE
    from fim_tray.scan.hashing import ALGORITHMS

    assert set(MADE) == set(ALGORITHMS)
