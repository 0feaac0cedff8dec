"""Settings: the watched folders, the check interval, the exclude globs and how gently the
background scans run, in config.json."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from fim_tray import jsonio
from fim_tray.errors import ConfigError
from fim_tray.models import Folder
from fim_tray.scan.excludes import DEFAULT_EXCLUDES
from fim_tray.scan.hashing import ALGORITHMS, DEFAULT_ALGORITHM
from fim_tray.scan.hashpool import DEFAULT_HASH_WORKERS, MAX_HASH_WORKERS
from fim_tray.scan.throttle import check_mb_per_s
from fim_tray.store.names import decode_name, encode_name
from fim_tray.store.paths import folder_id

SCHEMA = 1
DEFAULT_INTERVAL = 60.0  # seconds between polls of every watched folder
MIN_INTERVAL = 1.0
MAX_INTERVAL = 365 * 86400.0  # far below what threading's waits accept
DEFAULT_FULL_HOURS = 24.0  # hours between full re-hashes of a folder (catches mtime put back)
MIN_FULL_HOURS, MAX_FULL_HOURS = 1.0, 365 * 24.0


class Config(NamedTuple):
    """Everything a person can set. ``excludes`` apply to every folder, on top of each folder's."""

    folders: tuple[Folder, ...] = ()
    interval: float = DEFAULT_INTERVAL
    excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    algorithm: str = DEFAULT_ALGORITHM
    extra: Mapping[str, Any] = MappingProxyType({})
    # Threads hashing big files at once (never more than the CPUs); 1 hashes on one thread.
    hash_workers: int = DEFAULT_HASH_WORKERS
    # A cap on the background monitor's reading speed, in MB/s; 0 is none. A person's own
    # `fim-tray add` / `check` run at full speed unless given --max-mb-per-s.
    max_mb_per_s: float = 0.0
    # Hold back the monitor's scheduled polls and full re-hashes while on battery.
    pause_on_battery: bool = False
    # Hours between the monitor's full re-hashes of each folder.
    full_check_hours: float = DEFAULT_FULL_HOURS
    # How the tray notifies: "" at once; "HH:MM" one summary a day at that time.
    notify_summary: str = ""

    def find(self, path: str) -> Folder | None:
        return next((f for f in self.folders if f.path == path), None)

    def with_folder(
        self,
        path: str,
        *,
        algorithm: str | None,
        excludes: tuple[str, ...],
        keep_copies: bool = False,
    ) -> Config:
        folder = Folder(path, folder_id(path), algorithm or self.algorithm, excludes, keep_copies)
        return self._replace(folders=(*self.folders, folder))

    def without_folder(self, path: str) -> Config:
        return self._replace(folders=tuple(f for f in self.folders if f.path != path))

    def excludes_for(self, folder: Folder) -> tuple[str, ...]:
        return (*self.excludes, *folder.excludes)


def _folder_json(folder: Folder) -> dict[str, Any]:
    return {
        **encode_name(folder.path),
        "algorithm": folder.algorithm,
        "excludes": list(folder.excludes),
        # written only when on: a folder without copies needs no key
        **({"keep_copies": True} if folder.keep_copies else {}),
        **({} if folder.notify else {"notify": False}),  # likewise: written only when off
    }


def _full_hours(config: Config) -> dict[str, float]:
    """Written only when set: the default needs no key."""
    hours = config.full_check_hours
    return {} if hours == DEFAULT_FULL_HOURS else {"full_check_hours": hours}


def to_json(config: Config) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "interval": config.interval,
        "hash_workers": config.hash_workers,
        "max_mb_per_s": config.max_mb_per_s,
        "pause_on_battery": config.pause_on_battery,
        **_full_hours(config),
        **({"notify_summary": config.notify_summary} if config.notify_summary else {}),
        "algorithm": config.algorithm,
        "excludes": list(config.excludes),
        "folders": [_folder_json(f) for f in config.folders],
        **config.extra,
    }


def from_json(obj: Any, source: str = "config.json") -> Config:
    """Validate and read; every problem is a :class:`ConfigError` naming the bad setting."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{source} must hold a JSON object.")
    if obj.get("schema", SCHEMA) != SCHEMA:
        raise ConfigError(
            f"{source} has schema {obj.get('schema')!r}; this fim-tray reads {SCHEMA}."
        )
    known = {"schema", "interval", "algorithm", "excludes", "folders", "hash_workers"}
    known |= {"max_mb_per_s", "pause_on_battery", "full_check_hours", "notify_summary"}
    raw_folders = obj.get("folders", [])
    if not isinstance(raw_folders, list):
        raise ConfigError(f"{source}: folders must be a list of folders. Fix or delete it.")
    try:
        interval = float(obj.get("interval", DEFAULT_INTERVAL))
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: interval must be a number of seconds, not {obj.get('interval')!r}."
        ) from None
    try:
        algorithm = str(obj.get("algorithm", DEFAULT_ALGORITHM))
        excludes = _strings(obj.get("excludes", list(DEFAULT_EXCLUDES)), "excludes")
        folders = []
        for number, item in enumerate(raw_folders, 1):
            if not isinstance(item, dict):
                raise ValueError(f"folders: entry {number} must be an object with a path")
            try:
                path = decode_name(item)
            except ValueError as exc:
                raise ValueError(f"folders: entry {number} has no usable path ({exc})") from exc
            folder_algorithm = str(item.get("algorithm", algorithm))
            _check_algorithm(folder_algorithm, source)
            folder_excludes = _strings(item.get("excludes", []), "folder excludes")
            keep_copies = item.get("keep_copies", False)
            if not isinstance(keep_copies, bool):
                raise ValueError(f"folders: entry {number}: keep_copies must be true or false")
            notify = item.get("notify", True)
            if not isinstance(notify, bool):
                raise ValueError(f"folders: entry {number}: notify must be true or false")
            folder = Folder(path, folder_id(path), folder_algorithm, folder_excludes, keep_copies)
            folders.append(folder._replace(notify=notify))
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{source} holds an invalid setting: {exc}. Fix or delete it.") from exc
    if interval < MIN_INTERVAL:
        raise ConfigError(f"{source}: interval must be at least {MIN_INTERVAL:g} seconds.")
    if not interval <= MAX_INTERVAL:  # also NaN, which would make the monitor spin
        raise ConfigError(f"{source}: interval must be at most {MAX_INTERVAL:g} seconds.")
    _check_algorithm(algorithm, source)
    hash_workers = obj.get("hash_workers", DEFAULT_HASH_WORKERS)
    if type(hash_workers) is not int or not 1 <= hash_workers <= MAX_HASH_WORKERS:  # not a bool
        raise ConfigError(
            f"{source}: hash_workers must be a whole number from 1 to {MAX_HASH_WORKERS}, "
            f"not {hash_workers!r}."
        )
    try:
        max_mb_per_s = check_mb_per_s(obj.get("max_mb_per_s", 0))
    except ValueError:
        raise ConfigError(
            f"{source}: max_mb_per_s must be a number of MB per second, 0 or more (0 is no "
            f"cap), not {obj.get('max_mb_per_s')!r}."
        ) from None
    pause_on_battery = obj.get("pause_on_battery", False)
    if not isinstance(pause_on_battery, bool):
        raise ConfigError(
            f"{source}: pause_on_battery must be true or false, not {pause_on_battery!r}."
        )
    full_hours = obj.get("full_check_hours", DEFAULT_FULL_HOURS)
    if (
        isinstance(full_hours, bool)
        or not isinstance(full_hours, int | float)
        or not MIN_FULL_HOURS <= full_hours <= MAX_FULL_HOURS
    ):
        raise ConfigError(
            f"{source}: full_check_hours must be a number of hours from {MIN_FULL_HOURS:g} to "
            f"{MAX_FULL_HOURS:g}, not {full_hours!r}."
        )
    summary = obj.get("notify_summary", "")
    if not isinstance(summary, str) or (summary and not is_clock_time(summary)):
        raise ConfigError(
            f"{source}: notify_summary must be a time of day as HH:MM (or empty: notify at "
            f"once), not {summary!r}."
        )
    extra = {k: v for k, v in obj.items() if k not in known}
    return Config(
        tuple(folders),
        interval,
        excludes,
        algorithm,
        extra,
        hash_workers,
        max_mb_per_s=max_mb_per_s,
        pause_on_battery=pause_on_battery,
        full_check_hours=float(full_hours),
        notify_summary=summary,
    )


def is_clock_time(text: str) -> bool:
    """Whether ``text`` is a time of day written HH:MM (00:00 to 23:59)."""
    hours, colon, minutes = text.partition(":")
    return (
        colon == ":" and len(hours) == 2 and len(minutes) == 2 and text.isascii()
        and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60
    )  # fmt: skip


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of glob patterns")
    return tuple(value)


def _check_algorithm(name: str, source: str) -> None:
    if name not in ALGORITHMS:
        raise ConfigError(f"{source}: unknown algorithm {name!r} (choose {', '.join(ALGORITHMS)}).")


def load(path: Path) -> Config:
    """The saved settings, or the defaults when there is no file yet."""
    try:
        data = jsonio.read_own(path)
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise ConfigError(f"Cannot read the settings {path}: {exc.strerror}.") from exc
    try:
        obj = jsonio.loads(data)
    except (ValueError, RecursionError):
        raise ConfigError(
            f"The settings file {path} is not valid JSON. It was left as it is; fix it or "
            "delete it to start again with no watched folders."
        ) from None
    return from_json(obj, source=str(path))


def save(path: Path, config: Config) -> None:
    jsonio.atomic_write(path, jsonio.dumps(to_json(config), pretty=True) + b"\n", keep_backup=True)
