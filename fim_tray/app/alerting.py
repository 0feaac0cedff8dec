"""Alerts beyond the desktop: the channels (add, remove, test), the queueing of each new change in
the durable outbox, and the senders' threads (one per channel, see alert_delivery.py), so a slow
or dead server never delays a check, a desktop notification or another channel.

One process at a time fills and empties the outbox (it holds ``sender.lock`` there): the tray,
``monitor``, or the short-lived sender a one-shot ``check`` starts. What it queues follows the
history (see alert_feed.py), so a change recorded by any process reaches every channel once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from fim_tray import __version__, jsonio, logs
from fim_tray.alerts import channels as store_channels
from fim_tray.alerts import outbox as outbox_files
from fim_tray.alerts.channels import deliver
from fim_tray.alerts.cursor import NAME as CURSOR
from fim_tray.alerts.cursor import Cursor, Saved
from fim_tray.alerts.digest import PER_HOUR, HourlyLimit, notice
from fim_tray.alerts.ecs import Origin, ecs_event
from fim_tray.alerts.outbox import Outbox
from fim_tray.alerts.state import ChannelState, StatusFile
from fim_tray.alerts.urls import Channel, ChannelError, parse
from fim_tray.app import alert_feed
from fim_tray.app.alert_delivery import Deliver, Delivery
from fim_tray.app.ecs_events import live_items
from fim_tray.app.probe import test_channels
from fim_tray.display import notice_detail
from fim_tray.errors import FimError
from fim_tray.models import Event, FolderReport
from fim_tray.store.history import History, event_change
from fim_tray.store.lock import InstanceLock
from fim_tray.store.paths import Paths
from fim_tray.store.state import local_now

log = logs.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 2.0, 15.0  # seconds before trying a failing channel again
STATUS = "status.json"  # in the outbox folder: each channel's last success and failure
SENDER_LOCK = "sender.lock"  # in the outbox folder: held by the one process that sends
FEED_EVERY = 3.0  # seconds between looks at the history for changes another process recorded
LOCK_WAIT = 5.0  # seconds a check's sender waits for another sender to end
REWIND = 3600.0  # seconds of history sent again when nothing says how far the channels got

_BEGINS_AGAIN = ("the history begins again (it was started afresh, or an older copy put back): "
                 "alerts follow its lines written after the last one sent")  # fmt: skip
# One message's worth: the history line it came from (None: not in the history), its ECS
# event, and the change as an event (for the words meant for people).
Item = tuple["int | None", dict[str, Any], Event]


def _usable(url: str) -> Channel:
    """The channel ``url`` names, when it can be used (a channel for people: apprise can);
    :class:`ChannelError` otherwise."""
    channel = parse(url)
    if channel.kind == "people":
        from fim_tray.alerts import people

        people.check(channel.url)
    return channel


def change_words(event: Event) -> str:
    """What changed in ``event``, in the desktop notification's words."""
    change = event_change(event)
    return notice_detail(change) if change is not None else ""


def _bursts(items: list[Item]) -> list[list[Item]]:
    """``items`` in runs of one check of one folder (the same folder and time), as the
    desktop notifications group them: one message for people each."""
    runs: list[list[Item]] = []
    for item in items:
        ev = item[2]
        if runs and (runs[-1][-1][2].folder, runs[-1][-1][2].time) == (ev.folder, ev.time):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


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
        clock: Callable[[], float] = time.time,
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
        key = history.key_source if history is not None else None
        self.outbox = Outbox(paths.outbox_dir, key=key)
        self.history = history  # to name each event's history line (see live_items)
        self.stop = threading.Event()
        self._started = False  # senders run only once started
        self._lock = threading.Lock()
        self._stamp: object = None
        self._channels: list[Channel] = []
        self._workers: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self.status = StatusFile(paths.outbox_dir / STATUS)
        self.delivery = Delivery(
            self.outbox, self.status, sender=sender, host=self.host, timeout=timeout,
            per_hour=per_hour, clock=clock, on_change=self.on_change, stop=self.stop,
        )  # fmt: skip
        self.cursor = Cursor(paths.outbox_dir / CURSOR, key)
        self._sender = InstanceLock(paths.outbox_dir / SENDER_LOCK)
        self._own = False  # whether this process holds the sender lock
        self._fed: object = None  # the history's stamp when it was last followed
        self._feed_lock = threading.Lock()
        self._follower: threading.Thread | None = None
        self._said = ""  # the last trouble said (not again at every look)
        self._saw_none = False  # this process saw no channel at its last look
        self._unrecorded: dict[str, bool] = {}  # changes sent that the history could not hold

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
        channel = _usable(url)
        known = self.channels()
        if any(c.url == channel.url for c in known):
            raise ChannelError(f"{channel.masked} is already a channel.")
        if not known and self.history is not None:
            # The first channel hears of changes from now on, not of the history before it
            # (unless a sender at work places the cursor: it follows the history already).
            held = self._own
            if self.take():
                try:
                    self.cursor.save(alert_feed.newest(self.history), local_now())
                finally:
                    if not held and not self._started:
                        self._release()
        store_channels.save(self.paths.alerts_file, [*known, channel])
        return channel

    def find(self, url: str) -> Channel:
        """The channel named by its URL, or by the masked URL ``alert list`` shows."""
        known = self.channels()
        given = url.strip()
        try:  # another spelling of the same destination (as `alert add` would store it)
            spelled = parse(given, look=False).url
        except ChannelError:
            spelled = given
        exact = [c for c in known if c.url in (given, spelled)]
        # as `alert list` shows it, also as an earlier version did (a header's + as a space)
        masked = [c for c in known if given in (c.masked, c.masked.replace("?+", "? "))]
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
            return _usable(url)

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

    def take(self) -> bool:
        """Whether this process fills and empties the outbox (it takes the sender lock when
        no other process holds it)."""
        with self._lock:
            if not self._own and not self.stop.is_set():
                try:
                    self._own = self._sender.acquire()
                except FimError as exc:
                    outbox_files.clear_odd(self.paths.outbox_dir, folder=True)  # planted things
                    outbox_files.clear_odd(self._sender.path)
                    try:
                        self._own = self._sender.acquire()
                    except FimError:  # a data folder that cannot be written
                        self._say_once(f"alerts cannot be sent now: {exc.message}")
                if self._own:  # the queues as the last sender left them, not as seen before
                    self.outbox.reload()
                    self.delivery.reset()
            return self._own

    def _say_once(self, message: str) -> None:
        if message != self._said:
            log.warning("%s", message)
            self._said = message

    def on_report(self, report: FolderReport) -> None:
        """Queue the report's new changes, and any change the history holds that no channel
        has yet, for every channel (on disk before this returns), and wake the senders. Never
        raises: alerting must not stop the watching."""
        live = report if report.new else None
        self.feed(live)
        self.refresh()  # a channel added since (by `fim-tray alert add`) gets its sender
        self.wake()

    def feed(self, report: FolderReport | None = None) -> int:
        """Queue what the history holds past the cursor (and ``report``'s new changes, as
        found: with the writing process and inode the history leaves out); how many changes
        were queued. Never raises."""
        try:
            with self._feed_lock:
                return self._feed(report)
        except (OSError, FimError) as exc:  # a full disk: said once; the desktop still hears
            reason = exc.message if isinstance(exc, FimError) else jsonio.write_failure(exc)
            self._say_once(f"could not queue alerts (they follow once it can be): {reason}")
        except Exception:  # a bug: logged in full
            log.warning("could not queue alerts", exc_info=True)
        return 0

    def _feed(self, report: FolderReport | None) -> int:
        if self.history is None:  # nothing to follow: the report's changes only
            if report is None or not self.take():
                return 0
            live = live_items(report, self.origin, None)
            return self._queue([(None, ecs, ev) for ecs, ev, _ in live], None)
        stamp = self.history.stamp()
        if report is None and stamp == self._fed:
            return 0  # nothing written since the last look
        if not self.take():
            return 0  # another process sends: it follows the history too
        if not self.channels():  # nothing to follow for
            self._saw_none, self._fed = True, stamp
            return 0
        live = live_items(report, self.origin, self.history) if report is not None else []
        numbered = {chain.line: (ecs, ev) for ecs, ev, chain in live if chain is not None}
        if self._saw_none:  # the first channel since: it hears of changes from now on
            self._saw_none = False
            start = min(numbered) - 1 if numbered else alert_feed.newest(self.history)
            self.cursor.save(start, local_now())
        saved = self.cursor.load()
        cursor, floor = self._start(saved, numbered)
        expect = saved.chain if saved is not None and floor is None else None
        followed = alert_feed.after(self.history, cursor, expect=expect, since=floor)
        if followed.diverged and saved is not None:  # its numbers were given again
            cursor, floor = self._begun_again(saved)
            followed = alert_feed.after(self.history, cursor, since=floor)
        items: list[Item] = []
        for change in followed.found:
            if self._unrecorded.pop(f"{change.event.folder}\0{change.event.signature}", None):
                continue  # sent when the history could not hold it
            ecs, ev = numbered.get(change.line) or (
                ecs_event(change.event, self.origin, chain=change.chain),
                change.event,
            )
            items.append((change.line, ecs, ev))
        if report is not None and (report.warning or report.error) is not None:
            # Found, but the history could not be written (a full disk, a link planted in its
            # place): sent all the same, once while this process runs (each check finds it
            # anew). Otherwise a change not found among the newest lines was recorded long ago.
            for ecs, ev, chain in live:
                key = f"{ev.folder}\0{ev.signature}"
                if chain is None and key not in self._unrecorded:
                    self._unrecorded[key] = True
                    items.append((None, ecs, ev))
        if followed.cut:  # more than a queue holds, at once: counted as dropped, and shown
            for channel in self.channels():
                self.outbox.dropped[channel.id] = self.outbox.dropped.get(channel.id, 0) + (
                    followed.cut
                )
                self.delivery.update(channel, dropped=self.outbox.dropped[channel.id])
        moved = saved is None or followed.top != saved.line or followed.diverged
        queued = self._queue(items, followed[1:4] if moved else None)
        self._fed = stamp
        return queued

    def _start(
        self, saved: Saved | None, numbered: Mapping[int, object]
    ) -> tuple[int, datetime | None]:
        """Where to follow the history from (the cursor, or the best guess without one), and
        the time up to which its lines were sent when its numbers began again."""
        assert self.history is not None
        targets = self.channels()
        following = self.history.next_number()  # what the signed head says comes next
        if following is not None and saved is not None and saved.line >= following:
            # The head is written just after the lines: a line newer than it is no restart.
            following = max(following, alert_feed.newest(self.history) + 1)
        if saved is not None and (following is None or saved.line < following):
            return saved.line, None
        if saved is not None:
            return self._begun_again(saved)
        # No cursor (the first look, or a damaged one): after what every channel has queued,
        # else from this report's changes, else from now.
        if following is not None:
            for channel in targets:  # numbers from before the history began again
                self.outbox.clamp(channel.id, following - 1)
        marks = [self.outbox.line(channel.id) for channel in targets]
        if marks and min(marks) >= 0:  # each channel's own marks keep the others from repeats
            return min(marks), None
        if numbered:
            return min(numbered) - 1, None
        # Nothing says how far the channels got (the outbox was taken away): what the last
        # hour wrote goes out again rather than be lost.
        log.warning("the alerts' cursor is gone: the changes of the last hour are sent again")
        return -1, local_now() - timedelta(seconds=REWIND)

    def _begun_again(self, saved: Saved) -> tuple[int, datetime | None]:
        """The history was started afresh, or an older copy put back, and its numbers are
        given again: follow it from its first line, sending what was written after the last
        line sent (by its time)."""
        log.warning(_BEGINS_AGAIN)
        for channel in self.channels():
            self.outbox.clamp(channel.id, -1)
        return -1, saved.time

    def _queue(
        self, items: list[Item], cursor: tuple[int, datetime | None, str | None] | None
    ) -> int:
        """Put ``items`` in every channel's queue, then move the cursor to ``cursor`` (a line
        and its time); how many items there were for a channel."""
        targets = self.channels()
        if items and targets:
            machine = [{"event": ecs, "time": ev.time.isoformat()} for _, ecs, ev in items]
            machine_lines = [line for line, _, _ in items]
            person, person_lines = [], []
            for group in _bursts(items):
                person.append(notice([ev for _, _, ev in group], self.host, change_words))
                numbers = [line for line, _, _ in group if line is not None]
                person_lines.append(max(numbers) if numbers else None)
            for channel in targets:
                people = channel.kind == "people"
                lost = self.outbox.put(
                    channel.id, person if people else machine,
                    person_lines if people else machine_lines,
                )  # fmt: skip
                if lost:  # the outbox is full: said in the menu and by `alert list`
                    self.delivery.update(channel, dropped=self.outbox.dropped.get(channel.id, lost))
        if cursor is not None:
            self.cursor.save(*cursor)
        return len(items) if targets else 0

    def wake(self) -> None:
        for _, event in list(self._workers.values()):
            event.set()

    # -- the senders ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or stop) a sender per channel to match the channel file; call again after a
        change of channels (``on_report`` and ``refresh`` do). Also follows the history for
        changes another process recorded (a one-shot ``check``), every few seconds."""
        if not self._started:
            self._started = True
            follower = threading.Thread(target=self._follow, name="fim-tray-alerts-feed",
                                        daemon=True)  # fmt: skip
            self._follower = follower
            follower.start()
        self.refresh()

    def _follow(self) -> None:
        while not self.stop.wait(FEED_EVERY):
            if self.feed():
                self.wake()
            self.refresh()  # senders start once this process holds the sender lock

    def deliver(self, within: float) -> bool:
        """Queue what the history holds past the cursor and send what waits, for at most
        ``within`` seconds (what is not delivered by then waits for the next sender): the
        short-lived sender a one-shot ``check`` starts. False when another process sends."""
        begun = time.monotonic()
        end = begun + within
        # A sender about to end may hold the lock still: wait a moment for it (the tray or a
        # monitor holds it for good, and follows the history, this check's lines too).
        while not self.take():
            if time.monotonic() - begun > min(LOCK_WAIT, within) or self.stop.wait(0.2):
                return False
        self.feed()
        self.start()
        try:
            while time.monotonic() < end and not self.stop.is_set():
                if all(self._done(channel) for channel in self.channels()):
                    # a line another check wrote since the last look: sent before leaving
                    if not self.feed():
                        break
                    self.wake()
                time.sleep(0.1)
        finally:
            self.close()
        return True

    def _done(self, channel: Channel) -> bool:
        """Nothing waits for ``channel``, or what waits is held back by the hourly limit (as
        this process's sender found: not as an earlier one left it)."""
        return self.outbox.waiting(channel.id) == 0 or self.delivery.held(channel)

    def refresh(self) -> None:
        if not self._started or not self.take():
            return
        try:
            current = {c.id: c for c in self.channels()}
        except Exception as exc:  # a damaged channel file: said once, the rest carries on
            log.warning("%s", exc)
            return
        with self._lock:
            for cid in [cid for cid in self._workers if cid not in current]:
                self._workers.pop(cid)[1].set()  # removed (here, or by `alert remove`)
                self.delivery.forget(cid)
                self.outbox.forget(cid)
            for cid, channel in current.items():
                if cid not in self._workers and not self.stop.is_set():
                    wake = threading.Event()
                    name = f"fim-tray-alerts-{cid}"
                    thread = threading.Thread(
                        target=self._run, args=(channel, wake), name=name, daemon=True
                    )
                    self._workers[cid] = (thread, wake)
                    self.delivery.states.setdefault(cid, self.status.state(channel))
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
        if self._follower is not None:
            self._follower.join(max(0.0, deadline - time.monotonic()))
        self._release()

    def _release(self) -> None:
        """Let another process send (no queueing is under way once this returns)."""
        with self._feed_lock, self._lock:
            if self._own:
                self._sender.release()
                self._own = False

    def states(self) -> list[ChannelState]:
        """Each channel's state: as this process saw it, else as the last one that sent
        (the tray or a monitor) left it."""
        found = []
        if not self._own:  # another process sends: its queues as they are now
            self.outbox.reload()
            self.status.reload()
        for channel in self.channels():
            state = self.delivery.state(channel)
            waiting = self.outbox.waiting(channel.id)
            dropped = max(state.dropped, self.outbox.dropped.get(channel.id, 0))
            found.append(replace(state, channel=channel, waiting=waiting, dropped=dropped))
        return found

    def held_until(self, state: ChannelState) -> datetime | None:
        """When the hourly limit lets messages held for this channel go (None: none held)."""
        if not state.held or not state.waiting:
            return None
        opens = HourlyLimit(self.per_hour, state.spent).opens()
        return datetime.fromtimestamp(opens).astimezone() if opens is not None else None

    def _run(self, channel: Channel, wake: threading.Event) -> None:
        delay = 0.0
        while not self.stop.is_set() and self._is_current(channel, wake):
            self.refresh()  # the channel file changed? (then this sender may have to stop)
            if not self._is_current(channel, wake):
                break
            try:
                ok = self.delivery.drain(channel)
            except Exception:  # a bug must not end the sending
                log.warning("sending to %s failed", channel.masked, exc_info=True)
                ok = False
            if ok:
                delay = 0.0
                wake.wait(self.delivery.limit_wait(channel))
            else:
                delay = min(self.retry[1], max(self.retry[0], delay * 2))
                wake.wait(delay)
            wake.clear()

    def _is_current(self, channel: Channel, wake: threading.Event) -> bool:
        """Whether this sender still serves ``channel`` (a removed channel's stops)."""
        with self._lock:
            worker = self._workers.get(channel.id)
        return worker is not None and worker[1] is wake
