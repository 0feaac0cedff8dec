"""Fixtures for the desktop tests: one test desktop per session and a tray app per test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.desktop.dbus_client import NotificationSpy, TrayMenu
from tests.desktop.harness import Desktop, missing

REQUIRE = os.environ.get("FIM_TRAY_REQUIRE_DESKTOP") == "1"
SCREENSHOTS = Path(os.environ.get("FIM_TRAY_SCREENSHOTS", REPO / "build" / "screenshots"))


@pytest.fixture(scope="session")
def desktop() -> Iterator[Desktop]:
    absent = missing()
    if absent:
        message = "the test desktop needs: " + ", ".join(absent) + " (./dev.sh test installs them)"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    if not sys.platform.startswith("linux"):
        pytest.skip("the test desktop runs on Linux")
    running = Desktop().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def spy(desktop: Desktop) -> Iterator[NotificationSpy]:
    watcher = NotificationSpy(desktop.env["DBUS_SESSION_BUS_ADDRESS"])
    desktop.run(["dunstctl", "close-all"])
    try:
        yield watcher
    finally:
        watcher.close()


class Tray:
    """A running ``fim-tray tray`` process on the test desktop, and its menu over D-Bus."""

    def __init__(self, desktop: Desktop, home: Path, log: Path, env: dict[str, str]) -> None:
        self.desktop = desktop
        self.home = home
        self.log = log
        full_env = {
            **os.environ, **desktop.env, "FIM_TRAY_HOME": str(home), "PYTHONPATH": str(REPO),
            "PYSTRAY_BACKEND": "appindicator", **env,
        }  # fmt: skip
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fim_tray", "--debug", "tray"],
                env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            self.menu = TrayMenu(desktop.env["DBUS_SESSION_BUS_ADDRESS"], self.proc.pid)
        except Exception:
            self.kill()
            raise AssertionError("the tray did not appear:\n" + self.output()) from None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def quit(self) -> None:
        """Quit from the menu, as a person would (that also closes its windows); kill if stuck."""
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.menu.click("Quit", timeout=2)
                self.proc.wait(15)
        self.menu.close()
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def start_tray(desktop: Desktop, tmp_path: Path) -> Iterator[object]:
    started: list[Tray] = []

    def start(env: dict[str, str] | None = None, home: Path | None = None) -> Tray:
        tray = Tray(desktop, home or tmp_path / "home", tmp_path / f"tray-{len(started)}.log",
                    env or {})  # fmt: skip
        started.append(tray)
        return tray

    yield start
    for tray in started:
        tray.quit()
