"""How one channel's messages leave the outbox: machines take a batch at a time, people one
message at a time within the hourly limit (what waits beyond it goes as one digest); and how
each channel fares, kept in the status file for ``alert list``, the menu and the next start."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from fim_tray import logs
from fim_tray.alerts.channels import DeliveryError
from fim_tray.alerts.digest import HourlyLimit, fold
from fim_tray.alerts.outbox import Outbox
from fim_tray.alerts.state import ChannelState, StatusFile
from fim_tray.alerts.urls import Channel
from fim_tray.store.state import local_now

log = logs.getLogger(__name__)

BATCH = 200  # messages handed to a machine channel at once
REFUSED_AFTER = 3  # times a message for people is refused before the next one is tried
Deliver = Callable[..., None]


class Delivery:
    """Sends what waits in ``outbox`` with ``sender``; safe to use from one thread per
    channel."""

    def __init__(
        self,
        outbox: Outbox,
        status: StatusFile,
        *,
        sender: Deliver,
        host: str,
        timeout: float,
        per_hour: int,
        clock: Callable[[], float],
        on_change: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        self.outbox = outbox
        self.status = status
        self.sender = sender
        self.host = host
        self.timeout = timeout
        self.per_hour = per_hour
        self.clock = clock
        self.on_change = on_change
        self.stop = stop
        self.states: dict[str, ChannelState] = {}  # as this process saw each channel fare
        self.limits: dict[str, HourlyLimit] = {}
        self.refused: dict[str, int] = {}  # times in a row the first message was refused
        self._lock = threading.Lock()  # one change of a channel's state at a time

    def reset(self) -> None:
        """Forget what this process saw: another process sent since (see Alerting.take)."""
        self.status.reload()
        self.states.clear()
        self.limits.clear()

    def forget(self, channel_id: str) -> None:
        self.states.pop(channel_id, None)

    def held(self, channel: Channel) -> bool:
        """Whether the hourly limit holds messages back, as this process's sender found."""
        mine = self.states.get(channel.id)
        return mine is not None and mine.held and channel.id in self.limits

    def limit_wait(self, channel: Channel) -> float | None:
        """How long a sender waits before it looks again (None: until woken)."""
        state = self.states.get(channel.id)
        return 60.0 if state is not None and state.held else None

    def drain(self, channel: Channel) -> bool:
        """Send what waits for ``channel``; False when it failed (retried later)."""
        while not self.stop.is_set():
            batch = self.outbox.peek(channel.id, BATCH)
            if not batch:
                return True
            if channel.kind == "people":
                sent = self._send_people(channel, batch)
                if sent < 0:
                    return False
            else:
                try:
                    self.sender(channel, batch, host=self.host, timeout=self.timeout)
                except DeliveryError as exc:
                    self._failed(channel, str(exc))
                    return False
                sent = len(batch)
            if sent == 0:
                return True  # held back by the hourly limit
            self.outbox.done(channel.id, sent)
            if self.state(channel).failing_since is not None:
                log.warning("alerts to %s delivered again", channel.name)
            self.update(channel, last_sent=local_now(), failing_since=None, reason=None)
        return True

    def _send_people(self, channel: Channel, batch: Sequence[dict[str, Any]]) -> int:
        """Messages for people, within the hourly limit: each on its own while there is room,
        the rest folded into one digest. How many left the outbox (0: all held back; -1: not
        delivered)."""
        limit = self.limits.get(channel.id)
        if limit is None:  # as the last process that sent left it: a restart resets nothing
            limit = HourlyLimit(self.per_hour, self.state(channel).spent)
            self.limits[channel.id] = limit
        room = limit.room(self.clock())
        self.update(channel, held=room == 0)
        if room == 0:
            return 0
        if len(batch) <= room or room > 1:
            message, count = batch[0], 1
        else:  # the last message this hour: everything waiting, in one digest
            message, count = fold(batch), len(batch)
        try:
            self.sender(channel, [message], host=self.host, timeout=self.timeout)
        except DeliveryError as exc:
            tries = self.refused[channel.id] = self.refused.get(channel.id, 0) + 1
            alone = count == 1 and len(batch) > 1  # a digest refused is retried as it is
            if tries >= REFUSED_AFTER and alone and self._goes(channel, batch[1]):
                limit.spend(self.clock())
                self.refused[channel.id] = 0
                if self._goes(channel, message):  # the server was down, and is back: both went
                    limit.spend(self.clock())
                    self.update(channel, spent=limit.sent())
                    return 2
                # The server takes the next message, and still not this one (its words, say):
                # it is set aside, counted and said, so one file's name never silences the rest.
                log.warning("a message for %s was refused %d times while the next one went: set "
                            "aside (%s)", channel.name, tries + 1, exc)  # fmt: skip
                state = self.state(channel)
                self.update(channel, spent=limit.sent(), set_aside=state.set_aside + 1)
                return 2
            self._failed(channel, str(exc))
            return -1
        self.refused[channel.id] = 0
        limit.spend(self.clock())
        self.update(channel, spent=limit.sent())
        return count

    def _goes(self, channel: Channel, message: dict[str, Any]) -> bool:
        try:
            self.sender(channel, [message], host=self.host, timeout=self.timeout)
        except DeliveryError:
            return False  # the channel is down, not the one message
        return True

    def _failed(self, channel: Channel, reason: str) -> None:
        state = self.state(channel)
        if state.reason != reason:  # said once, not at every retry
            log.warning("alerts to %s not delivered (they wait, and are sent again): %s",
                        channel.name, reason)  # fmt: skip
        self.update(channel, failing_since=state.failing_since or local_now(), reason=reason)

    def state(self, channel: Channel) -> ChannelState:
        """As this process saw it, else as it was saved (by this or an earlier run)."""
        return self.states.get(channel.id) or self.status.state(channel)

    def update(self, channel: Channel, **changes: Any) -> None:
        """Change how ``channel`` fares (from its sender's thread, or the queueing one)."""
        with self._lock:
            state = self.state(channel)
            new = replace(state, **changes)
            self.states[channel.id] = new
            if new != state:
                self.status.save(dict(self.states))
        if new != state:
            self.on_change()
