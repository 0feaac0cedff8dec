"""How each channel fares (what waits for it, when it last took a message, since when and why it
takes none), and the small file that keeps this for ``alert list``, the Alerts window and the
next start of the tray or the monitor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.alerts.urls import Channel

log = logs.getLogger(__name__)


@dataclass(frozen=True)
class ChannelState:
    """How one channel fares."""

    channel: Channel
    waiting: int = 0
    last_sent: datetime | None = None
    failing_since: datetime | None = None
    reason: str | None = None  # why it was not delivered, with no secret in it
    dropped: int = 0  # messages dropped because its outbox was full
    held: bool = False  # the hourly limit holds messages back
    spent: tuple[float, ...] = ()  # when the last messages for people went (the hourly limit)
    set_aside: int = 0  # messages the server refused again and again while it took the next


class StatusFile:
    """``{channel id: {"last_sent", "failing_since", "reason"}}`` in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            obj = jsonio.loads(jsonio.read_own(self.path, limit=1024 * 1024))
            return {str(k): v for k, v in obj.items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError):
            return {}

    def reload(self) -> None:
        """Read the file again (another process sent, and saved how it fared)."""
        self._saved = self._load()

    def state(self, channel: Channel) -> ChannelState:
        """The channel's state as last saved (an empty one when none was)."""
        saved = self._saved.get(channel.id, {})

        def when(key: str) -> datetime | None:
            try:
                return datetime.fromisoformat(saved[key]) if saved.get(key) else None
            except (TypeError, ValueError):
                return None

        reason, dropped = saved.get("reason"), saved.get("dropped")
        spent, aside = saved.get("spent"), saved.get("set_aside")
        times = tuple(float(t) for t in spent if _number(t)) if isinstance(spent, list) else ()
        return ChannelState(channel, last_sent=when("last_sent"),
                            failing_since=when("failing_since"),
                            reason=reason if isinstance(reason, str) else None,
                            dropped=dropped if isinstance(dropped, int) else 0,
                            held=saved.get("held") is True, spent=times,
                            set_aside=aside if isinstance(aside, int) else 0)  # fmt: skip

    def save(self, states: Mapping[str, ChannelState]) -> None:
        """Keep ``states`` (by channel id) beside those saved before; never fails."""

        def iso(when: datetime | None) -> str | None:
            return when.isoformat() if when is not None else None

        obj = dict(self._saved)
        for cid, state in list(states.items()):
            obj[cid] = {
                "last_sent": iso(state.last_sent),
                "failing_since": iso(state.failing_since),
                "reason": state.reason,
                "dropped": state.dropped,
                "held": state.held,
                "spent": list(state.spent),
                "set_aside": state.set_aside,
            }
        self._saved = obj
        try:
            jsonio.atomic_write(self.path, jsonio.dumps(obj) + b"\n", durable=False)
        except Exception:  # only what the menu shows after a restart: never fatal
            log.debug("cannot save the alerts' state", exc_info=True)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
