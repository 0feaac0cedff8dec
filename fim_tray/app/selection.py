"""A file or folder named by a person, as its watched folder names it: relative, ``/``-separated
(the baseline's keys), and whether a path is one of those selected."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from fim_tray.errors import NotWatchedError
from fim_tray.models import Folder


def relative_name(folder: Folder, name: str) -> str | None:
    """A path given on the command line, as the baseline names it (relative, ``/``-separated);
    None for an absolute path outside the folder."""
    absolute = os.path.abspath(os.path.expanduser(name))
    # The folder is stored resolved: also try the name with its parent folders resolved (not
    # the name itself, which may be a symlink in the folder).
    parent = os.path.realpath(os.path.dirname(absolute))
    for candidate in (absolute, os.path.join(parent, os.path.basename(absolute))):
        rel = os.path.relpath(candidate, folder.path)
        if rel != ".." and not rel.startswith(".." + os.sep):
            return Path(rel).as_posix().strip("/")
    if os.path.realpath(absolute) == folder.path:  # the folder itself, by a symlink
        return "."
    if os.path.isabs(os.path.expanduser(name)):
        return None
    return Path(os.path.normpath(name)).as_posix().strip("/")  # relative to the watched folder


def file_key(folder: Folder, file: str) -> str:
    """A file named by a front end, as the baseline names it: a path relative to the watched
    folder (taken as given, not against the current folder), or absolute."""
    rel = relative_name(folder, file) if os.path.isabs(file) else None
    if not os.path.isabs(file):
        rel = Path(os.path.normpath(file)).as_posix()
    if rel is None or rel in ("", ".", "..") or rel.startswith("../"):
        raise NotWatchedError(f"{file} does not name a file inside {folder.path}.")
    return rel


def is_selected(path: str, selected: Sequence[str]) -> bool:
    """Whether ``path`` is one of ``selected`` or inside one of them ("" or "." is everything)."""
    return selector(selected)(path)


def selector(selected: Iterable[str]) -> Callable[[str], bool]:
    """:func:`is_selected` for many paths: each is looked up with its parent folders in a set,
    so the cost grows with a path's depth, not with how many paths are selected (file events
    can name 16,000 at once)."""
    chosen = set(selected)
    if chosen & {"", "."}:
        return lambda path: True

    def picked(path: str) -> bool:
        if path in chosen:
            return True
        end = path.rfind("/")
        while end > 0:
            if path[:end] in chosen:
                return True
            end = path.rfind("/", 0, end)
        return False

    return picked
