"""The words the tray's menu and the Alerts window use for the alert channels."""

from __future__ import annotations

from datetime import datetime

from fim_tray.alerts.state import ChannelState
from fim_tray.alerts.urls import parse
from fim_tray.ui.alerts_view import channel_line, summary

MAIL = parse("mailtos://ann:pw@example.org?to=ann@example.org")
SYSLOG = parse("syslog+tcp://10.0.0.5:514")
AT = datetime(2026, 12, 7, 10, 31)


def test_each_channel_says_when_it_last_sent_or_since_when_and_why_it_does_not() -> None:
    sent = ChannelState(SYSLOG, last_sent=AT)
    assert channel_line(sent) == "Syslog 10.0.0.5:514: last sent 10:31"
    failing = ChannelState(MAIL, waiting=3, failing_since=datetime(2026, 12, 7, 10, 20),
                           reason="connection refused")  # fmt: skip
    assert channel_line(failing) == (
        "Email: not delivered since 10:20: connection refused (3 waiting)"
    )
    assert channel_line(ChannelState(MAIL)) == "Email: nothing sent yet"
    assert "held back by the hourly limit" in channel_line(ChannelState(MAIL, waiting=2, held=True))
    assert "2 dropped" in channel_line(ChannelState(MAIL, dropped=2))


def test_the_summary_line() -> None:
    assert summary([]) == "Alerts: none"
    ok = [ChannelState(SYSLOG, last_sent=AT), ChannelState(MAIL)]
    assert summary(ok) == "Alerts: 2 channels, last sent 10:31"
    failing = ChannelState(MAIL, failing_since=AT, reason="timed out")
    assert summary([ok[0], failing]) == "Email: not delivered since 10:31: timed out"
    assert summary([failing, failing]) == "Alerts: 2 of 2 channels not delivering"
