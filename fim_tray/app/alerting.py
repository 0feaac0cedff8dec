"""Alerts beyond the desktop: the channels (add, remove, test) and their delivery. Each new change
is queued in the durable outbox at once and sent by one daemon thread per channel, so a slow or
dead server never delays a check, a desktop notification or another channel."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from fim_tray import __version__, logs
from fim_tray.alerts import channels as store_channels
from fim_tray.alerts.channels import DeliveryError, deliver
from fim_tray.alerts.digest import PER_HOUR, HourlyLimit, fold, notice
from fim_tray.alerts.ecs import Origin
from fim_tray.alerts.outbox import Outbox
from fim_tray.alerts.state import ChannelState, StatusFile
from fim_tray.alerts.urls import Channel, ChannelError, parse
from fim_tray.app.ecs_events import live_ecs, live_events
from fim_tray.app.probe import test_channels
from fim_tray.models import FolderReport
from fim_tray.store.history import History
from fim_tray.store.paths import Paths
from fim_tray.store.state import local_now

log = logs.getLogger(__name__)

BATCH = 200  # messages handed to a machine channel at once
RETRY_FIRST, RETRY_MAX = 2.0, 15.0  # seconds before trying a failing channel again
STATUS = "status.json"  # in the outbox folder: each channel's last success and failure
Deliver = Callable[..., None]


def host_name() -> str:
    return socket.gethostname() or "localhost"


class Alerting:
    """The channels in ``paths.alerts_file`` and the outbox in ``paths.outbox_dir``."""

    def __init__(
        self,
        paths: Paths,
        *,
        host: str | None = None,
        per_hour: int = PER_HOUR,
        timeout: float = store_channels.TIMEOUT,
        retry: tuple[float, float] = (RETRY_FIRST, RETRY_MAX),
        sender: Deliver = deliver,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[], None] | None = None,
        history: History | None = None,
    ) -> None:
        self.paths = paths
        self.host = host or host_name()
        self.origin = Origin(self.host, __version__)
        self.per_hour = per_hour
        self.timeout = timeout
        self.retry = retry
        self.sender = sender
        self.clock = clock
        self.on_change = on_change or (lambda: None)
        self.outbox = Outbox(paths.outbox_dir)
        self.history = history  # to name each event's history line (see live_ecs)
        self.stop = threading.Event()
        self._started = False  # senders run only once started
        self._lock = threading.Lock()
        self._stamp: object = None
        self._channels: list[Channel] = []
        self._workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._states: dict[str, ChannelState] = {}
        self._limits: dict[str, HourlyLimit] = {}
        self.status = StatusFile(paths.outbox_dir / STATUS)

    # -- the channels ------------------------------------------------------------------------

    def channels(self) -> list[Channel]:
        """The channels as the file says now (read again whenever it changed)."""
        path = self.paths.alerts_file
        try:
            st = path.stat()
            stamp: object = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp or stamp is None:
                self._channels = store_channels.load(path) if stamp is not None else []
                self._stamp = stamp
            return list(self._channels)

    def add(self, url: str) -> Channel:
        """Add a channel; :class:`ChannelError` when its URL cannot be used (or is there)."""
        channel = parse(url)
        if channel.kind == "people":
            from fim_tray.alerts import people

            people.check(channel.url)
        known = self.channels()
        if any(c.url == channel.url for c in known):
            raise ChannelError(f"{channel.masked} is already a channel.")
        store_channels.save(self.paths.alerts_file, [*known, channel])
        return channel

    def find(self, url: str) -> Channel:
        """The channel named by its URL, or by the masked URL ``alert list`` shows."""
        known = self.channels()
        exact = [c for c in known if c.url == url.strip()]
        masked = [c for c in known if c.masked == url.strip()]
        if exact or len(masked) == 1:
            return (exact or masked)[0]
        if masked:
            raise ChannelError("several channels look like that once masked: give the full URL.")
        raise ChannelError("no such channel: `fim-tray alert list` shows them.")

    def _named(self, url: str) -> Channel:
        """A channel, or a URL not added yet (tested before it is added)."""
        try:
            return self.find(url)
        except ChannelError:
            channel = parse(url)
            if channel.kind == "people":
                from fim_tray.alerts import people

                people.check(channel.url)
            return channel

    def remove(self, url: str) -> Channel:
        channel = self.find(url)
        store_channels.save(self.paths.alerts_file, [c for c in self.channels() if c != channel])
        self.outbox.forget(channel.id)
        return channel

    def test(self, url: str | None = None) -> list[tuple[Channel, str | None]]:
        """Send a test message to one channel (or a URL not added yet) or to each, at once:
        each channel with None when it was delivered, else the reason (see probe.py)."""
        targets = [self._named(url)] if url is not None else self.channels()
        return test_channels(targets, self.sender, host=self.host, timeout=self.timeout)

    # -- queueing ----------------------------------------------------------------------------

    def on_report(self, report: FolderReport) -> None:
        """Queue the report's new changes for every channel (on disk before this returns) and
        wake the senders. Never raises: alerting must not stop the watching."""
        if not report.new or report.error is not None:
            return
        try:
            targets = self.channels()
            if not targets:
                return
            when = report.time.isoformat()
            machine = [
                {"event": event, "time": when}
                for event in live_ecs(report, self.origin, self.history)
            ]
            person = [notice(live_events(report), self.host)]
            for channel in targets:
                lost = self.outbox.put(channel.id, person if channel.kind == "people" else machine)
                if lost:  # the outbox is full: said in the menu and by `alert list`
                    self._update(channel, dropped=self.outbox.dropped.get(channel.id, lost))
        except Exception:  # a full disk, a bug: logged; the desktop still hears of it
            log.warning("could not queue the alerts of %s", report.folder.path, exc_info=True)
        self.refresh()  # a channel added since (by `fim-tray alert add`) gets its sender
        self.wake()

    def wake(self) -> None:
        for _, event in list(self._workers.values()):
            event.set()

    # -- the senders ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or stop) a sender per channel to match the channel file; call again after a
        change of channels (``on_report`` and ``refresh`` do)."""
        self._started = True
        self.refresh()

    def refresh(self) -> None:
        if not self._started:
            return
        try:
            current = {c.id: c for c in self.channels()}
        except Exception as exc:  # a damaged channel file: said once, the rest carries on
            log.warning("%s", exc)
            return
        with self._lock:
            for cid in [cid for cid in self._workers if cid not in current]:
                self._workers.pop(cid)[1].set()  # removed (here, or by `alert remove`)
                self._states.pop(cid, None)
                self.outbox.forget(cid)
            for cid, channel in current.items():
                if cid not in self._workers and not self.stop.is_set():
                    wake = threading.Event()
                    name = f"fim-tray-alerts-{cid}"
                    thread = threading.Thread(
                        target=self._run, args=(channel, wake), name=name, daemon=True
                    )
                    self._workers[cid] = (thread, wake)
                    self._states.setdefault(cid, self.status.state(channel))
                    thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop every sender; what was not sent stays in the outbox for the next start."""
        self.stop.set()
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        for _, wake in workers:
            wake.set()
        deadline = time.monotonic() + timeout
        for thread, _ in workers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def states(self) -> list[ChannelState]:
        """Each channel's state: as this process saw it, else as the last one that sent
        (the tray or a monitor) left it."""
        found = []
        for channel in self.channels():
            state = self._state(channel)
            waiting = self.outbox.waiting(channel.id)
            dropped = max(state.dropped, self.outbox.dropped.get(channel.id, 0))
            found.append(replace(state, channel=channel, waiting=waiting, dropped=dropped))
        return found

    def _run(self, channel: Channel, wake: threading.Event) -> None:
        delay = 0.0
        while not self.stop.is_set() and self._is_current(channel, wake):
            self.refresh()  # the channel file changed? (then this sender may have to stop)
            if not self._is_current(channel, wake):
                break
            try:
                ok = self._drain(channel)
            except Exception:  # a bug must not end the sending
                log.warning("sending to %s failed", channel.masked, exc_info=True)
                ok = False
            if ok:
                delay = 0.0
                wake.wait(self._limit_wait(channel))
            else:
                delay = min(self.retry[1], max(self.retry[0], delay * 2))
                wake.wait(delay)
            wake.clear()

    def _is_current(self, channel: Channel, wake: threading.Event) -> bool:
        """Whether this sender still serves ``channel`` (a removed channel's stops)."""
        with self._lock:
            worker = self._workers.get(channel.id)
        return worker is not None and worker[1] is wake

    def _limit_wait(self, channel: Channel) -> float | None:
        state = self._states.get(channel.id)
        return 60.0 if state is not None and state.held else None

    def _drain(self, channel: Channel) -> bool:
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
            if self._state(channel).failing_since is not None:
                log.warning("alerts to %s delivered again", channel.name)
            self._update(channel, last_sent=local_now(), failing_since=None, reason=None)
        return True

    def _send_people(self, channel: Channel, batch: Sequence[dict[str, Any]]) -> int:
        """Messages for people, within the hourly limit: each on its own while there is room,
        the rest folded into one digest. How many left the outbox (0: all held back; -1: not
        delivered)."""
        limit = self._limits.setdefault(channel.id, HourlyLimit(self.per_hour))
        room = limit.room(self.clock())
        self._update(channel, held=room == 0)
        if room == 0:
            return 0
        if len(batch) <= room or room > 1:
            message, count = batch[0], 1
        else:  # the last message this hour: everything waiting, in one digest
            message, count = fold(batch), len(batch)
        try:
            self.sender(channel, [message], host=self.host, timeout=self.timeout)
        except DeliveryError as exc:
            self._failed(channel, str(exc))
            return -1
        limit.spend(self.clock())
        return count

    def _failed(self, channel: Channel, reason: str) -> None:
        state = self._state(channel)
        if state.reason != reason:  # said once, not at every retry
            log.warning("alerts to %s not delivered (they wait, and are sent again): %s",
                        channel.name, reason)  # fmt: skip
        self._update(channel, failing_since=state.failing_since or local_now(), reason=reason)

    def _state(self, channel: Channel) -> ChannelState:
        """As this process saw it, else as it was saved (by this or an earlier run)."""
        return self._states.get(channel.id) or self.status.state(channel)

    def _update(self, channel: Channel, **changes: Any) -> None:
        state = self._state(channel)
        new = replace(state, **changes)
        self._states[channel.id] = new
        if new != state:
            self.status.save(self._states)
            self.on_change()
