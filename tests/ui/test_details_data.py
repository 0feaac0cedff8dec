"""Unit tests of the details window's data (fim_tray.ui.details): items, cell values, answers.

No Tk here: only what the window shows and what it answers the tray.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fim_tray import jsonio
from fim_tray.app.service import Service
from fim_tray.models import Change, Entry
from fim_tray.store.history import History, change_json
from fim_tray.ui.actions import watched_folder
from fim_tray.ui.cells import value, warning
from fim_tray.ui.wire import answer, items_from_changes, items_from_events

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone(timedelta(hours=1)))
DIGEST = "0123456789abcdef" * 4
BEFORE = Entry("file", 1234567, 1_700_000_000_123_456_789, 1, 42, 0o644, 0, 0, DIGEST)
AFTER = Entry("file", 7, 1_700_000_100_987_654_321, 2, 42, 0o600, 0, 0, "f" * 64)
CHANGES = (
    Change("modified", "docs/a.txt", BEFORE, AFTER, ("content", "size", "mode")),
    Change("added", "new.txt", None, AFTER),
    Change("removed", "old.txt", BEFORE, None),
    Change("modified", "same.txt", BEFORE, AFTER, ("content",), suspicious=True),
)


@pytest.fixture
def india() -> Iterator[None]:
    """Local time is UTC+05:30 (a POSIX TZ rule: no time zone database needed)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


# -- items ----------------------------------------------------------------------------------------


def test_items_from_changes_are_change_json_plus_signature() -> None:
    items = items_from_changes("/home/me/Documents", CHANGES, WHEN)
    assert len(items) == len(CHANGES)
    for item, change in zip(items, CHANGES, strict=True):
        assert item == {
            **change_json(change, "/home/me/Documents", WHEN),
            "signature": change.signature(),
        }
        assert item["folder"] == "/home/me/Documents"
        assert item["path"] == change.path
        assert item["change"] == change.kind
        assert item["time"] == WHEN.isoformat()
    assert items[0]["fields"] == ["content", "size", "mode"]
    assert items[1]["before"] is None and items[1]["after"]["size"] == 7
    assert items[2]["after"] is None
    assert items[3]["suspicious"] is True
    assert len({i["signature"] for i in items}) == len(items)
    assert json.loads(jsonio.dumps({"items": items})) == {"items": items}  # the temp file


def test_items_from_changes_with_a_name_that_is_not_utf8() -> None:
    name = os.fsdecode(b"caf\xe9.txt")
    (item,) = items_from_changes("/data", [Change("added", name, None, AFTER)], WHEN)
    assert "path" not in item and item["path_b64"] == "Y2Fm6S50eHQ="
    assert item["signature"] == Change("added", name, None, AFTER).signature()
    jsonio.dumps(item)  # and it serialises


def _chained(tmp_path: Path) -> History:
    return History(tmp_path / "events.jsonl", key=lambda: bytes(32), head=tmp_path / "head")


def test_items_from_events_read_back_from_the_history(tmp_path: Path) -> None:
    history = _chained(tmp_path)
    history.append("/home/me/Documents", CHANGES, WHEN)
    events = history.read()
    items = items_from_events(events)
    expected = items_from_changes("/home/me/Documents", CHANGES, WHEN)
    assert len(items) == len(CHANGES)
    for item, want, event in zip(items, expected, events, strict=True):
        assert item["signature"] == want["signature"] == event.signature
        assert item["folder"] == "/home/me/Documents"
        for key in ("time", "path", "change", "suspicious", "fields", "before", "after"):
            assert item[key] == want[key], key


def test_an_edited_line_is_shown_marked_and_cannot_be_accepted(tmp_path: Path) -> None:
    history = _chained(tmp_path)
    history.append("/f", CHANGES[:2], WHEN)
    lines = history.path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"modified"', b'"metadata"')  # the MAC no longer holds
    history.path.write_bytes(b"".join(lines))
    edited, intact = items_from_events(history.read())
    assert edited["verified"] is False and edited["signature"] is None
    assert intact["verified"] is True and intact["signature"] == CHANGES[1].signature()
    out = io.StringIO()
    answer("accept", [edited, intact], out)
    assert [i["path"] for i in json.loads(out.getvalue())["items"]] == [CHANGES[1].path]


def test_items_from_events_of_an_old_line_without_signature(tmp_path: Path) -> None:
    history = _chained(tmp_path)
    history.append("/f", CHANGES[:1], WHEN)
    line = json.loads(history.path.read_text())
    del line["signature"]
    history.path.write_text(json.dumps(line) + "\n")
    (item,) = items_from_events(history.read())
    assert item["signature"] is None
    out = io.StringIO()
    answer("accept", [item], out)
    assert json.loads(out.getvalue()) == {"action": "accept", "items": []}


# -- cell values ----------------------------------------------------------------------------------


def _side(change: Change, side: str) -> dict[str, Any] | None:
    item = items_from_changes("/f", [change], WHEN)[0]
    obj = item[side]
    assert obj is None or isinstance(obj, dict)
    return obj


def test_value_of_a_missing_side_is_a_dash() -> None:
    for key in ("type", "size", "digest", "mode", "uid", "gid", "mtime", "target", "error"):
        assert value(None, key) == "-"


def test_value_of_a_key_that_does_not_apply_is_empty() -> None:
    after = _side(CHANGES[1], "after")
    assert value(after, "target") == ""
    assert value(after, "error") == ""


def test_value_size_has_thousands_separators() -> None:
    assert value(_side(CHANGES[0], "before"), "size") == "1,234,567 bytes"
    assert value(_side(CHANGES[0], "after"), "size") == "7 bytes"
    assert value({"size": 0}, "size") == "0 bytes"


def test_value_mode_is_four_octal_digits() -> None:
    assert value(_side(CHANGES[0], "before"), "mode") == "0644"
    assert value(_side(CHANGES[0], "after"), "mode") == "0600"
    assert value({"mode": f"{0o4755:04o}"}, "mode") == "4755"


def test_value_owner_and_group_names() -> None:
    before = _side(CHANGES[0], "before")
    assert value(before, "uid") == "root (0)"
    assert value(before, "gid") == "root (0)"


def test_value_owner_without_a_name_is_the_number() -> None:
    unknown = next(uid for uid in range(424242, 424342) if not _has_user(uid))
    assert value({"uid": unknown}, "uid") == str(unknown)
    assert value({"uid": "junk"}, "uid") == "junk"


def _has_user(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def test_value_mtime_is_local_time_with_milliseconds(india: None) -> None:
    assert value({"mtime": "2024-01-02T03:04:05.678901+00:00"}, "mtime") == (
        "2024-01-02 08:34:05.678"
    )
    # as the history writes it: the local offset of the machine that wrote it
    before = _side(CHANGES[0], "before")
    expected = datetime.fromtimestamp(BEFORE.mtime_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S.%f")
    assert value(before, "mtime") == expected[:-3]
    assert value({"mtime": "yesterday"}, "mtime") == "yesterday"


def test_value_digest_is_split_on_two_lines() -> None:
    text = value(_side(CHANGES[0], "before"), "digest")
    assert text.split("\n") == [DIGEST[:32], DIGEST[32:]]
    assert value({"digest": "abc"}, "digest") == "abc"


def test_value_escapes_control_characters() -> None:
    shown = value({"target": "evil\nline\x1b[2J"}, "target")
    assert "\n" not in shown and "\x1b" not in shown
    assert value({"type": "file"}, "type") == "file"


# -- answers --------------------------------------------------------------------------------------


def test_answer_writes_one_line_with_folder_path_and_signature_only() -> None:
    items = items_from_changes("/home/me/Documents", CHANGES[:2], WHEN)
    items.append({"folder": "/x", "path": "no-signature.txt"})
    items.append({"folder": "/x", "path": "empty.txt", "signature": ""})
    out = io.StringIO()
    answer("accept", items, out)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert json.loads(text) == {
        "action": "accept",
        "items": [
            {
                "folder": "/home/me/Documents",
                "path": CHANGES[0].path,
                "signature": CHANGES[0].signature(),
            },
            {
                "folder": "/home/me/Documents",
                "path": CHANGES[1].path,
                "signature": CHANGES[1].signature(),
            },
        ],
    }


def test_answer_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    answer("accept", items_from_changes("/f", CHANGES[:1], WHEN))
    line = capsys.readouterr().out
    [item] = json.loads(line)["items"]
    assert item == {"folder": "/f", "path": CHANGES[0].path, "signature": CHANGES[0].signature()}


# -- what a window may act on --------------------------------------------------------------------


def test_only_a_watched_folder_may_be_opened(service: Service, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    service.watch(str(watched))
    assert watched_folder(service, {"folder": str(watched)}) == str(watched)
    for forged in ("https://example.org/", str(tmp_path), "/", ""):
        assert watched_folder(service, {"folder": forged}) is None


def test_a_suspicious_metadata_change_is_explained_as_more_privileges() -> None:
    assert "more privileges" in warning({"suspicious": True, "change": "metadata"})
    assert "timestamp back" in warning({"suspicious": True, "change": "modified"})
    assert warning({"suspicious": False, "change": "metadata"}) == ""
