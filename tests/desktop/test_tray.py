"""The tray on a real desktop: its menu, the folder chooser, notifications, pause and quit."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.desktop.conftest import SCREENSHOTS, Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]
MENU = ["Watch a folder...", "Watched folders", "Recent changes", "Check all now", "Pause", "Quit"]


def _home_with(tmp_path: Path, *folders: Path, interval: float = 1.0) -> Path:
    """A fim-tray home that already watches ``folders`` and polls every ``interval`` s."""
    home = tmp_path / "home"
    for folder in folders:
        assert run_cli("add", folder, home=home).returncode == 0
    config = home / "config" / "config.json"
    data = json.loads(config.read_text()) if config.exists() else {}
    data["interval"] = interval
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(data))
    return home


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    found: list[int] = []
    parents = {pid}
    for _ in range(5):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid in parents and int(entry) not in found:
                found.append(int(entry))
        parents |= set(found)
    return found


def test_menu_lists_every_item(start_tray: StartTray, tmp_path: Path) -> None:
    tray = start_tray(home=_home_with(tmp_path))
    labels = wait_for(lambda: set(MENU) <= set(tray.menu.labels()) and tray.menu.labels(), 10,
                      "the menu")  # fmt: skip
    assert isinstance(labels, list)
    assert labels[0] == "No folders watched yet"
    assert not tray.menu.entries()[0].enabled  # the status line is not an action
    assert "No folders yet" in labels and "No changes yet" in labels


def test_watch_a_folder_with_the_chooser_then_a_change_notifies_once(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    for i in range(50):
        (watched / f"file{i}.txt").write_text(f"content {i}\n")
    tray = start_tray(home=_home_with(tmp_path))

    tray.menu.click("Watch a folder...")
    title = "fim-tray: choose a folder to watch"
    window = desktop.run(
        ["xdotool", "search", "--sync", "--name", title], timeout=20
    ).stdout.split()
    assert window, "the folder chooser did not open"
    time.sleep(0.5)  # GTK maps the window before it accepts keys
    desktop.run(["xdotool", "windowfocus", "--sync", window[0]])
    desktop.run(["xdotool", "key", "ctrl+l"])
    desktop.run(["xdotool", "type", "--delay", "10", str(watched)])
    time.sleep(0.3)
    desktop.screenshot(SCREENSHOTS / "folder-chooser.png")
    desktop.run(["xdotool", "key", "Delete", "Return"])  # Delete drops GTK's inline completion

    wait_for(lambda: "All clear: 1 folder watched" in tray.menu.status(), 20, "the first baseline")
    assert any(label.startswith("Documents (") for label in tray.menu.labels())
    time.sleep(2.5)  # two more polls: the first baseline must stay silent
    assert spy.sent == [], "the first baseline raised a notification"

    before = datetime.now()
    (watched / "file7.txt").write_text("altered\n")
    sent = spy.wait(1)
    after = datetime.now()
    time.sleep(3)  # three more polls: the same pending change is never announced again
    assert len(spy.sent) == 1, spy.sent
    note = sent[0]
    assert note.summary == "file7.txt modified in Documents"
    assert "file7.txt" in note.body
    shown = re.search(r"\b(\d\d:\d\d:\d\d)\b", note.body)
    assert shown, note.body
    assert before.strftime("%H:%M:%S") <= shown.group(1) <= after.strftime("%H:%M:%S")
    assert "default" in note.actions  # desktop-notifier asks for clicks
    wait_for(lambda: tray.menu.status() == "1 change to review", 5, "the pending status")
    desktop.screenshot(SCREENSHOTS / "notification.png", box=(850, 30, 1280, 130))


def test_a_burst_of_changes_is_one_notification(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Projects"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=2.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    tray.menu.click("Pause")
    wait_for(lambda: tray.menu.status().startswith("Paused"), 5, "pause")
    for i in range(14):
        (watched / f"new-{i:02d}.txt").write_text("x")
    (watched / "<b>bold & loud.txt").write_text("markup")
    tray.menu.click("Resume")
    sent = spy.wait(1)
    time.sleep(2.5)
    assert len(spy.sent) == 1, spy.sent
    assert sent[0].summary == "15 files changed in Projects"
    assert "and 11 more" in sent[0].body
    # The daemon renders markup: a name that looks like markup arrives escaped, as text.
    assert "<b>" not in sent[0].body
    assert "&lt;b&gt;bold &amp; loud.txt" in sent[0].body
    labels = tray.menu.labels()
    assert sum(1 for label in labels if "  added  " in label) == 10  # the last ten


def test_pause_stops_detection_and_resume_restarts_it(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Notes"
    watched.mkdir()
    (watched / "a.txt").write_text("a")
    tray = start_tray(home=_home_with(tmp_path, watched, interval=1.0))
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")

    tray.menu.click("Pause")
    wait_for(lambda: tray.menu.status().startswith("Paused"), 5, "the paused status")
    assert "Resume" in tray.menu.labels()
    (watched / "a.txt").write_text("changed while paused")
    time.sleep(3)  # three intervals
    assert spy.sent == []

    tray.menu.click("Resume")
    sent = spy.wait(1, timeout=10)
    assert sent[0].summary == "a.txt modified in Notes"
    assert "Pause" in tray.menu.labels()


def test_the_tray_checks_a_whole_folder_in_a_child_process_that_quit_ends(
    start_tray: StartTray, tmp_path: Path
) -> None:
    watched = tmp_path / "big"
    watched.mkdir()
    (watched / "big.bin").write_bytes(os.urandom(1_000_000))
    home = _home_with(tmp_path, watched)
    config = home / "config" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "max_mb_per_s": 0.1}))
    (watched / "big.bin").write_bytes(os.urandom(1_000_000))  # its first check reads it: 10 s
    tray = start_tray(home=home)

    def checking() -> list[int]:
        module = b"fim_tray.app.isolated"
        found = []
        for pid in _children(tray.proc.pid):
            with contextlib.suppress(OSError):
                if module in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found

    children = wait_for(checking, 20, "the check's child process")
    assert isinstance(children, list) and len(children) == 1
    assert f"in process {children[0]}" in tray.output()
    tray.menu.click("Quit")
    assert tray.proc.wait(15) == 0, tray.output()
    assert not Path(f"/proc/{children[0]}").exists(), "the check's child outlived the tray"
    assert "Traceback" not in tray.output()


def test_quit_ends_every_thread_and_child_process(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    tray = start_tray(home=_home_with(tmp_path))
    tray.menu.click("Watch a folder...")  # leaves a chooser child process open
    title = "fim-tray: choose a folder to watch"
    desktop.run(["xdotool", "search", "--sync", "--name", title], timeout=20)
    children = _children(tray.proc.pid)
    assert children, "the folder chooser should run as a child process"

    started = time.monotonic()
    tray.menu.click("Quit")
    assert tray.proc.wait(15) == 0, tray.output()
    assert time.monotonic() - started < 10
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]]  # fmt: skip
    assert alive == [], f"left running after Quit: {alive}"
    assert "Traceback" not in tray.output()


def test_the_icon_and_its_menu_on_a_visible_panel(tmp_path: Path) -> None:
    """On a panel with an XEmbed tray the icon shows its state, and a click opens the menu."""
    from PIL import Image, ImageChops

    watched = tmp_path / "Documents"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=60)
    (watched / "report.txt").write_text("new since the baseline")
    panel = Desktop(panel=True).start()
    env = {**os.environ, **panel.env, "FIM_TRAY_HOME": str(home), "PYSTRAY_BACKEND": "appindicator"}
    proc = subprocess.Popen([sys.executable, "-m", "fim_tray", "tray"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        found = wait_for(
            lambda: panel.run(["xdotool", "search", "--onlyvisible", "--name",
                               "^fim-tray: 1 change to review$"]).stdout.split(),
            20, "the icon with its pending tooltip",
        )  # fmt: skip
        assert isinstance(found, list)
        geometry = panel.run(["xdotool", "getwindowgeometry", "--shell", found[0]]).stdout
        geo = dict(line.split("=") for line in geometry.split())
        x = int(geo["X"]) + int(geo["WIDTH"]) // 2
        y = int(geo["Y"]) + int(geo["HEIGHT"]) // 2
        closed = panel.screenshot(tmp_path / "closed.png")
        icon_box = (x - 12, y - 12, x + 12, y + 12)
        raw = Image.open(closed).convert("RGB").crop(icon_box).tobytes()
        pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
        orange = sum(1 for r, g, b in pixels if r > 200 and 80 < g < 140 and b < 60)
        assert orange > 40, "the icon is not the orange 'changes pending' shield"
        panel.run(["xdotool", "mousemove", str(x), str(y), "click", "1"])
        time.sleep(1)
        shot = panel.screenshot(tmp_path / "open.png")
        shot_box = (max(0, x - 440), 0, min(1280, x + 30), y + 290)
        panel.screenshot(SCREENSHOTS / "tray-menu.png", box=shot_box)
        box = (x - 250, y + 20, x, y + 200)  # where the menu drops down
        diff = ImageChops.difference(Image.open(closed).convert("RGB").crop(box),
                                     Image.open(shot).convert("RGB").crop(box))  # fmt: skip
        assert diff.getbbox() is not None, "the menu did not open"
        panel.run(["xdotool", "key", "Escape"])
    finally:
        proc.kill()
        proc.wait(5)
        panel.stop()


def test_an_altered_history_turns_the_tray_red_and_notifies(
    start_tray: StartTray, spy: NotificationSpy, desktop: Desktop, tmp_path: Path
) -> None:
    watched = tmp_path / "Papers"
    watched.mkdir()
    home = _home_with(tmp_path, watched)
    for name in ("one.txt", "two.txt"):
        (watched / name).write_text("x")
        assert run_cli("check", home=home).returncode == 1
    events = home / "data" / "events.jsonl"
    events.write_bytes(b"".join(events.read_bytes().splitlines(keepends=True)[1:]))
    tray = start_tray(home=home)
    sent = spy.wait(1)
    assert sent[0].summary == "fim-tray: the history was altered"
    assert "events.jsonl line 1" in sent[0].body and "still being detected" in sent[0].body
    wait_for(lambda: tray.menu.status().startswith("The history was altered"), 5, "the status")
    time.sleep(1.5)  # dunst draws it a moment after it is sent
    desktop.screenshot(SCREENSHOTS / "history-altered.png", box=(850, 30, 1280, 160))
    (watched / "three.txt").write_text("x")  # and changes are still detected and announced
    later = spy.wait(2, timeout=15)
    assert "three.txt" in later[1].summary + later[1].body, later[1]
