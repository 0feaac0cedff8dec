"""The tray under stress, on the test desktop: a noisy file, a folder lost and found, an error that
heals, a refused accept said in the window, and windows that end with the tray."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.desktop.conftest import SCREENSHOTS, Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.test_details import _details_window, _find_window, _key
from tests.desktop.test_tray import _children, _home_with

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]
IS_ROOT = os.geteuid() == 0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _rewrite(path: Path, seconds: float, every: float = 0.1) -> None:
    """Write ``path`` anew every ``every`` seconds for ``seconds``, as a busy log does."""
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        path.write_text(f"line {number}\n" * (number % 7 + 1))
        number += 1
        time.sleep(every)


def test_a_file_rewritten_every_100_ms_is_one_notification(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Flood"
    watched.mkdir()
    (watched / "calm.txt").write_text("calm\n")
    tray = start_tray(home=_home_with(tmp_path, watched, interval=1.0))
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    _rewrite(watched / "hot.log", 15)
    time.sleep(4)  # the last events and a few polls more
    assert [s.summary for s in spy.sent] == ["hot.log added in Flood"], spy.sent
    recent = [label for label in tray.menu.labels() if "hot.log" in label]
    assert len(recent) == 1, tray.menu.labels()
    # Another file in the storm is still announced, once.
    (watched / "calm.txt").write_text("not calm\n")
    spy.wait(2)
    time.sleep(2)
    assert [s.summary for s in spy.sent][1:] == ["calm.txt modified in Flood"]


def test_a_storm_over_many_files_is_paced_and_loses_nothing(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Grow"
    watched.mkdir()
    tray = start_tray(home=_home_with(tmp_path, watched, interval=1.0))
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    for number in range(40):  # a new file every 200 ms for 8 s: a check every 1.5 s or so
        (watched / f"g{number:02d}.txt").write_text(str(number))
        time.sleep(0.2)
    sent = spy.wait(2, timeout=40)  # the first at once, the rest gathered after the cool-down
    time.sleep(3)
    assert len(spy.sent) == 2, [s.summary for s in spy.sent]
    counts = [1 if " added in " in s.summary else int(s.summary.split()[0]) for s in sent]
    assert sum(counts) == 40  # nothing lost on the way
    assert tray.menu.status() == "40 changes to review"


def test_a_folder_deleted_is_an_alert_and_recreated_is_checked_again(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Photos"
    watched.mkdir()
    for number in range(5):
        (watched / f"p{number}.jpg").write_bytes(bytes([number]) * 100)
    saved = tmp_path / "saved"
    shutil.copytree(watched, saved)
    other = tmp_path / "Docs"
    other.mkdir()
    (other / "d.txt").write_text("d\n")
    home = _home_with(tmp_path, watched, other, interval=60.0)  # events only: no quick polls
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (other / "d.txt").write_text("pending\n")
    spy.wait(1)

    shutil.rmtree(watched)
    started = time.monotonic()
    sent = spy.wait(2, timeout=10)
    assert time.monotonic() - started < 6
    assert sent[1].summary == "Photos is missing"
    wait_for(lambda: tray.menu.status() == "Photos is missing; 1 change to review", 5, "status")
    assert len(tray.menu.status()) < 80
    time.sleep(3)
    assert len(spy.sent) == 2  # said once

    shutil.copytree(saved, watched)  # back, as it was: checked at once, and the alert heals
    try:
        wait_for(lambda: tray.menu.status() == "1 change to review", 10, "the folder back")
    except TimeoutError:
        raise AssertionError(tray.menu.status() + "\n" + tray.output()[-3000:]) from None
    (watched / "p9.jpg").write_bytes(b"new")  # and its file events are armed again
    again = spy.wait(3, timeout=10)
    assert again[2].summary == "p9.jpg added in Photos"


@pytest.mark.skipif(not IS_ROOT, reason="mounting a disk needs root")
def test_an_unmounted_folder_is_an_alert_within_seconds(
    start_tray: StartTray, spy: NotificationSpy, tmp_path: Path
) -> None:
    disk = tmp_path / "Card"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True)  # fmt: skip
    assert mounted.returncode == 0, mounted.stderr
    try:
        for number in range(50):
            (disk / f"f{number}.txt").write_text(f"{number}\n")
        tray = start_tray(home=_home_with(tmp_path, disk, interval=60.0))
        wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
        subprocess.run(["umount", str(disk)], check=True)
        started = time.monotonic()
        try:
            (sent,) = spy.wait(1, timeout=10)
        except TimeoutError:
            raise AssertionError(tray.output()[-4000:]) from None
        assert time.monotonic() - started < 6
        assert sent.summary == "Card is missing"
        wait_for(lambda: tray.menu.status() == "Card is missing", 5, "the status")
        labels = tray.menu.labels()
        assert "Card (error)" in labels
        assert "different disk" in " ".join(labels)  # the whole text, in its menu
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, check=False)


def test_a_refused_accept_says_why_in_the_window_and_leaves_the_row(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Notes"
    watched.mkdir()
    (watched / "one.txt").write_text("1\n")
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "one.txt").write_text("one changed\n")
    spy.wait(1)
    desktop.run(["dunstctl", "action", "0"])
    window = _details_window(desktop, "fim-tray: 1 change in Notes")
    (watched / "one.txt").write_text("changed again after it was shown\n")
    _key(desktop, window, "alt+a")
    wait_for(lambda: "status: Not accepted: one.txt changed again" in tray.output(), 10,
             "the window to say why")  # fmt: skip
    assert "row one.txt: accepted" not in tray.output()
    desktop.screenshot(SCREENSHOTS / "refused-accept.png", box=(0, 0, 900, 640))
    result = run_cli("check", watched, home=home)
    assert result.returncode == 1 and "one.txt" in result.stdout
    _key(desktop, window, "Escape")


def test_a_change_accepted_from_the_menu_shows_in_an_open_window(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Inbox"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = start_tray(home=home)
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "mail.txt").write_text("hello\n")
    spy.wait(1)
    desktop.run(["dunstctl", "action", "0"])
    window = _details_window(desktop, "fim-tray: 1 change in Inbox")
    tray.menu.click("Accept all changes")
    wait_for(lambda: "row mail.txt: no longer pending (added)" in tray.output(), 10,
             "the window to learn it")  # fmt: skip
    _key(desktop, window, "alt+a")  # nothing left to accept here: nothing is sent
    time.sleep(1)
    assert "status: Accepting" not in tray.output()
    _key(desktop, window, "Escape")


def test_killing_the_tray_closes_its_window_and_leaves_no_temporary_file(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Work"
    watched.mkdir()
    temp = tmp_path / "tmp"
    temp.mkdir()
    tray = start_tray(home=_home_with(tmp_path, watched, interval=1.0), env={"TMPDIR": str(temp)})
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    (watched / "plan.txt").write_text("plan\n")
    spy.wait(1)
    desktop.run(["dunstctl", "action", "0"])
    _details_window(desktop, "fim-tray: 1 change in Work")
    assert list(temp.glob("fim-tray-*")) == []  # the window read its changes, and removed them
    os.kill(tray.proc.pid, signal.SIGKILL)  # the tray only: the window is in its own group
    tray.proc.wait(5)
    search = ["xdotool", "search", "--onlyvisible", "--name", "^fim-tray: 1 change in Work"]
    wait_for(lambda: not desktop.run(search).stdout.strip(), 10, "the window to close")
    assert list(temp.glob("fim-tray-*")) == []


def test_a_passing_problem_clears_at_the_next_good_check(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    watched = tmp_path / "Music"
    watched.mkdir()
    tray = start_tray(home=_home_with(tmp_path, watched, interval=60.0))
    wait_for(lambda: "All clear" in tray.menu.status(), 10, "the tray")
    tray.menu.click("History...")
    _find_window(desktop, "fim-tray: History")
    (window,) = [p for p in _children(tray.proc.pid) if b"_details" in _cmdline(p)]
    os.kill(window, signal.SIGKILL)  # the History window's process dies
    wait_for(lambda: "window" in tray.menu.status(), 10, "the problem to show")
    killed = tray.menu.status()
    tray.menu.click("Check all now")
    wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 10,
             f"{killed!r} to clear")  # fmt: skip


def test_pause_interrupts_a_first_baseline_within_a_second(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    big = tmp_path / "Videos"
    big.mkdir()
    (big / "film.bin").write_bytes(b"\0" * 30_000_000)
    home = _home_with(tmp_path, interval=60.0)
    config = home / "config" / "config.json"
    config.write_text(config.read_text().rstrip("}") + ', "max_mb_per_s": 1}')
    tray = start_tray(home=home, env={"FIM_TRAY_CHOOSER": f"echo {big}"})
    wait_for(lambda: tray.menu.status(), 10, "the tray")
    tray.menu.click("Watch a folder...")
    wait_for(lambda: tray.menu.status().startswith("Recording Videos"), 10, "the recording")
    time.sleep(1)
    started = time.monotonic()
    tray.menu.click("Pause")
    wait_for(lambda: "starts again when you resume" in tray.menu.status(), 5, "the pause")
    assert time.monotonic() - started < 2.0
