"""The default excludes and the glob matcher that decides which names a scan leaves out."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable

# Editor swap files, OS litter and office lock files: they change constantly and mean nothing.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim's write test file
    ".DS_Store",
    "._*",  # macOS resource forks on foreign disks
    "Thumbs.db",
    "desktop.ini",
    "~$*",  # Microsoft Office lock files
    ".~lock.*#",  # LibreOffice lock files
    ".goutputstream-*",  # GTK's temporary save files
)

Match = Callable[[str], object]


class Excluder:
    """Glob patterns: a pattern without ``/`` matches a name at any depth, one with ``/`` the
    path relative to the watched folder. All patterns are compiled into one regular expression.

    ``name_match`` and ``path_match`` are the compiled matchers (None when there is no pattern
    of that kind): the walk binds them once and tries them on every entry."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = list(patterns)  # read twice below: a generator would be empty the second time
        self.name_match = _compile([p for p in patterns if "/" not in p])
        self.path_match = _compile([p.strip("/") for p in patterns if "/" in p])

    def __call__(self, name: str, rel: str) -> bool:
        return bool(
            (self.name_match is not None and self.name_match(name))
            or (self.path_match is not None and self.path_match(rel))
        )


def _compile(patterns: list[str]) -> Match | None:
    if not patterns:
        return None
    flags = re.IGNORECASE if os.name == "nt" else 0
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), flags).match
