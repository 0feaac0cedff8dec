"""The History window's filters, pages, words and exports, without a window."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
from datetime import date, datetime
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.ui import history_data as data
from fim_tray.ui.wire import items_from_events


def _item(when: str, folder: str, path: str, change: str = "modified") -> dict[str, object]:
    return {"time": when, "folder": folder, "path": path, "change": change, "suspicious": False,
            "fields": ["content"], "verified": True}  # fmt: skip


ITEMS = [
    _item("2026-03-10T09:00:00", "/home/a/Documents", "tax.pdf"),
    _item("2026-03-05T12:00:00", "/home/a/Photos", "cat.jpg", "added"),
    _item("2026-02-01T08:00:00", "/home/a/Documents", "Notes/Old.txt", "removed"),
]


def test_each_filter_and_their_sum() -> None:
    assert data.select(ITEMS, data.Query()) == [0, 1, 2]
    assert data.select(ITEMS, data.Query(folder="/home/a/Documents")) == [0, 2]
    assert data.select(ITEMS, data.Query(kind="added")) == [1]
    assert data.select(ITEMS, data.Query(text="notes/old")) == [2]  # any case
    assert data.select(ITEMS, data.Query(text="photos")) == [1]  # the folder counts too
    since, until = data.bounds("Any time", "2026-03-01", "2026-03-05", date(2026, 3, 12))
    assert data.select(ITEMS, data.Query(since=since, until=until)) == [1]
    since, until = data.bounds("Last 7 days", "", "", date(2026, 3, 12))
    assert since == datetime(2026, 3, 6) and until is None
    assert data.select(ITEMS, data.Query(since=since)) == [0]
    assert data.choices(ITEMS) == (["/home/a/Documents", "/home/a/Photos"],
                                   ["added", "modified", "removed"])  # fmt: skip


@pytest.mark.parametrize(("start", "end"), [("2026-3-1x", ""), ("", "yesterday"),
                                            ("2026-03-05", "2026-03-01"),
                                            ("", "9999-12-31")])  # fmt: skip
def test_bad_dates_are_said_plainly(start: str, end: str) -> None:
    with pytest.raises(ValueError, match="date"):
        data.bounds("Any time", start, end, date(2026, 3, 12))


def test_words_are_plural_where_they_should_be() -> None:
    assert data.title(1) == "History: 1 change"
    assert data.title(100_000) == "History: 100,000 changes"
    assert data.page_note(0, 1, 1, 1) == "1 entry, newest first"
    assert data.page_note(1, 500, 1200, 5000) == (
        "Entries 501-1,000 of 1,200 (of 5,000 in the history), newest first"
    )
    assert data.page_note(0, 0, 0, 3) == "No entries match."


def test_exports_hold_every_entry_given() -> None:
    rows = list(csv.DictReader(io.StringIO(data.to_csv(ITEMS))))
    assert [r["path"] for r in rows] == ["tax.pdf", "cat.jpg", "Notes/Old.txt"]
    assert rows[1]["folder"] == "/home/a/Photos" and rows[1]["change"] == "added"
    loaded = json.loads(data.to_json(ITEMS))
    assert loaded[0]["fields"] == ["content"] and len(loaded) == 3


def test_a_name_that_is_not_utf8_is_exported_escaped_in_csv_and_exact_in_json(
    service: Service, tmp_path: Path
) -> None:
    root = os.path.join(os.fsencode(tmp_path), b"d\xf6cs")  # the folder's name is not UTF-8
    os.mkdir(root)
    with open(os.path.join(root, b"a.txt"), "wb") as kept:
        kept.write(b"a\n")
    service.watch(os.fsdecode(root))
    with open(os.path.join(root, b"caf\xe9.txt"), "wb") as odd:  # a real file, named in bytes
        odd.write(b"latin-1\n")
    assert [c.kind for c in service.check()[0].changes] == ["added"]
    items = items_from_events(reversed(service.history()))
    (item,) = [i for i in items if i["change"] == "added"]

    written = data.to_csv([item]).encode("utf-8")  # as the window writes it: strict UTF-8
    (row,) = csv.DictReader(io.StringIO(written.decode("utf-8")))
    assert row["path"] == "caf\\xe9.txt"  # as every window and the command show it
    assert row["folder"] == os.fsdecode(os.path.join(os.fsencode(tmp_path), b"d\\xf6cs"))

    (obj,) = json.loads(data.to_json([item]).encode("utf-8"))
    assert "path" not in obj and base64.b64decode(obj["path_b64"]) == b"caf\xe9.txt"
    assert "folder" not in obj and base64.b64decode(obj["folder_b64"]) == root
    assert obj["change"] == "added" and obj["after"]["type"] == "file"
