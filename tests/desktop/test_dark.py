"""Every window in the dark theme (FIM_TRAY_THEME=dark, as a dark desktop gives): the welcome,
the details with Ignore..., History, Settings and Alerts, each one dark, each one a screenshot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.desktop.conftest import Tray
from tests.desktop.dbus_client import NotificationSpy
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot
from tests.desktop.test_details import _details_window, _key

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


def _dark(path: Path) -> bool:
    """Whether most of the picture is dark (the theme's background, not a light window)."""
    with Image.open(path) as image:
        grey = image.convert("L").resize((64, 64))
        pixels = grey.tobytes()
    return sum(1 for p in pixels if p < 90) > len(pixels) * 0.6


def test_every_window_in_the_dark_theme(
    start_tray: StartTray, desktop: Desktop, spy: NotificationSpy, tmp_path: Path
) -> None:
    person = tmp_path / "ann"
    documents = person / "Documents"
    (documents / "logs").mkdir(parents=True)
    (documents / "logs" / "sync.log").write_text("started\n")
    (documents / "budget.ods").write_text("budget\n")
    env = {"HOME": str(person), "XDG_CONFIG_HOME": str(person / ".config"),
           "FIM_TRAY_THEME": "dark"}  # fmt: skip
    tray = start_tray(home=tmp_path / "state", env=env)
    window = _details_window(desktop, "fim-tray: Welcome")
    assert _dark(window_shot(desktop, window, "welcome-dark.png"))
    _key(desktop, window, "Return")
    wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 20, "Documents watched")

    (documents / "logs" / "sync.log").write_text("started\nsynced 14 files\n")
    spy.wait(1)
    desktop.run(["dunstctl", "action", "0"])
    window = _details_window(desktop, "fim-tray: 1 change in Documents")
    assert _dark(window_shot(desktop, window, "details-dark.png"))
    _key(desktop, window, "alt+i")
    chooser = _details_window(desktop, "fim-tray: ignore")
    window_shot(desktop, chooser, "ignore-chooser-dark.png")
    _key(desktop, chooser, "Escape")
    _key(desktop, window, "Escape")

    tray.menu.click("History...")
    window = _details_window(desktop, "fim-tray: History")
    wait_for(lambda: "list: " in tray.output(), 20, "the history read")
    assert _dark(window_shot(desktop, window, "history-dark.png"))
    _key(desktop, window, "Escape")

    tray.menu.click("Settings...")
    window = _details_window(desktop, "fim-tray: Settings")
    assert _dark(window_shot(desktop, window, "settings-dark.png"))
    _key(desktop, window, "Escape")

    tray.menu.click("Alerts...")
    window = _details_window(desktop, "fim-tray: alerts")
    assert _dark(window_shot(desktop, window, "alerts-dark.png"))
    _key(desktop, window, "Escape")
