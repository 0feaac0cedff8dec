"""A test message to alert channels, sent at once (not through the outbox), each channel on a
thread of its own, and an answer for each within a bounded time: a silent server is reported as
such, never waited for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from fim_tray import __version__
from fim_tray.alerts.channels import DeliveryError
from fim_tray.alerts.digest import local_time
from fim_tray.alerts.ecs import utc
from fim_tray.alerts.urls import Channel
from fim_tray.store.state import local_now

GRACE = 5.0  # seconds a test may run past its timeouts before it is reported as hung


def test_message(channel: Channel, host: str) -> dict[str, Any]:
    """A notice for people, an ECS event (``event.action: test``) for machines."""
    now = local_now()
    text = f"A test message from fim-tray on {host}, sent at {local_time(now)}."
    if channel.kind == "people":
        return {"title": "fim-tray: test message", "body": text}
    event = {
        "@timestamp": utc(now),
        "event": {"kind": "event", "module": "fim_tray", "dataset": "fim_tray.test",
                  "action": "test"},
        "message": text,
        "host": {"name": host},
        "agent": {"name": "fim-tray", "type": "fim-tray", "version": __version__},
    }  # fmt: skip
    return {"event": event, "time": now.isoformat()}


def test_channels(
    channels: Sequence[Channel], sender: Callable[..., None], *, host: str, timeout: float
) -> list[tuple[Channel, str | None]]:
    """Each channel with None when it took the test message, else the reason."""
    results: dict[str, str | None] = {}

    def one(channel: Channel) -> None:
        try:
            sender(channel, [test_message(channel, host)], host=host, timeout=timeout)
            results[channel.id] = None
        except DeliveryError as exc:
            results[channel.id] = str(exc)

    threads = []
    for channel in channels:
        thread = threading.Thread(
            target=one, args=(channel,), daemon=True, name=f"fim-tray-alert-test-{channel.id}"
        )
        thread.start()
        threads.append(thread)
    wait = timeout * 2 + GRACE  # a connect and a read, each bounded by ``timeout``
    deadline = time.monotonic() + wait
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    silent = f"no answer within {wait:g} s"
    return [(c, results.get(c.id, silent)) for c in channels]
