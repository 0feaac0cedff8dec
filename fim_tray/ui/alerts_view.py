"""What the tray's menu and the Alerts window say of the alert channels, as plain text: one
summary line ("Alerts: 2 channels, last sent 10:31") and a line per channel ("Email: not
delivered since 10:20: connection refused"). No pystray here: tested headless."""

from __future__ import annotations

from collections.abc import Sequence

from fim_tray.alerts.state import ChannelState
from fim_tray.display import escape

REASON = 60  # characters of a failure's reason shown in the menu


def channel_line(state: ChannelState) -> str:
    name = state.channel.name
    if state.failing_since is not None:
        reason = escape(state.reason or "not delivered")
        if len(reason) > REASON:
            reason = reason[: REASON - 3] + "..."
        line = f"{name}: not delivered since {state.failing_since:%H:%M}: {reason}"
    elif state.held:
        line = f"{name}: {state.waiting} held back by the hourly limit"
    elif state.last_sent is not None:
        line = f"{name}: last sent {state.last_sent:%H:%M}"
    else:
        line = f"{name}: nothing sent yet"
    if state.waiting and state.failing_since is not None:
        line += f" ({state.waiting} waiting)"
    if state.dropped:
        line += f" ({state.dropped} dropped: the outbox was full)"
    if state.set_aside:
        line += f" ({state.set_aside} set aside: the server refused them)"
    return line


def summary(states: Sequence[ChannelState]) -> str:
    if not states:
        return "Alerts: none"
    failing = [s for s in states if s.failing_since is not None]
    if len(failing) == 1:
        return channel_line(failing[0])
    if failing:
        return f"Alerts: {len(failing)} of {len(states)} channels not delivering"
    count = f"{len(states)} channel{'s' if len(states) != 1 else ''}"
    sent = [s.last_sent for s in states if s.last_sent is not None]
    return f"Alerts: {count}, last sent {max(sent):%H:%M}" if sent else f"Alerts: {count}"
