"""Whether each watched folder is still the folder it was: unmounted, deleted, renamed or
replaced folders lose their file events without a word, so the monitor looks every few seconds.

One ``lstat`` per folder: the folder's device and inode, or None when nothing (or no folder) is
at its path. A change either way is what the monitor acts on: it checks that folder at once (a
missing folder is an error, a folder back is compared with its baseline) and arms its file
events again.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

LOOK_EVERY = 2.0  # seconds between looks

Identity = tuple[int, int] | None


def identity(path: str) -> Identity:
    """The folder at ``path`` as (device, inode); None when it is missing or not a folder (a
    link in its place included: it is never followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class Presence:
    """The identity of each folder as last seen."""

    def __init__(self) -> None:
        self._seen: dict[str, Identity] = {}

    def changed(self, folders: Iterable[str]) -> list[str]:
        """The folders whose identity changed since the last look (a folder seen for the first
        time only starts being followed)."""
        found = []
        now = {path: identity(path) for path in folders}
        for path, ident in now.items():
            if path in self._seen and self._seen[path] != ident:
                found.append(path)
        self._seen = now
        return found

    def missing(self, path: str) -> bool:
        """Whether ``path`` was missing at the last look."""
        return path in self._seen and self._seen[path] is None
