"""The tray's status line while scheduled checks are held back on battery."""

from __future__ import annotations

from fim_tray.app.monitor import PausedChanged, PowerState
from fim_tray.tray.presenter import TrayModel


def test_the_status_line_says_paused_on_battery_until_back_on_mains() -> None:
    model = TrayModel()
    model.set_folders(["/home/ann/Documents", "/home/ann/Photos"])
    clear = model.status_line()
    key = model.menu_key()
    model.apply_event(PowerState(on_battery=True))
    assert model.status_line() == "All clear: 2 folders watched (paused on battery)"
    assert model.tooltip().endswith("(paused on battery)")
    assert model.menu_key() != key  # the menu shows the new status line
    assert model.state() == "ok"  # the icon keeps saying what the folders are
    model.apply_event(PowerState(on_battery=False))
    assert model.status_line() == clear


def test_paused_on_battery_joins_the_other_notes() -> None:
    model = TrayModel()
    model.set_folders(["/w"])
    model.degraded.append("notifications: log, not clickable")
    model.apply_event(PausedChanged(True))
    model.apply_event(PowerState(True))
    assert model.status_line() == (
        "Paused. All clear: 1 folder watched (notifications: log, not clickable; paused on battery)"
    )
