"""Where fim-tray keeps its state, and how file names that are not valid UTF-8 survive JSON."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from fim_tray import APP_NAME

HOME_ENV = "FIM_TRAY_HOME"


class Paths(NamedTuple):
    """Every file and folder of fim-tray's state.

    ``data_dir`` holds baselines, history and the lock; ``config_dir`` the settings and the
    install key, which is kept outside ``data_dir`` so a copy of the data alone cannot re-sign a
    baseline.
    """

    data_dir: Path
    config_dir: Path

    @classmethod
    def default(cls) -> Paths:
        """All state under ``$FIM_TRAY_HOME`` when set, else where platformdirs says."""
        home = os.environ.get(HOME_ENV)
        if home:
            root = Path(home).expanduser().absolute()
            return cls(data_dir=root / "data", config_dir=root / "config")
        import platformdirs

        return cls(
            data_dir=platformdirs.user_data_path(APP_NAME, appauthor=False),
            config_dir=platformdirs.user_config_path(APP_NAME, appauthor=False),
        )

    @property
    def baselines_dir(self) -> Path:
        return self.data_dir / "baselines"

    @property
    def events_file(self) -> Path:
        return self.data_dir / "events.jsonl"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "lock"

    @property
    def instance_lock(self) -> Path:
        return self.data_dir / "tray.lock"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.json"

    @property
    def key_file(self) -> Path:
        return self.config_dir / "install.key"

    def baseline_file(self, folder_id: str) -> Path:
        return self.baselines_dir / f"{folder_id}.json"

    def pending_file(self, folder_id: str) -> Path:
        return self.baselines_dir / f"{folder_id}.pending.json"


def folder_id(path: str) -> str:
    """A short stable name for a watched folder's files, derived from its absolute path."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]


def name_fields(name: str, key: str = "path") -> dict[str, str]:
    """A JSON-safe form of a name (a path, a folder, a link target) under ``key``:
    ``{key: text}``, or ``{key + "_b64": raw bytes in base64}``.

    On POSIX a name that is not valid UTF-8 reaches Python with lone surrogates
    (surrogateescape); those cannot be written as UTF-8 JSON, so the raw bytes go in base64,
    under a key that says so.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return {f"{key}_b64": base64.b64encode(os.fsencode(name)).decode("ascii")}
    return {key: name}


def name_from(obj: Mapping[str, object], key: str = "path") -> str | None:
    """The inverse of :func:`name_fields`: None when neither key is there; ``ValueError``
    when the one there is not usable."""
    text = obj.get(key)
    if isinstance(text, str):
        return text
    raw = obj.get(f"{key}_b64")
    if isinstance(raw, str):
        try:
            return os.fsdecode(base64.b64decode(raw, validate=True))
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"{key}_b64 is not base64") from exc
    if text is None and raw is None:
        return None
    raise ValueError(f"{key} is not a name")


def encode_name(name: str) -> dict[str, str]:
    """``{"path": text}``, or ``{"path_b64": raw bytes}``: :func:`name_fields` for paths."""
    return name_fields(name, "path")


def decode_name(obj: Mapping[str, object]) -> str:
    """The inverse of :func:`encode_name`; raises ``ValueError`` when neither key is usable."""
    name = name_from(obj, "path")
    if name is None:
        raise ValueError("entry has no path")
    return name
