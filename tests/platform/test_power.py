"""Unit tests of reading the power supply: the sysfs and psutil readers."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fim_tray.platform.power import from_psutil, from_sysfs, on_battery

# -- Linux's sysfs -----------------------------------------------------------------------------


def _supply(root: Path, name: str, **files: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for key, value in files.items():
        (folder / key).write_text(value + "\n")


def test_sysfs_discharging_battery_without_mains_is_on_battery(tmp_path: Path) -> None:
    _supply(tmp_path, "AC", type="Mains", online="0")
    _supply(tmp_path, "BAT0", type="Battery", status="Discharging", scope="System")
    assert from_sysfs(tmp_path) is True


@pytest.mark.parametrize("status", ["Charging", "Full", "Not charging"])
def test_sysfs_battery_on_mains_is_not_on_battery(tmp_path: Path, status: str) -> None:
    _supply(tmp_path, "AC", type="Mains", online="1")
    _supply(tmp_path, "BAT0", type="Battery", status=status)
    assert from_sysfs(tmp_path) is False


def test_sysfs_online_mains_wins_over_a_discharging_status(tmp_path: Path) -> None:
    # Some batteries say "Discharging" for a moment after the charger is plugged in.
    _supply(tmp_path, "ADP1", type="Mains", online="1")
    _supply(tmp_path, "BAT1", type="Battery", status="Discharging")
    assert from_sysfs(tmp_path) is False


def test_sysfs_usb_c_charger_counts_as_outside_power(tmp_path: Path) -> None:
    _supply(tmp_path, "ucsi-source-psy-USBC000:001", type="USB", online="1")
    _supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    assert from_sysfs(tmp_path) is False


def test_sysfs_ignores_a_mouse_battery(tmp_path: Path) -> None:
    _supply(tmp_path, "hidpp_battery_0", type="Battery", status="Discharging", scope="Device")
    assert from_sysfs(tmp_path) is None  # a desktop with a wireless mouse: nothing known


def test_sysfs_without_supplies_or_folder_is_unknown(tmp_path: Path) -> None:
    assert from_sysfs(tmp_path) is None
    assert from_sysfs(tmp_path / "missing") is None
    _supply(tmp_path, "BAT0", type="Battery", status="Unknown")
    assert from_sysfs(tmp_path) is None


def test_sysfs_unreadable_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()  # no type file at all
    _supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    assert from_sysfs(tmp_path) is True


# -- psutil ------------------------------------------------------------------------------------


def _psutil(battery: object) -> Any:
    return SimpleNamespace(sensors_battery=lambda: battery)


def test_psutil_says_whether_power_is_plugged() -> None:
    unplugged = SimpleNamespace(percent=71.0, secsleft=3600, power_plugged=False)
    plugged = SimpleNamespace(percent=100.0, secsleft=-2, power_plugged=True)
    assert from_psutil(_psutil(unplugged)) is True
    assert from_psutil(_psutil(plugged)) is False
    assert from_psutil(_psutil(None)) is None  # no battery found
    assert from_psutil(_psutil(SimpleNamespace(power_plugged=None))) is None


def test_psutil_errors_are_unknown() -> None:
    def broken() -> None:
        raise OSError("sysfs went away")

    assert from_psutil(SimpleNamespace(sensors_battery=broken)) is None


def test_on_battery_asks_psutil_first(tmp_path: Path) -> None:
    _supply(tmp_path, "BAT0", type="Battery", status="Charging")
    fake = _psutil(SimpleNamespace(power_plugged=False))
    assert on_battery(psutil=fake, sysfs_root=tmp_path) is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sysfs is Linux's")
def test_on_battery_without_psutil_reads_sysfs(tmp_path: Path) -> None:
    _supply(tmp_path, "BAT0", type="Battery", status="Discharging")
    assert on_battery(psutil=None, sysfs_root=tmp_path) is True
    # A psutil without sensors_battery (some BSDs) is as good as none.
    assert on_battery(psutil=SimpleNamespace(), sysfs_root=tmp_path) is True


def test_on_battery_on_this_machine_answers_without_error() -> None:
    assert on_battery() in (True, False, None)
