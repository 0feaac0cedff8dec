"""The default excludes and the glob matcher that decides which entries a scan leaves out."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
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

# What a file pattern never hides: a program (any x bit) or a set-uid / set-gid file, whatever its
# name and whoever wrote the pattern. A folder pattern (ending in "/") leaves out all it holds.
PROTECTED = stat.S_ISUID | stat.S_ISGID | 0o111


class Excluder:
    """Glob patterns. A pattern names files (anything but a folder) unless it ends with ``/``,
    then folders only (and all below them). Without another ``/`` it matches a name at any
    depth; with one, the path relative to the watched folder. A file pattern never hides a
    set-uid, set-gid or executable file.

    ``name_match`` and ``path_match`` are the quick test the walk binds once and tries on every
    entry (None when no pattern is of that kind): what matches neither is never excluded, and
    only what matches goes on to :meth:`skips`, which looks at what the entry is."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = list(patterns)  # read more than once below
        defaults = set(DEFAULT_EXCLUDES)
        folders = [p.rstrip("/") for p in patterns if p.endswith("/") and p.strip("/")]
        files = [p for p in patterns if not p.endswith("/") and p not in defaults]
        kept = [p for p in patterns if p in defaults]
        self._folders = _Globs(folders)
        self._files = _Globs(files)
        self._defaults = _Globs(kept)
        every = _Globs([*folders, *files, *kept])
        self.name_match, self.path_match = every.names, every.paths

    def skips(self, name: str, rel: str, is_dir: bool, mode: Callable[[], int]) -> bool:
        """Whether the entry ``rel`` (called ``name``) is left out; ``mode`` gives its
        ``st_mode`` (from lstat), asked for only when a default pattern matches a file."""
        if is_dir:
            return self._folders.match(name, rel)
        if self._files.match(name, rel) or self._defaults.match(name, rel):
            # A name pattern quiets noise; it never hides a program or a set-uid/set-gid file,
            # whoever wrote it (an ignored "*.log" must not blind the check to a binary gaining
            # set-uid under that name). A folder pattern ("cache/") leaves out all it holds.
            return not mode() & PROTECTED
        return False

    def skips_entry(self, child: os.DirEntry[str], rel: str) -> bool:
        """:meth:`skips` for one entry of a listing; one whose details cannot be read is kept
        (the scan then says why it cannot read it)."""
        try:
            is_dir = child.is_dir(follow_symlinks=False)
        except OSError:
            return False

        def mode() -> int:
            try:
                return child.stat(follow_symlinks=False).st_mode
            except OSError:
                return PROTECTED

        return self.skips(child.name, rel, is_dir, mode)

    def skips_folder(self, name: str, rel: str) -> bool:
        """Whether the folder ``rel`` is left out, with all below it."""
        return self._folders.match(name, rel)


class _Globs:
    """Patterns split into those matching a name and those matching a relative path."""

    def __init__(self, patterns: list[str]) -> None:
        self.names = _compile([p for p in patterns if "/" not in p])
        self.paths = _compile([p.strip("/") for p in patterns if "/" in p])

    def match(self, name: str, rel: str) -> bool:
        return bool(
            (self.names is not None and self.names(name))
            or (self.paths is not None and self.paths(rel))
        )


def _compile(patterns: list[str]) -> Match | None:
    if not patterns:
        return None
    flags = re.IGNORECASE if os.name == "nt" else 0
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), flags).match
