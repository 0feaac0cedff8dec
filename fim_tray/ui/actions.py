"""What the details window shows of a file's content and how it puts a file back: thin calls
into the engine's diff and restore, in the window's own process, with plain-word results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fim_tray.app.service import Service
from fim_tray.errors import FimError
from fim_tray.store.names import decode_name, name_from


@dataclass(frozen=True)
class Outcome:
    """One action's result: ``ok`` done, else ``message`` says why not; ``ask`` when the
    person may choose to go ahead anyway (the file changed again since it was shown)."""

    ok: bool
    message: str
    ask: bool = False
    changed: bool = True  # False: it was already as wanted, nothing was touched


def diff_lines(service: Service, item: dict[str, Any]) -> tuple[str, list[str]]:
    """A plain sentence, and the unified diff's lines when there is one."""
    try:
        result = service.diff(_folder(item), decode_name(item))
    except (FimError, KeyError, ValueError) as exc:
        return (getattr(exc, "message", str(exc)), [])
    lines = list(result.lines)
    if result.truncated:
        lines.append("... (cut here: the diff is too long to show in full)")
    return (result.message, lines)


def restore(service: Service, item: dict[str, Any], *, force: bool = False) -> Outcome:
    """Put the file back as the baseline has it, unless it changed again since it was shown
    (then ``ask``: the window asks before overwriting, and calls again with ``force``)."""
    from fim_tray.errors import RestoreRefused

    try:
        result = service.restore(
            _folder(item),
            decode_name(item),
            expected_signature=None if force else item.get("signature"),
            force=force,
        )
    except RestoreRefused as exc:
        return Outcome(False, exc.message, ask=not force)
    except (FimError, KeyError, ValueError) as exc:
        return Outcome(False, getattr(exc, "message", str(exc)))
    return Outcome(True, " ".join([result.message, *result.notes]), changed=result.restored)


def keeps_copies(service: Service, item: dict[str, Any]) -> bool:
    """Whether the item's watched folder keeps copies (so a file of it can be restored)."""
    try:
        folder = service.config().find(_folder(item))
    except FimError:
        return False
    return folder is not None and folder.keep_copies


def watched_folder(service: Service, item: dict[str, Any]) -> str | None:
    """The item's folder when it is a watched one, else None: what the window may open."""
    folder = _folder(item)
    try:
        watched = {f.path for f in service.folders()}
    except FimError:
        return None
    return folder if folder in watched else None


def _folder(item: dict[str, Any]) -> str:
    """The watched folder of an item (``folder``, or ``folder_b64`` for a name not UTF-8)."""
    return name_from(item, "folder") or ""
