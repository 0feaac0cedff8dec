"""Where fim-tray keeps its state: every file and folder of it, and the id of a watched folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from fim_tray import APP_NAME
from fim_tray.errors import FimError

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
            root = Path(home).expanduser()
            if not root.is_absolute():  # it would name another folder from every folder
                raise FimError(
                    f"{HOME_ENV} must be an absolute path (it is {home!r}): a relative one names "
                    "another state folder from each folder fim-tray is started in.",
                    title="Settings not usable",
                )
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
    def copies_dir(self) -> Path:
        """Where saved copies are kept (the folder's name is older than the words "saved
        copies"; it stays, so an install keeps its copies)."""
        return self.data_dir / "snapshots"

    @property
    def icons_dir(self) -> Path:
        """The tray's icons as files, for notification daemons that want a path."""
        return self.data_dir / "icons"

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

    @property
    def generations_file(self) -> Path:
        """Each folder's last saved generation, beside the key (see store/generations.py)."""
        return self.config_dir / "generations.json"

    @property
    def history_head(self) -> Path:
        """The history's chain head, beside the key: outside the data folder it vouches for."""
        return self.config_dir / "history.head"

    @property
    def alerts_file(self) -> Path:
        """The alert channels: URLs with passwords and tokens, so a file of its own (0600),
        out of the settings that get shown and logged."""
        return self.config_dir / "alerts.json"

    @property
    def outbox_dir(self) -> Path:
        """Alerts waiting for their channel (see alerts/outbox.py)."""
        return self.data_dir / "outbox"

    @property
    def summary_file(self) -> Path:
        """The changes the tray holds for its daily summary, counted by folder."""
        return self.data_dir / "summary.json"

    def baseline_file(self, folder_id: str) -> Path:
        return self.baselines_dir / f"{folder_id}.json"

    def pending_file(self, folder_id: str) -> Path:
        return self.baselines_dir / f"{folder_id}.pending.json"

    def set_aside_file(self, folder_id: str, pattern: str) -> Path:
        """The baseline records an ignore pattern took out of a folder's baseline, kept for
        when the pattern is removed (see app/ignore.py)."""
        named = hashlib.sha256(pattern.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return self.baselines_dir / f"{folder_id}{SET_ASIDE_INFIX}{named}.json"


SET_ASIDE_INFIX = ".ignored."  # in the name of every file of set-aside records


# What fim-tray writes in its two folders, as globs below each (``*`` reaches into subfolders):
# left out of the checks of a watched folder that holds the state. Anything else found there is
# a file like any other, and reported.
OWN_DATA_FILES = (
    "events.jsonl", "events.jsonl.[0-9]*", "lock", "tray.lock", ".*.tmp", "baselines/*.json",
    "baselines/*.json.bak", "baselines/*.json.cache", "baselines/.*.tmp", "snapshots/*",
    "icons/*.png", "icons/.*.tmp", "summary.json",
)  # fmt: skip
OWN_CONFIG_FILES = (
    "config.json", "config.json.bak", "install.key", "generations.json", "history.head", ".*.tmp",
)  # fmt: skip


def folder_id(path: str) -> str:
    """A short stable name for a watched folder's files, derived from its absolute path."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
