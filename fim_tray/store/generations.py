"""The generation of each folder's saved state, kept signed beside the install key: the commit
point of a save, and what makes an older copy of the data folder show.

Every save of a baseline numbers it one higher and records that number here last. A baseline
older than the number recorded was put back from an earlier copy (refused); a newer one is a save
a crash interrupted after the baseline and before this file (taken as the commit it was). The
file lives in the settings folder, so a copy of the data folder alone cannot roll it back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

from fim_tray import jsonio
from fim_tray.errors import BaselineTamperedError, StorageError

MAX_BYTES = 1 << 20


class Generations:
    """``generations.json``: ``{"folders": {folder id: generation}, "mac": HMAC}``."""

    def __init__(self, path: Path, key: Callable[[], bytes]) -> None:
        self.path = path
        self._key = key

    def _mac(self, folders: dict[str, int]) -> str:
        body = jsonio.dumps({"folders": dict(sorted(folders.items()))})
        return hmac.new(self._key(), body, hashlib.sha256).hexdigest()

    def read(self) -> dict[str, int] | None:
        """Each folder's generation; None when the file is missing (an install older than it,
        or one that never saved a baseline). :class:`BaselineTamperedError` when it does not
        verify."""
        try:
            data = jsonio.read_own(self.path, limit=MAX_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(
                f"The record of saved generations {self.path} cannot be read: "
                f"{exc.strerror or exc}."
            ) from exc
        try:
            obj = jsonio.loads(data)
            folders = {str(k): int(v) for k, v in obj["folders"].items()}
            claimed = obj["mac"]
            valid = isinstance(claimed, str) and claimed.isascii()
            if not (valid and hmac.compare_digest(self._mac(folders), claimed)):
                raise ValueError("its signature does not match")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise BaselineTamperedError(
                f"The record of saved generations {self.path} was altered or damaged ({exc}): "
                "an older copy of the saved state could not be told from the current one. "
                "It was left as it is for you to inspect."
            ) from None
        return folders

    def write(self, folders: dict[str, int]) -> None:
        """Replace the record (atomically and durably: it is the commit point of a save)."""
        obj = {"folders": dict(sorted(folders.items())), "mac": self._mac(folders)}
        jsonio.atomic_write(self.path, jsonio.dumps(obj, pretty=True) + b"\n")
