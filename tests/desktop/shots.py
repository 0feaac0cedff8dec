"""Screenshots of one window on the test desktop, for the README and for a person to look at."""

from __future__ import annotations

import time
from pathlib import Path

from tests.desktop.conftest import SCREENSHOTS
from tests.desktop.harness import Desktop


def window_shot(desktop: Desktop, window: str, name: str) -> Path:
    """A screenshot of one window (wherever it is on the screen), notifications closed first."""
    path = SCREENSHOTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    desktop.run(["dunstctl", "close-all"])  # a notification over the window is not the window
    time.sleep(0.3)
    result = desktop.run(["import", "-window", window, str(path)])
    assert result.returncode == 0, result.stderr
    return path
