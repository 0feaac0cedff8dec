"""What is known of each watched folder without scanning it: files in its baseline, when it was
last checked, its pending changes and its last error."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from fim_tray.errors import FimError
from fim_tray.models import Folder
from fim_tray.store.state import Store


class FolderStatus(NamedTuple):
    """One line of ``fim-tray list``: what is known of a watched folder without scanning it."""

    folder: Folder
    files: int | None
    checked: datetime | None
    pending: int
    error: str | None


def status(store: Store) -> list[FolderStatus]:
    """Per folder: file count in the baseline, last check, pending changes, last error."""
    statuses = []
    for folder in store.folders():
        pending: dict[str, object] = {}
        files: int | None = None
        try:
            pending = store.pending(folder).read()
            error = pending.get("error")
            files = store.entry_count(folder)  # the head of its index: not the whole baseline
        except FimError as exc:
            error = exc.message
        checked = pending.get("checked")
        signatures = pending.get("signatures")
        statuses.append(
            FolderStatus(
                folder,
                files,
                datetime.fromisoformat(checked) if isinstance(checked, str) else None,
                len(set(signatures)) if isinstance(signatures, list) else 0,
                error if isinstance(error, str) else None,
            )
        )
    return statuses
