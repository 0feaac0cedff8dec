"""The PyInstaller build on the test desktop: its tray icon and menu, a notification from a file
event, its dialogs run as the same executable, start at login, and a clean Quit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.desktop.dbus_client import NotificationSpy, TrayMenu
from tests.desktop.harness import Desktop, wait_for
from tests.test_packaging import FrozenApp, build_frozen, need_tool

pytestmark = pytest.mark.desktop
CHOOSER = "fim-tray: choose a folder to watch"


@pytest.fixture(scope="session")
def frozen_app(tmp_path_factory: pytest.TempPathFactory) -> FrozenApp:
    if not sys.platform.startswith("linux"):
        pytest.skip("the test desktop runs on Linux")
    return build_frozen(tmp_path_factory)  # the same build as tests/test_packaging.py's


class FrozenTray:
    """The built executable running ``tray`` on the test desktop, and its menu over D-Bus.

    It is started through a symbolic link, as the .deb's /usr/bin/fim-tray starts it.
    """

    def __init__(self, desktop: Desktop, exe: Path, home: Path, log: Path) -> None:
        self.log = log
        link = home.parent / "bin" / "fim-tray"
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(exe)
        self.config_home = home / "xdg-config"  # start at login writes here, not to ~/.config
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSTRAY_BACKEND")}
        env.update(desktop.env, FIM_TRAY_HOME=str(home), XDG_CONFIG_HOME=str(self.config_home))
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(link), "--debug", "tray"], env=env, stdout=out, stderr=subprocess.STDOUT,
                cwd=home.parent, start_new_session=True,
            )  # fmt: skip
        try:
            self.menu = TrayMenu(desktop.env["DBUS_SESSION_BUS_ADDRESS"], self.proc.pid)
        except Exception:
            self.kill()
            raise AssertionError("the frozen tray did not appear:\n" + self.output()) from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def quit(self) -> int:
        """Choose Quit and return the exit status. A menu rebuilt just then (after a state
        change) drops a click on an old item id, so the click is repeated until it lands."""
        for _ in range(3):
            self.menu.click("Quit")
            with contextlib.suppress(subprocess.TimeoutExpired):
                return self.proc.wait(5)
        raise AssertionError("Quit did not end the frozen tray:\n" + self.output())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def frozen_tray(desktop: Desktop, frozen_app: FrozenApp, tmp_path: Path) -> Iterator[FrozenTray]:
    tray = FrozenTray(desktop, frozen_app.exe, tmp_path / "home", tmp_path / "tray.log")
    try:
        yield tray
    finally:
        with contextlib.suppress(Exception):
            tray.menu.close()
        tray.kill()


def _watch(frozen_app: FrozenApp, home: Path, folder: Path, interval: float) -> None:
    """Make ``home`` watch ``folder`` (with the built command line) and poll every ``interval``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["FIM_TRAY_HOME"] = str(home)
    added = subprocess.run([str(frozen_app.exe), "add", str(folder)], env=env,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert added.returncode == 0, added.stderr
    config = home / "config" / "config.json"
    data = json.loads(config.read_text()) if config.exists() else {}
    data["interval"] = interval
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(data))


def _descendants(pid: int) -> dict[int, list[str]]:
    """Every process below ``pid``, with its command line (Linux /proc)."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry)] = (ppid, [a.decode(errors="replace") for a in cmdline.split(b"\0") if a])
    found: dict[int, list[str]] = {}
    parents = {pid}
    for _ in range(6):
        for child, (ppid, argv) in table.items():
            if ppid in parents:
                found[child] = argv
        parents |= set(found)
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {key: value for key, _, value in pairs}


def test_the_frozen_tray_shows_its_menu_notifies_on_a_file_event_and_quits_cleanly(
    desktop: Desktop, frozen_app: FrozenApp, spy: NotificationSpy, tmp_path: Path
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    (watched / "report.txt").write_text("first draft\n")
    home = tmp_path / "home"
    _watch(frozen_app, home, watched, interval=300)  # only a file event can be quick
    tray = FrozenTray(desktop, frozen_app.exe, home, tmp_path / "tray.log")
    try:
        wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 15, "the status")
        labels = tray.menu.labels()
        for label in ("Watch a folder...", "Watched folders", "Recent changes", "Check all now",
                      "History...", "Pause", "Start at login", "Quit"):  # fmt: skip
            assert label in labels, labels
        assert "tray backend pystray._appindicator, notifier desktop-notifier" in tray.output()
        # Its first check ran in a child process: the same executable, as a command.
        assert f"checking {watched} in process" in tray.output()

        started = time.monotonic()
        (watched / "report.txt").write_text("altered\n")
        sent = spy.wait(1, timeout=15)
        assert time.monotonic() - started < 10, "the change came from a poll, not a file event"
        assert sent[0].summary == "report.txt modified in Documents"
        assert "default" in sent[0].actions  # desktop-notifier over dbus-fast, clickable
        wait_for(lambda: tray.menu.status() == "1 change to review", 5, "the pending status")

        assert tray.quit() == 0, tray.output()
        output = tray.output()
        assert "Traceback" not in output and "polling only" not in output, output
    finally:
        with contextlib.suppress(Exception):
            tray.menu.close()
        tray.kill()


def test_the_frozen_dialogs_are_the_same_executable_and_see_the_system_libraries(
    desktop: Desktop, frozen_app: FrozenApp, frozen_tray: FrozenTray
) -> None:
    tray = frozen_tray
    tray.menu.click("Watch a folder...")
    assert desktop.run(["xdotool", "search", "--sync", "--name", CHOOSER], timeout=20).stdout
    children = _descendants(tray.proc.pid)
    picker = [argv for argv in children.values() if argv[1:] == ["_pick-folder"]]
    assert len(picker) == 1, children  # dialogs.self_command() of a frozen app: sys.executable
    assert Path(picker[0][0]).resolve() == frozen_app.exe.resolve()
    zenity = [pid for pid, argv in children.items() if Path(argv[0]).name == "zenity"]
    assert zenity, children
    # zenity is the system's: it must not load the libraries bundled with fim-tray
    library_path = _environ(zenity[0]).get("LD_LIBRARY_PATH", "")
    assert str(frozen_app.folder) not in library_path

    tray.menu.click("History...")  # a Tk window from the same executable
    history = desktop.run(["xdotool", "search", "--sync", "--onlyvisible", "--name",
                           "^fim-tray: History"], timeout=20)  # fmt: skip
    assert history.stdout.split(), tray.output()
    details = [a for a in _descendants(tray.proc.pid).values() if a[1:2] == ["_details"]]
    assert len(details) == 1 and details[0][1:] == ["_details", "--history"], details
    assert Path(details[0][0]).resolve() == frozen_app.exe.resolve()

    everything = set(_descendants(tray.proc.pid))
    assert tray.quit() == 0, tray.output()
    time.sleep(0.5)
    alive = [
        pid
        for pid in everything
        if Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
    ]
    assert alive == [], f"left running after Quit: {alive}"


def test_start_at_login_from_the_frozen_tray_starts_this_build(
    desktop: Desktop, frozen_app: FrozenApp, frozen_tray: FrozenTray
) -> None:
    tray = frozen_tray
    entry = tray.config_home / "autostart" / "fim-tray.desktop"
    wait_for(lambda: tray.menu.toggled("Start at login") == 0, 10, "the unticked menu item")
    tray.menu.click("Start at login")
    wait_for(entry.exists, 5, "the autostart entry")
    wait_for(lambda: tray.menu.toggled("Start at login") == 1, 5, "the ticked menu item")
    keys = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    program, _, argument = keys["Exec"].partition(" ")  # autostart.launch_command(), frozen
    assert argument == "tray"
    assert Path(program).resolve() == frozen_app.exe.resolve()  # the built program itself
    assert keys["TryExec"] == program
    validate = desktop.run([need_tool("desktop-file-validate", "desktop-file-utils"), str(entry)])
    assert validate.returncode == 0, validate.stdout
    version = subprocess.run([keys["TryExec"], "--version"], capture_output=True, text=True,
                             timeout=30, check=False)  # fmt: skip
    assert version.returncode == 0 and version.stdout.startswith("fim-tray ")

    tray.menu.click("Start at login")
    wait_for(lambda: not entry.exists(), 5, "the autostart entry to go")
    wait_for(lambda: tray.menu.toggled("Start at login") == 0, 5, "the unticked menu item")
    assert tray.quit() == 0, tray.output()
