"""What every ``fim-tray`` command shares: exit codes, messages on stderr, a folder's state word."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fim_tray.service import FolderStatus

EXIT_OK, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def say(message: str) -> None:
    """A message for the person, on stderr, so stdout stays parseable."""
    print(f"fim-tray: {message}", file=sys.stderr)


def state_word(status: FolderStatus) -> str:
    """``ok``, ``3 pending`` or ``error``, as ``list`` and ``status`` show a folder."""
    if status.error:
        return "error"
    return f"{status.pending} pending" if status.pending else "ok"
