"""Ignore, from the details window: a noisy file's notification, Ignore..., one choice, and
its pending change is dropped, no more notifications come for it, and Undo brings it back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.desktop.conftest import Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot
from tests.desktop.test_details import _details_window, _key
from tests.desktop.test_tray import _home_with

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


def _excludes(home: Path) -> list[str]:
    config = json.loads((home / "config" / "config.json").read_text())
    return list(config["folders"][0]["excludes"])


def test_ignore_in_the_details_window_drops_the_change_and_stops_its_notifications(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Work"
    (watched / "logs").mkdir(parents=True)
    (watched / "report.txt").write_text("report\n")
    (watched / "logs" / "app.log").write_text("start\n")
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")

    (watched / "logs" / "app.log").write_text("start\nnoise 1\n")
    spy.wait(1)
    wait_for(lambda: "1 change" in tray.menu.status(), 10, "one change pending")
    desktop.run(["dunstctl", "action", "0"])  # a click on the notification
    window = _details_window(desktop, "fim-tray: 1 change in Work")
    _key(desktop, window, "alt+i")  # Ignore...
    chooser = _details_window(desktop, "fim-tray: ignore")
    window_shot(desktop, chooser, "ignore-chooser.png")
    _key(desktop, chooser, "4")  # files like *.log everywhere in this watched folder
    _key(desktop, chooser, "Return")

    wait_for(lambda: "All clear" in tray.menu.status(), 15, "the pending change dropped")
    assert _excludes(home) == ["*.log"]
    time.sleep(1)
    window_shot(desktop, window, "ignored.png")
    for number in range(2, 5):  # the noise goes on: no notification for it
        (watched / "logs" / "app.log").write_text(f"start\nnoise {number}\n")
        (watched / "logs" / "other.log").write_text(f"{number}\n")
        time.sleep(1)
    time.sleep(2)
    assert len(spy.sent) == 1, [s.summary for s in spy.sent]
    assert "All clear" in tray.menu.status()
    history = run_cli("history", home=home).stdout
    assert "ignored" in history and "*.log, 1 pending change dropped" in history

    _key(desktop, window, "alt+u")  # Undo: the pattern goes, the change is pending again
    wait_for(lambda: _excludes(home) == [], 15, "the pattern removed")
    wait_for(lambda: "change" in tray.menu.status(), 15, "the changes pending again")
    assert run_cli("check", watched, home=home).returncode == 1
    _key(desktop, window, "Escape")


def test_a_pattern_removed_on_the_command_line_has_the_tray_report_what_it_hid(
    start_tray: StartTray, tmp_path: Path
) -> None:
    watched = tmp_path / "Work"
    watched.mkdir()
    (watched / "a.txt").write_text("a\n")
    (watched / "keep.dat").write_text("k\n")
    home = _home_with(tmp_path, watched, interval=3600.0)  # no poll to catch it by chance
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    assert run_cli("ignore", watched, "*.txt", home=home).returncode == 0
    time.sleep(3)  # the tray sees the pattern
    (watched / "a.txt").write_text("a, changed while ignored\n")
    (watched / "b.txt").write_text("added while ignored\n")
    time.sleep(2)
    assert "All clear" in tray.menu.status()
    assert run_cli("ignore", watched, "--remove", "*.txt", home=home).returncode == 0
    wait_for(lambda: "2 changes" in tray.menu.status(), 8, "what the pattern hid reported")
