"""How to notify, changed in the Settings window: one summary a day instead of a notification
per change, from the next change on, without a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.desktop.conftest import Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.test_details import _details_window, _key
from tests.desktop.test_tray import _home_with

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


def test_one_summary_a_day_holds_back_each_change(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Papers"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "one.txt").write_text("1\n")
    spy.wait(1)  # at once, as by default

    tray.menu.click("Settings...")
    window = _details_window(desktop, "fim-tray: Settings")
    _key(desktop, window, "alt+u")  # one summary a day (at 18:00, as offered)
    _key(desktop, window, "alt+s")
    config = home / "config" / "config.json"
    wait_for(lambda: json.loads(config.read_text()).get("notify_summary") == "18:00", 10,
             "the setting saved")  # fmt: skip
    told = len(spy.sent)
    (watched / "two.txt").write_text("2\n")
    wait_for(lambda: "2 changes" in tray.menu.status(), 15, "the change counted")
    time.sleep(2)
    assert len(spy.sent) == told  # held for the summary
    _key(desktop, window, "Escape")


def test_a_folder_missing_and_a_suspicious_change_are_said_at_once_all_the_same(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    keep, gone = tmp_path / "Keep", tmp_path / "Gone"
    for folder in (keep, gone):
        folder.mkdir()
        (folder / "f.txt").write_text("f\n")
    (keep / "tool").write_text("#!/bin/sh\necho hi\n")
    (keep / "tool").chmod(0o755)
    home = _home_with(tmp_path, keep, gone, interval=1.0)
    config = home / "config" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "notify_summary": "23:59"}))
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (keep / "new.txt").write_text("n\n")  # held for the summary
    (keep / "tool").chmod(0o4755)  # set-uid: suspicious, said at once
    suspicious = spy.wait(1)
    assert suspicious[0].summary.startswith("Suspicious change"), suspicious
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    sent = spy.wait(2)
    assert sent[1].summary == "Gone is missing", sent
    time.sleep(2)
    assert len(spy.sent) == 2, [s.summary for s in spy.sent]
