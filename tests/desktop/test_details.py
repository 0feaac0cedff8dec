"""Clicking a notification opens the details; Accept there, start at login, one instance only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli
from tests.desktop.conftest import SCREENSHOTS, Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot
from tests.desktop.test_tray import _home_with

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


def _details_window(desktop: Desktop, title: str) -> str:
    """The window whose title starts with ``title``, focused."""
    try:
        found = _find_window(desktop, title)
    except TimeoutError:
        desktop.screenshot(SCREENSHOTS / "failed-window.png")
        raise
    assert isinstance(found, list)
    window = str(found[-1])
    time.sleep(0.8)  # Tk draws after mapping
    desktop.run(["xdotool", "windowfocus", "--sync", window])
    return window


def _find_window(desktop: Desktop, title: str) -> object:
    search = ["xdotool", "search", "--onlyvisible", "--name", f"^{title}"]
    return wait_for(
        lambda: desktop.run(search).stdout.split(),
        20, f"the window {title!r}",
    )  # fmt: skip


def _key(desktop: Desktop, window: str, key: str) -> None:
    """Type ``key`` into ``window`` as a keyboard would (XTEST: a press, then a release).

    ``xdotool key --window`` sends synthetic events instead, and a window that closes on the
    press leaves the key held down for whatever window comes next.
    """
    desktop.run(["xdotool", "windowfocus", "--sync", window])
    desktop.run(["xdotool", "key", "--clearmodifiers", key])


def test_a_click_on_the_notification_opens_its_details_and_accept_clears_it(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    for name in ("a.txt", "b.txt", "keep.txt"):
        (watched / name).write_text(f"{name}\n")
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")

    stat = (watched / "a.txt").stat()
    (watched / "a.txt").write_text("A.txt\n")  # same size...
    os.utime(watched / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and mtime put back
    (watched / "b.txt").chmod(0o600)
    sent = spy.wait(1)
    assert sent[0].summary == "Suspicious change: 2 files changed in Documents"

    desktop.run(["dunstctl", "action", "0"])  # a click on the notification
    window = _details_window(desktop, "fim-tray: 2 changes in Documents")
    title = desktop.run(["xdotool", "getwindowname", window]).stdout.strip()
    assert title == f"fim-tray: 2 changes in Documents at {_hms(sent[0].body)}"
    window_shot(desktop, window, "details.png")

    _key(desktop, window, "alt+l")  # Accept all
    wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 15, "all clear")
    assert run_cli("check", watched, home=home).returncode == 0  # the baseline moved on
    _key(desktop, window, "Escape")
    search = ["xdotool", "search", "--onlyvisible", "--name", "^fim-tray: 2"]
    wait_for(lambda: not desktop.run(search).stdout, 10, "the window to close")
    time.sleep(2)
    assert len(spy.sent) == 1  # accepting raised no new notification


def _hms(body: str) -> str:
    return body.split()[1]  # "At HH:MM:SS on YYYY-MM-DD ..."


def test_accept_in_the_window_takes_only_the_change_that_was_shown(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Notes"
    watched.mkdir()
    (watched / "one.txt").write_text("1\n")
    (watched / "two.txt").write_text("2\n")
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "one.txt").write_text("one changed\n")
    spy.wait(1)

    # Recent changes opens the same details as a click, for desktops that drop clicks.
    recent = next(label for label in tray.menu.labels() if "one.txt" in label)
    tray.menu.click(recent, under="Recent changes")
    window = _details_window(desktop, "fim-tray: 1 change in Notes")
    (watched / "one.txt").write_text("changed again after it was shown\n")
    _key(desktop, window, "alt+a")  # Accept the selected (the only) change
    time.sleep(3)
    # The file changed again since it was shown: that new state is not accepted unseen.
    result = run_cli("check", watched, home=home)
    assert result.returncode == 1 and "one.txt" in result.stdout
    _key(desktop, window, "Escape")


def test_start_at_login_writes_and_removes_the_autostart_entry(
    start_tray: StartTray, tmp_path: Path
) -> None:
    config_home = tmp_path / "xdg-config"
    tray = start_tray(home=_home_with(tmp_path), env={"XDG_CONFIG_HOME": str(config_home)})
    entry = config_home / "autostart" / "fim-tray.desktop"
    wait_for(lambda: tray.menu.toggled("Start at login") is not None, 10, "the check box")
    assert not entry.exists() and tray.menu.toggled("Start at login") == 0

    tray.menu.click("Start at login")
    wait_for(entry.exists, 5, "the autostart file")
    text = entry.read_text()
    # The working folder must not shadow the package: -P (3.11+) or a runner that drops it.
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    if sys.version_info >= (3, 11):
        assert exec_line == f"Exec={sys.executable} -P -m fim_tray tray"
    else:
        assert exec_line.startswith(f"Exec={sys.executable} -c ") and "del sys.path[0]" in exec_line
        assert exec_line.endswith(" tray")
    wait_for(lambda: tray.menu.toggled("Start at login") == 1, 5, "ticked")

    tray.menu.click("Start at login")
    wait_for(lambda: not entry.exists(), 5, "the autostart file to go")
    wait_for(lambda: tray.menu.toggled("Start at login") == 0, 5, "unticked")


def test_start_at_login_changed_elsewhere_shows_in_the_menu(
    start_tray: StartTray, tmp_path: Path
) -> None:
    config_home = tmp_path / "xdg-config"
    home = _home_with(tmp_path, interval=3600.0)  # no check to redraw the menu by chance
    tray = start_tray(home=home, env={"XDG_CONFIG_HOME": str(config_home)})
    entry = config_home / "autostart" / "fim-tray.desktop"
    wait_for(lambda: tray.menu.toggled("Start at login") == 0, 10, "the check box")
    tray.menu.click("Start at login")
    wait_for(lambda: tray.menu.toggled("Start at login") == 1, 5, "ticked")
    time.sleep(3)  # the first checks done: nothing else to redraw the menu
    entry.unlink()  # as the Settings window's "Start at login" does, in a process of its own
    wait_for(lambda: tray.menu.toggled("Start at login") == 0, 5, "unticked by itself")


def test_a_second_launch_says_it_is_running_and_exits(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    home = _home_with(tmp_path)
    tray = start_tray(home=home)
    wait_for(lambda: tray.menu.status(), 10, "the tray")
    env = {**os.environ, **desktop.env, "FIM_TRAY_HOME": str(home), "PYTHONPATH": str(REPO)}
    second = subprocess.run([sys.executable, "-m", "fim_tray", "tray"], env=env,
                            capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert second.returncode == 1
    assert f"already running (process {tray.proc.pid})" in second.stderr
    assert any(s.summary == "fim-tray is already running" for s in spy.wait(1))
    assert tray.proc.poll() is None  # the first one carries on


def test_history_opens_the_whole_history(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Pictures"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "cat.jpg").write_bytes(b"\xff\xd8 not really a cat")
    spy.wait(1)
    tray.menu.click("History...")
    window = _details_window(desktop, "fim-tray: History")
    wait_for(lambda: desktop.run(["xdotool", "getwindowname", window]).stdout.strip()
             == "fim-tray: History: 1 change", 20, "the history read")  # fmt: skip
    window_shot(desktop, window, "history-one.png")
    _key(desktop, window, "Escape")


def test_restore_in_the_details_window_puts_the_file_back(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Letters"
    watched.mkdir()
    letter = watched / "letter.txt"
    letter.write_text("Dear Ann,\nthe meeting is on Monday.\nBest, Bob\n")
    home = tmp_path / "home"
    assert run_cli("add", "--keep-copies", watched, home=home).returncode == 0
    home = _home_with(tmp_path, interval=1.0)  # the same home, with a short interval
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")

    letter.write_text("Dear Ann,\nthe meeting is on Friday.\nBest, Bob\n")
    spy.wait(1)
    desktop.run(["dunstctl", "action", "0"])
    window = _details_window(desktop, "fim-tray: 1 change in Letters")
    _key(desktop, window, "alt+d")  # the "What changed inside (diff)" tab
    time.sleep(0.5)
    window_shot(desktop, window, "diff.png")
    _key(desktop, window, "alt+r")  # Restore
    wait_for(lambda: "Monday" in letter.read_text(), 10, "the file to be put back")
    assert letter.read_text() == "Dear Ann,\nthe meeting is on Monday.\nBest, Bob\n"
    wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 15, "all clear")
    assert run_cli("check", watched, home=home).returncode == 0
    _key(desktop, window, "Escape")
