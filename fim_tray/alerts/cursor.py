"""The alerts' history cursor: up to which history line (and its time) every channel's queue
has what the history holds, signed with the install key when there is one; and whether the
history has gone past it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from fim_tray import jsonio, logs
from fim_tray.alerts import outbox

log = logs.getLogger(__name__)

NAME = "history.cursor"  # in the outbox folder


def behind(cursor_file: Path, following: int | None) -> bool:
    """Whether the history (whose next line is ``following``) holds lines past the cursor:
    read, not checked (a quick look, for whether to start a sender at all)."""
    saved = Cursor(cursor_file).load()
    return saved is None or (following is not None and saved[0] != following - 1)


class Saved(NamedTuple):
    """The cursor: the last history line queued for every channel, its time and its MAC."""

    line: int
    time: datetime | None
    chain: str | None


class Cursor:
    """``{"line": n, "time": ...}``: every history line up to n (written at that time) is in
    every channel's queue, or was; signed with the install key when there is one."""

    def __init__(self, path: Path, key: Callable[[], bytes] | None = None) -> None:
        self.path = path
        self._key = key

    def load(self) -> Saved | None:
        """Where it stands, or None when there is no cursor (or one fim-tray did not write, or
        a damaged one: said)."""
        try:
            obj = jsonio.loads(jsonio.read_own(self.path, limit=4096))
            if not isinstance(obj, dict):
                raise ValueError("not a cursor")
            if not outbox.holds(self._key, "cursor", obj):
                raise ValueError("fim-tray did not write it")
            line, when, chain = obj.get("line"), obj.get("time"), obj.get("chain")
            if not isinstance(line, int) or isinstance(line, bool):
                raise ValueError("no line number")
            return Saved(
                line,
                datetime.fromisoformat(when) if isinstance(when, str) else None,
                chain if isinstance(chain, str) else None,
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RecursionError) as exc:
            log.warning("the alerts' history cursor %s cannot be used (%s)", self.path, exc)
            return None

    def save(self, line: int, when: datetime | None, chain: str | None = None) -> None:
        obj: dict[str, Any] = {
            "line": line, "time": when.isoformat() if when else None, "chain": chain,
        }  # fmt: skip
        outbox.clear_odd(self.path)
        sealed = outbox.sealed(self._key, "cursor", obj)
        jsonio.atomic_write(self.path, jsonio.dumps(sealed) + b"\n")
