"""The History window on the test desktop: 100,000 entries open without freezing it, a folder
column, filters by text, kind and folder, and an export to CSV through the save dialog."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.store.history import new_event_id
from fim_tray.store.names import name_fields
from fim_tray.store.paths import Paths
from tests.desktop.conftest import Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot
from tests.desktop.test_details import _details_window, _key
from tests.desktop.test_tray import _home_with

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]
MANY = 100_000


def _seed(home: Path, folder: Path, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``count`` old "modified" lines of ``folder``, one a minute back from two weeks ago."""
    monkeypatch.setenv("FIM_TRAY_HOME", str(home))
    service = Service(Paths.default())
    start = datetime.now().astimezone() - timedelta(days=14)
    records = []
    for number in range(count):
        when = start - timedelta(minutes=count - number)
        records.append({
            "id": new_event_id(when), "time": when.isoformat(),
            **name_fields(str(folder), "folder"),
            "path": f"old/file-{number}.txt", "change": "modified", "suspicious": False,
            "fields": ["content"], "before": None, "after": None,
        })  # fmt: skip
    with service.store.locked():
        service.store.history.append_records(records)


def _said(tray: Tray, text: str, timeout: float = 20) -> None:
    wait_for(lambda: f"list: {text}" in tray.output(), timeout, f"the list to say {text!r}")


def test_history_pages_filters_and_exports(
    start_tray: StartTray,
    desktop: Desktop,
    spy: NotificationSpy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs, photos = tmp_path / "Documents", tmp_path / "Photos"
    docs.mkdir()
    photos.mkdir()
    home = _home_with(tmp_path, docs, photos, interval=1.0)
    _seed(home, docs, MANY, monkeypatch)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 20, "the tray")
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8 a holiday")
    spy.wait(1)

    started = time.monotonic()
    tray.menu.click("History...")
    window = _details_window(desktop, "fim-tray: History")
    total = MANY + 1
    _said(tray, f"Entries 1-500 of {total:,}, newest first")
    assert time.monotonic() - started < 30
    title = desktop.run(["xdotool", "getwindowname", window]).stdout.strip()
    assert title == f"fim-tray: History: {total:,} changes"
    window_shot(desktop, window, "history.png")

    _key(desktop, window, "alt+e")  # the older page
    _said(tray, f"Entries 501-1,000 of {total:,}, newest first")
    _key(desktop, window, "alt+f")  # Find: the text filter
    desktop.run(["xdotool", "type", "--delay", "20", "holiday"])
    _said(tray, f"1 entry (of {total:,} in the history), newest first")
    window_shot(desktop, window, "history-filtered.png")
    for _ in range(7):
        desktop.run(["xdotool", "key", "BackSpace"])
    desktop.run(["xdotool", "type", "--delay", "20", "file-9999"])
    # file-9999, file-99990 .. file-99999: eleven entries, all of Documents
    _said(tray, f"11 entries (of {total:,} in the history)")

    target = tmp_path / "export.csv"
    _key(desktop, window, "alt+x")  # Export CSV...
    dialog = _details_window(desktop, "fim-tray: export the history")
    desktop.run(["xdotool", "key", "ctrl+a", "ctrl+k"])  # Tk's entry: line start, cut the rest
    desktop.run(["xdotool", "type", "--delay", "10", str(target)])
    desktop.run(["xdotool", "key", "Return"])
    wait_for(target.exists, 10, "the exported file")
    time.sleep(0.5)
    with target.open(newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 11 and {r["folder"] for r in rows} == {str(docs)}
    assert rows[0]["path"] == "old/file-99999.txt"  # newest first
    assert dialog
    _key(desktop, window, "Escape")
