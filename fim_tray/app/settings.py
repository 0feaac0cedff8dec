"""Changing the general settings (check interval, full re-hash, speed cap, pause on battery)
as a person types them: each field checked on its own with a plain message, and all saved
together or none; a window's save writes only what was changed there, over the settings as
they are on disk then, and never silently over a field changed elsewhere meanwhile."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from fim_tray.errors import ConfigError
from fim_tray.models import Folder
from fim_tray.scan.throttle import MAX_MB_PER_S
from fim_tray.store.config import (
    MAX_FULL_HOURS,
    MAX_INTERVAL,
    MIN_FULL_HOURS,
    MIN_INTERVAL,
    Config,
    from_json,
    is_clock_time,
    to_json,
)
from fim_tray.store.state import Store

EDITABLE = ("interval", "max_mb_per_s", "pause_on_battery", "full_check_hours", "notify_summary")


def parse(texts: Mapping[str, str | bool]) -> tuple[dict[str, object], dict[str, str]]:
    """The values of the fields as typed, and a message per field that is wrong. An empty
    speed cap is wrong (no cap is a 0); ``notify_daily`` (True when "One summary a day" is
    ticked) makes an empty ``notify_summary`` wrong rather than "notify at once"."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    if "interval" in texts:
        try:
            seconds = _number(texts["interval"])
        except ValueError as exc:
            errors["interval"] = f"a number of seconds, such as 60{exc}"
        else:
            if not math.isfinite(seconds) or not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
                errors["interval"] = f"from {MIN_INTERVAL:g} to {MAX_INTERVAL:,.0f} seconds"
            else:
                values["interval"] = seconds
    if "max_mb_per_s" in texts:
        text = str(texts["max_mb_per_s"]).strip()
        try:
            cap = _number(text)  # empty is refused: "no cap" is said with a 0
        except ValueError as exc:
            errors["max_mb_per_s"] = f"a number of MB per second, or 0 for no cap{exc}"
        else:
            if not math.isfinite(cap) or cap < 0 or 0 < cap < 0.1 or cap > MAX_MB_PER_S:
                errors["max_mb_per_s"] = f"0 (no cap), or from 0.1 to {MAX_MB_PER_S:,.0f} MB/s"
            else:
                values["max_mb_per_s"] = cap
    if "full_check_hours" in texts:
        try:
            hours = _number(texts["full_check_hours"])
        except ValueError as exc:
            errors["full_check_hours"] = f"a number of hours, such as 24{exc}"
        else:
            if not math.isfinite(hours) or not MIN_FULL_HOURS <= hours <= MAX_FULL_HOURS:
                errors["full_check_hours"] = f"from {MIN_FULL_HOURS:g} to {MAX_FULL_HOURS:g} hours"
            else:
                values["full_check_hours"] = hours
    if "notify_summary" in texts:  # "" notifies at once; HH:MM one summary a day then
        when = str(texts["notify_summary"]).strip()
        daily = bool(texts.get("notify_daily", bool(when)))  # "One summary a day" ticked
        if (when or daily) and not is_clock_time(when):
            errors["notify_summary"] = "a time of day as HH:MM, such as 18:00"
        else:
            values["notify_summary"] = when
    if "pause_on_battery" in texts:
        values["pause_on_battery"] = bool(texts["pause_on_battery"])
    return values, errors


def _number(text: object) -> float:
    """A number as typed; ``ValueError`` whose text (after a comma) says why when it is not,
    a decimal comma named as such ("1,5" could be 1.5 or a thousands separator: neither is
    guessed)."""
    typed = str(text).strip()
    if "," in typed:
        raise ValueError(" (with a point for decimals, such as 1.5, and no thousands separator)")
    if not typed.isascii():  # float() takes other scripts' digits (full-width ones)
        raise ValueError(" (in the digits 0 to 9)")
    try:
        return float(typed)
    except ValueError:
        raise ValueError("") from None


def set_notify(store: Store, path: str, on: bool) -> Folder:
    """Turn the tray's notifications for one watched folder on or off."""
    with store.locked():
        config = store.config()
        folder = store.folder(path)._replace(notify=on)
        folders = tuple(folder if f.path == folder.path else f for f in config.folders)
        store.save_config(config._replace(folders=folders))
    return folder


def editable(config: Config) -> dict[str, object]:
    """The values of the :data:`EDITABLE` settings in ``config``."""
    return {key: getattr(config, key) for key in EDITABLE}


def changed(values: Mapping[str, object], loaded: Mapping[str, object]) -> dict[str, object]:
    """The fields of ``values`` (as typed in a window) that differ from what it loaded."""
    return {key: value for key, value in values.items() if loaded.get(key) != value}


class Saved(NamedTuple):
    """What :func:`save_changed` did: the settings now, the keys written, and each changed key
    that was also changed elsewhere since the window loaded it (its value there): when there
    is one, nothing is written."""

    config: Config
    written: tuple[str, ...]
    clashes: Mapping[str, object]


def save_changed(
    store: Store, changes: Mapping[str, object], loaded: Mapping[str, object]
) -> Saved:
    """Write ``changes`` (what a person changed in a window) over the settings as they are on
    disk now, under the lock: a field changed elsewhere since the window read ``loaded`` keeps
    that change. A field changed both there and here, to different values, is a clash: nothing
    is written, and the clashes say what is on disk now (all together or none)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ConfigError(f"These settings cannot be changed here: {', '.join(unknown)}.")
    with store.locked():
        now = store.config()
        on_disk = editable(now)
        clashes = {
            key: on_disk[key]
            for key, value in changes.items()
            if key in loaded and on_disk[key] != loaded[key] and on_disk[key] != value
        }
        if clashes:
            return Saved(now, (), clashes)
        todo = {key: value for key, value in changes.items() if on_disk[key] != value}
        if not todo:
            return Saved(now, (), {})
        config = from_json({**to_json(now), **todo}, source="the new settings")
        store.save_config(config)
    return Saved(config, tuple(sorted(todo)), {})


def update(store: Store, changes: Mapping[str, object]) -> Config:
    """Save ``changes`` (only the keys of :data:`EDITABLE`) in one write, after the whole new
    configuration is checked: a bad value saves nothing (a :class:`ConfigError`)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ConfigError(f"These settings cannot be changed here: {', '.join(unknown)}.")
    with store.locked():
        config = from_json({**to_json(store.config()), **changes}, source="the new settings")
        store.save_config(config)
    return config
