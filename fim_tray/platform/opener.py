"""Open a folder in the platform's file manager, without waiting for it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)


def open_folder(path: str) -> bool:
    """Show the folder ``path`` in the file manager; False (and a log line) when that is not
    possible. Only an absolute path to a folder is opened: handed anything else, ``xdg-open``
    would open a web address, ``open`` launch an application, ``startfile`` run a program."""
    if not (os.path.isabs(path) and os.path.isdir(path)):
        log.warning("not opening %r: not the absolute path of a folder", path)
        return False
    try:
        if sys.platform == "win32":
            os.startfile(path)  # noqa: S606 - the documented way to open a folder on Windows
            return True
        # macOS: -R shows the folder selected in Finder; a plain `open` would launch a folder
        # that is an application bundle (Some.app).
        command = ["open", "-R", path] if sys.platform == "darwin" else ["xdg-open", path]
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        log.warning("cannot open %s in a file manager", path, exc_info=True)
        return False
    return True
