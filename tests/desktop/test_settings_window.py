"""The Settings window on the test desktop: a wrong value is said beside its field and nothing
is saved; right ones are saved together and applied at once; copies and ignore patterns per
folder take effect without a restart."""

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


def _config(home: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((home / "config" / "config.json").read_text())
    return loaded


def _type(desktop: Desktop, text: str) -> None:
    desktop.run(["xdotool", "key", "End", *["BackSpace"] * 24])  # what was there goes
    desktop.run(["xdotool", "type", "--delay", "20", "--", text])


def test_settings_are_checked_saved_and_applied_at_once(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Notes"
    watched.mkdir()
    (watched / "plan.txt").write_text("plan\n")
    home = _home_with(tmp_path, watched, interval=3600.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    tray.menu.click("Settings...")
    window = _details_window(desktop, "fim-tray: Settings")
    window_shot(desktop, window, "settings.png")

    _type(desktop, "soon")  # the interval field has the focus
    _key(desktop, window, "Return")
    wait_for(lambda: "field: Check every: a number of seconds" in tray.output(), 10,
             "the message beside the field")  # fmt: skip
    assert "status: Not saved: see the message beside Check every." in tray.output()
    assert _config(home)["interval"] == 3600.0  # nothing saved

    _type(desktop, "2")
    _key(desktop, window, "alt+p")  # the speed cap field
    _type(desktop, "-1")  # a speed cap below 0: the interval is not saved alone either
    _key(desktop, window, "alt+s")
    wait_for(lambda: "field: Speed cap: 0 (no cap), or from 0.1 to 100,000 MB/s" in tray.output(),
             10,
             "the speed cap refused")  # fmt: skip
    assert _config(home)["interval"] == 3600.0
    _type(desktop, "25")
    _key(desktop, window, "alt+s")
    wait_for(lambda: _config(home)["interval"] == 2.0, 10, "the interval saved")
    assert _config(home)["max_mb_per_s"] == 25.0
    wait_for(lambda: "status: Saved and applied." in tray.output(), 10, "saved and applied")

    _key(desktop, window, "alt+w")  # the Watched folders tab
    time.sleep(0.5)
    window_shot(desktop, window, "settings-folders.png")
    _key(desktop, window, "alt+k")  # keep copies: on, now
    wait_for(lambda: "copies on" in run_cli("status", home=home).stdout, 20, "copies on")
    _key(desktop, window, "alt+i")  # the ignore pattern field
    _type(desktop, "*.tmp")
    desktop.run(["xdotool", "key", "Return"])
    wait_for(lambda: "*.tmp" in json.dumps(_config(home)), 10, "the pattern saved")
    _key(desktop, window, "alt+i")
    _type(desktop, f"{tmp_path}/elsewhere/*.log")  # a path outside the folder: refused
    desktop.run(["xdotool", "key", "Return"])
    wait_for(lambda: f"field: Ignore pattern: {tmp_path}/elsewhere/*.log is outside the watched"
             in tray.output(), 10, "the pattern outside refused")  # fmt: skip
    _key(desktop, window, "alt+i")
    desktop.run(["xdotool", "key", "ctrl+a", "ctrl+k"])  # Tk's entry: line start, cut the rest
    _type(desktop, f"{watched}/logs/*.log")  # a path inside it: taken relative to it, and said
    desktop.run(["xdotool", "key", "Return"])
    wait_for(lambda: "status: Ignoring logs/*.log (taken as logs/*.log, relative to the "
             "watched folder)." in tray.output(), 10, "the pattern taken as relative")  # fmt: skip
    assert '"logs/*.log"' in json.dumps(_config(home))
    before = len(spy.sent)
    (watched / "scratch.tmp").write_text("noise\n")
    time.sleep(4)  # file events and two polls: nothing to say about an ignored file
    assert len(spy.sent) == before
    (watched / "plan.txt").write_text("plan B\n")
    spy.wait(before + 1)  # a file not ignored is still reported

    _key(desktop, window, "alt+n")  # notifications off for this folder: at once
    wait_for(lambda: '"notify": false' in json.dumps(_config(home)), 10, "notifications off")
    told = len(spy.sent)
    (watched / "new.txt").write_text("quietly\n")
    wait_for(lambda: "2 changes" in tray.menu.status(), 15, "the change counted")
    time.sleep(2)
    assert len(spy.sent) == told  # counted in the icon and menu, not notified
    assert "notifications off" in run_cli("status", home=home).stdout
    _key(desktop, window, "Escape")


def _settings_windows(desktop: Desktop) -> list[str]:
    search = ["xdotool", "search", "--onlyvisible", "--name", "^fim-tray: Settings"]
    return desktop.run(search).stdout.split()


def test_one_settings_window_and_a_save_keeps_what_was_changed_elsewhere(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    home = _home_with(tmp_path, interval=3600.0)
    tray = start_tray(home=home)
    wait_for(lambda: tray.menu.status(), 10, "the tray")
    tray.menu.click("Settings...")
    window = _details_window(desktop, "fim-tray: Settings")
    tray.menu.click("Settings...")  # a second click raises the open one
    wait_for(lambda: "status: raised" in tray.output(), 10, "the window raised")
    time.sleep(1)
    assert _settings_windows(desktop) == [window]

    config = home / "config" / "config.json"
    config.write_text(json.dumps({**_config(home), "max_mb_per_s": 30.0}))  # by hand
    time.sleep(2)  # the window reads the settings again
    _key(desktop, window, "alt+e")  # Check every
    _type(desktop, "90")
    _key(desktop, window, "alt+s")
    wait_for(lambda: _config(home)["interval"] == 90.0, 10, "the interval saved")
    assert _config(home)["max_mb_per_s"] == 30.0  # the hand edit survives

    _key(desktop, window, "alt+e")
    _type(desktop, "20")
    config.write_text(json.dumps({**_config(home), "interval": 45.0}))  # the same field
    time.sleep(2)  # read again: the field typed in keeps what was typed
    _key(desktop, window, "alt+s")
    wait_for(lambda: "Check every changed elsewhere meanwhile" in tray.output(), 10, "the clash")
    assert _config(home)["interval"] == 45.0  # not overwritten unseen
    window_shot(desktop, window, "settings-clash.png")
    _key(desktop, window, "alt+s")  # seen: a second Save replaces it
    wait_for(lambda: _config(home)["interval"] == 20.0, 10, "the interval replaced")
    _key(desktop, window, "Escape")


def test_alerts_in_settings_opens_the_alerts_window(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    tray = start_tray(home=_home_with(tmp_path))
    wait_for(lambda: tray.menu.status(), 10, "the tray")
    tray.menu.click("Settings...")
    window = _details_window(desktop, "fim-tray: Settings")
    _key(desktop, window, "alt+a")  # Alerts..., beside the notification settings
    alerts = _details_window(desktop, "fim-tray: alerts")
    assert alerts != window
    _key(desktop, window, "alt+a")  # again, and from the menu: the same window, raised
    tray.menu.click("Alerts...")
    wait_for(lambda: tray.output().count("the alerts window is open already") == 2, 10,
             "the Alerts window raised twice")  # fmt: skip
    time.sleep(1)
    search = ["xdotool", "search", "--onlyvisible", "--name", "^fim-tray: alerts"]
    assert desktop.run(search).stdout.split() == [alerts]
    _key(desktop, alerts, "Escape")
    _key(desktop, window, "Escape")
