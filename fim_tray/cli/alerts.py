"""The ``fim-tray alert`` commands (add, list, remove, test a channel) and ``history --ecs``;
also what starts the delivery of alerts beside ``fim-tray monitor``, and after a one-shot
``fim-tray check`` (``_deliver``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from fim_tray import jsonio
from fim_tray.cli.output import EXIT_ERROR, EXIT_OK, say
from fim_tray.display import escape, timestamp

if TYPE_CHECKING:  # annotations only: every command imports this module to build its parser
    from collections.abc import Sequence
    from pathlib import Path

    from fim_tray.app.alerting import Alerting
    from fim_tray.app.service import Service
    from fim_tray.models import FolderReport

DELIVER_FOR = 30.0  # seconds the sender a check starts keeps trying before leaving it to the next

KINDS = (
    "syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, syslog+tls://HOST:PORT, "
    "jsonl:///ABS/PATH, or an apprise URL (mailto://, ntfy://, tgram://, twilio://, json://, ...)"
)


def _alert_parser(alert: argparse.ArgumentParser) -> None:
    verbs = alert.add_subparsers(dest="verb", metavar="VERB", required=True,
                                 help="add, list, remove, test")  # fmt: skip
    add = verbs.add_parser("add", help="add a channel: " + KINDS)
    add.add_argument("url")
    listing = verbs.add_parser("list", help="the channels (passwords and tokens masked)")
    listing.add_argument("--json", action="store_true", help="one JSON object per channel")
    remove = verbs.add_parser("remove", help="remove a channel (its URL, or as list shows it)")
    remove.add_argument("url")
    test = verbs.add_parser(
        "test", help="send a test message to one channel (or to a URL not added yet), or to "
        "each; exit 0 when each got it, 2 otherwise",
    )  # fmt: skip
    test.add_argument("url", nargs="?")


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "alert": (
        "alert channels beyond the desktop: email, SMS, chat, syslog, JSON lines",
        _alert_parser,
    ),
    "_alerts": ("", _no_arguments),  # the tray's Alerts window, run as a child process
    "_deliver": ("", _no_arguments),  # the sender a one-shot check starts (see after_check)
}


def alerting(service: Service) -> Alerting:
    from fim_tray.app.alerting import Alerting

    return Alerting(service.paths, history=service.store.history)


def cmd_alert(service: Service, args: argparse.Namespace) -> int:
    alerts = alerting(service)
    if args.verb == "add":
        channel = alerts.add(args.url)
        say(f"added {channel.name}: {escape(channel.masked)}; `fim-tray alert test` sends it a "
            "test message")  # fmt: skip
        return EXIT_OK
    if args.verb == "remove":
        channel = alerts.remove(args.url)
        say(f"removed {channel.name}: {escape(channel.masked)}")
        return EXIT_OK
    if args.verb == "list":
        return _list(alerts, as_json=args.json)
    return _test(alerts, args.url)


def _list(alerts: Alerting, *, as_json: bool) -> int:
    states = alerts.states()
    said = last_sender_said(alerts.paths.outbox_dir)
    if said is not None and not as_json:
        say(f"the sender a check started at {said[0]} said:")
        for line in said[1][-5:]:
            sys.stderr.write(f"  {escape(line)}\n")
    if not states and not as_json:
        say("no alert channels yet; add one with `fim-tray alert add URL`")
    for state in states:
        channel = state.channel
        held = alerts.held_until(state)
        if as_json:
            obj = {
                "url": channel.masked, "kind": channel.kind, "name": channel.name,
                "waiting": state.waiting,
                "last_sent": state.last_sent.isoformat() if state.last_sent else None,
                "failing_since": state.failing_since.isoformat() if state.failing_since else None,
                "reason": state.reason,
                "held_until": held.isoformat() if held else None,
                "dropped": state.dropped,
                "set_aside": state.set_aside,
            }  # fmt: skip
            print(jsonio.dumps(obj).decode())
            continue
        line = f"{escape(channel.masked)}  ({channel.name})"
        if state.waiting:
            line += f"  {state.waiting} waiting"
        if held is not None:
            line += f"  (held back by the hourly limit until {timestamp(held)})"
        if state.dropped:
            line += f"  {state.dropped} dropped: its outbox was full"
        if state.set_aside:
            line += f"  {state.set_aside} set aside: the server refused them (see its log)"
        if state.failing_since is not None:
            line += f"  not delivered since {timestamp(state.failing_since)}: {state.reason}"
        elif state.last_sent is not None:
            line += f"  last sent {timestamp(state.last_sent)}"
        print(line)
    return EXIT_OK


def _test(alerts: Alerting, url: str | None) -> int:
    results = alerts.test(url)
    if not results:
        say("no alert channels yet; add one with `fim-tray alert add URL`")
        return EXIT_ERROR
    failed = 0
    for channel, reason in results:
        if reason is None:
            say(f"{channel.name} ({escape(channel.masked)}): delivered")
        else:
            failed += 1
            say(f"{channel.name} ({escape(channel.masked)}): NOT delivered: {escape(reason)}")
    return EXIT_ERROR if failed else EXIT_OK


def after_check(service: Service, reports: Sequence[FolderReport]) -> None:
    """Hand what a one-shot check found to the alert channels: through a sender of its own
    (``fim-tray _deliver``, in the background), so the check neither waits for a server nor
    loads a channel's library. Only when there are channels and something to send; when the
    tray or a monitor sends, that sender soon ends (they follow the history themselves)."""
    paths = service.paths
    if not paths.alerts_file.exists():
        return
    outbox = paths.outbox_dir
    if not any(r.new for r in reports) and not any(outbox.glob("*.jsonl")):
        # Nothing new here: a sender is still needed when an earlier one ended before it
        # queued what the history holds (killed, or its machine stopped). A cursor written
        # after the history's last line says it did not, with no more than two stats.
        with contextlib.suppress(OSError):
            written = (outbox / "history.cursor").stat().st_mtime_ns  # cursor.NAME, unimported
            if written > paths.events_file.stat().st_mtime_ns:
                return
        from fim_tray.alerts import cursor

        if not cursor.behind(outbox / cursor.NAME, service.store.history.next_number()):
            return
    from fim_tray.platform.launch import start_detached

    said = _sender_log(outbox)
    try:
        started = start_detached(["_deliver"], stderr=said)
    finally:
        if said is not None:
            os.close(said)
    if not started:
        say("WARNING: the alerts of this check could not be handed on now; they go with the "
            "next check, or when the tray or `fim-tray monitor` runs")  # fmt: skip


SENDER_LOG = "sender.log"  # in the outbox folder: what the sender a check started said
LOG_LIMIT = 256 * 1024
_STARTED = "--- started "


def _sender_log(outbox: Path) -> int | None:
    """The sender's log, opened for it to append to (begun afresh past ``LOG_LIMIT``)."""
    from fim_tray.alerts.outbox import clear_odd

    path = outbox / SENDER_LOG
    try:
        jsonio.private_dir(outbox)
        clear_odd(path)
        fd = jsonio.open_own(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size > LOG_LIMIT:
            os.ftruncate(fd, 0)
    except OSError:
        os.close(fd)
        return None
    return fd


def last_sender_said(outbox: Path) -> tuple[str, list[str]] | None:
    """When the sender a check started last began, and the warnings it gave (None: none)."""
    try:
        lines = jsonio.read_own(outbox / SENDER_LOG, LOG_LIMIT * 2).decode(errors="replace")
    except OSError:
        return None
    for run in reversed(lines.split(_STARTED)[1:]):  # the newest run that said something
        when, _, said = run.partition("\n")
        warnings = [line.removeprefix("fim-tray: ") for line in said.splitlines() if line.strip()]
        if warnings:
            return when.strip(), warnings
    return None


def cmd_deliver(service: Service, args: argparse.Namespace) -> int:
    """``_deliver``: queue what the history holds for the channels, and send it."""
    from fim_tray.store.state import local_now

    sys.stderr.write(f"{_STARTED}{local_now():%Y-%m-%d %H:%M:%S}\n")
    sys.stderr.flush()
    alerting(service).deliver(DELIVER_FOR)
    return EXIT_OK


def print_history_ecs(service: Service, limit: int | None) -> int:
    """``history --ecs``: the history as ECS events, one JSON object a line."""
    from fim_tray import __version__
    from fim_tray.alerts.ecs import Origin
    from fim_tray.app.alerting import host_name
    from fim_tray.app.ecs_events import history_ecs

    origin = Origin(host_name(), __version__)
    for obj in history_ecs(service.store.history, origin, limit):
        sys.stdout.write(jsonio.dumps(obj).decode("utf-8", "backslashreplace") + "\n")
    return EXIT_OK


def cmd_alerts_window(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.ui import alerts

    return alerts.main()


COMMANDS = {"alert": cmd_alert, "_alerts": cmd_alerts_window, "_deliver": cmd_deliver}
