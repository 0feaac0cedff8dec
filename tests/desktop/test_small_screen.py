"""The windows on a small HiDPI screen (800x600 at FIM_TRAY_SCALE=2): each fits the screen,
and its buttons are on it, where a click reaches them (what does not fit scrolls instead)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from fim_tray.ui.picker import TITLE
from tests.desktop.conftest import SCREENSHOTS, Tray
from tests.desktop.harness import Desktop, missing, wait_for
from tests.desktop.test_details import _details_window
from tests.desktop.test_tray import _home_with

pytestmark = pytest.mark.desktop
WIDTH, HEIGHT = 800, 600


@pytest.fixture(scope="module")
def small(desktop: Desktop) -> Iterator[Desktop]:
    """A desktop of its own with a small screen (``desktop`` first: it says what is missing)."""
    assert not missing()
    running = Desktop(f"{WIDTH}x{HEIGHT}x24").start()
    try:
        yield running
    finally:
        running.stop()


def _geometry(desktop: Desktop, window: str) -> tuple[int, int, int, int]:
    said = desktop.run(["xdotool", "getwindowgeometry", window]).stdout
    position = re.search(r"Position: (-?\d+),(-?\d+)", said)
    size = re.search(r"Geometry: (\d+)x(\d+)", said)
    assert position and size, said
    return (int(position[1]), int(position[2]), int(size[1]), int(size[2]))


def _fits(desktop: Desktop, window: str, name: str) -> tuple[int, int, int, int]:
    """The window's geometry, checked to be inside the screen; and a screenshot of it."""
    desktop.run(["dunstctl", "close-all"])
    time.sleep(0.5)
    x, y, w, h = _geometry(desktop, window)
    assert x >= 0 and y >= 0 and x + w <= WIDTH and y + h <= HEIGHT, (x, y, w, h)
    desktop.screenshot(SCREENSHOTS / name)
    return x, y, w, h


def _click(desktop: Desktop, x: int, y: int) -> None:
    desktop.run(["xdotool", "mousemove", "--sync", str(x), str(y), "click", "1"])


def _gone(desktop: Desktop, window: str) -> None:
    search = ["xdotool", "search", "--onlyvisible", "--name", "^fim-tray: "]
    wait_for(lambda: window not in desktop.run(search).stdout.split(), 10, "the window closed")


def _close_by_click(desktop: Desktop, window: str, box: tuple[int, int, int, int]) -> None:
    """Close is the bottom-right button of every window: a click there closes it."""
    x, y, w, h = box
    assert window in desktop.run(["xdotool", "search", "--name", "^fim-tray: "]).stdout.split()
    _click(desktop, x + w - 30, y + h - 26)
    _gone(desktop, window)


def _changed(one: Path, two: Path) -> float:
    """The share of pixels that differ between two pictures of the same size."""
    with Image.open(one) as first, Image.open(two) as second:
        a, b = first.convert("RGB").tobytes(), second.convert("RGB").tobytes()
    return sum(1 for i in range(0, len(a), 3) if a[i : i + 3] != b[i : i + 3]) / (len(a) // 3)


def _scrolls(desktop: Desktop, box: tuple[int, int, int, int], at: int, name: str) -> None:
    """What does not fit scrolls: the wheel over the window (``at`` pixels down its left
    side, over no list of its own) moves much of it (more than a blinking cursor does)."""
    x, y, w, h = box
    area = (x, y, x + w, y + h)
    before = desktop.screenshot(SCREENSHOTS / f"{name}-top.png", area)
    desktop.run(["xdotool", "mousemove", "--sync", str(x + 60), str(y + at)])
    desktop.run(["xdotool", "click", "--repeat", "30", "--delay", "20", "5"])  # wheel down
    time.sleep(0.5)
    after = desktop.screenshot(SCREENSHOTS / f"{name}-end.png", area)
    assert _changed(before, after) > 0.05, f"{name}: nothing scrolled"


def _accent(shot: Path, box: tuple[int, int, int, int]) -> tuple[int, int, int] | None:
    """The middle of the accent-blue button (Save) inside ``box`` of the screenshot, and
    its height."""
    x, y, w, h = box
    with Image.open(shot) as image:
        pixels = image.convert("RGB").crop((x, y, x + w, y + h)).tobytes()
    spots = [
        (i % w, i // w)
        for i in range(w * h)
        if pixels[i * 3 + 2] > 150 and pixels[i * 3] < 40 and 70 < pixels[i * 3 + 1] < 130
    ]  # the light theme's accent blue, #005fb8
    if len(spots) < 50:
        return None
    xs, ys = sorted(p[0] for p in spots), sorted(p[1] for p in spots)
    return x + xs[len(xs) // 2], y + ys[len(ys) // 2], ys[-1] - ys[0]


def test_every_window_fits_a_small_hidpi_screen_with_its_buttons_on_it(
    small: Desktop, tmp_path: Path
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    home = _home_with(tmp_path, watched, interval=1.0)
    tray = Tray(small, home, tmp_path / "tray.log", {"FIM_TRAY_SCALE": "2"})
    try:
        wait_for(lambda: "All clear" in tray.menu.status(), 20, "the tray")
        tray.menu.click("Settings...")
        window = _details_window(small, "fim-tray: Settings")
        box = _fits(small, window, "small-settings.png")
        save = _accent(SCREENSHOTS / "small-settings.png", box)
        assert save is not None, "no Save button on the screen"
        assert save[2] >= 40, f"Save is {save[2]} pixels high: not scaled"  # ~30 at scale 1
        _scrolls(small, box, box[3] // 3, "small-settings")
        _click(small, save[0], save[1])
        wait_for(lambda: "status: Nothing to save" in tray.output(), 10, "Save clicked")
        _close_by_click(small, window, box)

        (watched / "report.txt").write_text("new\n")
        wait_for(lambda: "1 change" in tray.menu.status(), 20, "the change")
        small.run(["dunstctl", "action", "0"])
        window = _details_window(small, "fim-tray: 1 change in Documents")
        box = _fits(small, window, "small-details.png")
        _scrolls(small, box, 30, "small-details")
        _close_by_click(small, window, box)

        tray.menu.click("History...")
        window = _details_window(small, "fim-tray: History")
        wait_for(lambda: "list: " in tray.output(), 20, "the history read")
        box = _fits(small, window, "small-history.png")
        _scrolls(small, box, 30, "small-history")
        _close_by_click(small, window, box)
    finally:
        tray.quit()


def test_the_welcome_fits_a_small_hidpi_screen_with_not_now_on_it(
    small: Desktop, tmp_path: Path
) -> None:
    person = tmp_path / "ann"
    (person / "Documents").mkdir(parents=True)
    env = {"FIM_TRAY_SCALE": "2", "HOME": str(person), "XDG_CONFIG_HOME": str(person / ".config")}
    tray = Tray(small, tmp_path / "state", tmp_path / "tray.log", env)
    try:
        window = _details_window(small, "fim-tray: Welcome")
        box = _fits(small, window, "small-welcome.png")
        _close_by_click(small, window, box)  # Not now, at the bottom right: on the screen
        time.sleep(1.5)
        chooser = ["xdotool", "search", "--onlyvisible", "--name", f"^{TITLE}"]
        assert not small.run(chooser).stdout.split(), "the click chose another folder"
        assert not (tmp_path / "state" / "config" / "config.json").exists()
    finally:
        tray.quit()
