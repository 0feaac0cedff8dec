"""Open a folder in the platform's file manager, without waiting for it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)


def open_folder(path: str) -> bool:
    """Show ``path`` in the file manager; False (and a log line) when that is not possible."""
    try:
        if sys.platform == "win32":
            os.startfile(path)  # noqa: S606 - the documented way to open a folder on Windows
            return True
        command = ["open", path] if sys.platform == "darwin" else ["xdg-open", path]
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
