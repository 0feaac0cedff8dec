"""Whether this machine runs on battery now: psutil where it is installed, else Linux's sysfs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SYSFS_POWER = Path("/sys/class/power_supply")
# Supplies that mean outside power when online. "Battery" is not one; "UPS" is left out as
# well: a UPS on its battery is a power cut, which the mains supply (offline) does not say.
_EXTERNAL = {"Mains", "USB", "USB_C", "USB_PD", "USB_PD_DRP", "USB_DCP", "USB_CDP", "Wireless"}
_CHARGED = {"Charging", "Full", "Not charging"}
_IMPORT = object()  # on_battery's default: import psutil if it is there


def from_psutil(psutil: Any) -> bool | None:
    """What ``psutil.sensors_battery()`` says; None when it knows nothing (no battery found,
    a platform it does not cover, or an error reading it)."""
    try:
        battery = psutil.sensors_battery()
    except Exception:  # an odd sysfs or OS error in psutil: unknown, never a crash
        log.debug("psutil cannot read the battery", exc_info=True)
        return None
    if battery is None:
        return None
    plugged = getattr(battery, "power_plugged", None)
    if plugged is None:  # psutil could not tell
        return None
    return not plugged


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def from_sysfs(root: Path = SYSFS_POWER) -> bool | None:
    """Linux: True when a system battery discharges and no outside supply is online, False on
    outside power or with a charging or full battery, None when nothing tells."""
    try:
        supplies = sorted(root.iterdir())
    except OSError:
        return None
    statuses = []
    for supply in supplies:
        kind = _read(supply / "type")
        if kind in _EXTERNAL:
            if _read(supply / "online") == "1":
                return False  # plugged in, whatever a battery's status says at that moment
        elif kind == "Battery":
            if _read(supply / "scope") == "Device":
                continue  # a mouse's or headset's battery, not the one powering this machine
            statuses.append(_read(supply / "status"))
    if "Discharging" in statuses:
        return True
    if any(status in _CHARGED for status in statuses):
        return False
    return None


def _import_psutil() -> Any:
    try:
        import psutil  # here, not at the top: only a monitor told to pause on battery asks
    except ImportError:
        return None
    return psutil


def on_battery(*, psutil: Any = _IMPORT, sysfs_root: Path = SYSFS_POWER) -> bool | None:
    """True on battery, False on outside power, None when unknown (say, a desktop with no
    battery, or an OS neither psutil nor sysfs covers). ``psutil`` is the module to ask
    (None: as if it were not installed); tests pass fakes for both sources."""
    if psutil is _IMPORT:
        psutil = _import_psutil()
    if psutil is not None and hasattr(psutil, "sensors_battery"):
        return from_psutil(psutil)
    if sys.platform.startswith("linux"):
        return from_sysfs(sysfs_root)
    return None
