"""The ``fim-tray`` command: its parser, the folder commands (add, check, accept, history, ...)
and the dispatch to every command group."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TextIO, cast

# Only what every command needs is imported here, so `fim-tray check` starts quickly: the
# monitor (with file events), the GUI and the dialogs are imported by the commands using them,
# and cli_copies imports saved copies, diff and restore only when they run.
from fim_tray import __version__, jsonio, logs, records
from fim_tray.app.service import Service
from fim_tray.cli import alerts as cli_alerts
from fim_tray.cli import copies as cli_copies
from fim_tray.cli import ignore as cli_ignore
from fim_tray.cli import windows as cli_windows
from fim_tray.cli.output import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_RUNNING,
    display_name,
    json_name,
    plural,
    print_report,
    said_unlisted,
    say,
    state_word,
    summary,
)
from fim_tray.display import escape, timestamp
from fim_tray.errors import FimError
from fim_tray.models import Event, Folder, FolderReport
from fim_tray.scan.hashing import ALGORITHMS
from fim_tray.scan.throttle import MAX_MB_PER_S, MIN_MB_PER_S, check_mb_per_s, throttle_for
from fim_tray.store.names import encode_name
from fim_tray.store.state import resolve

LOCK_TIMEOUT_ENV = "FIM_TRAY_LOCK_TIMEOUT"
# Commands that load or record a whole baseline and then end run without the cyclic garbage
# collector: their 50,000 records hold no cycles and are freed by reference counting, yet the
# collector would walk them again and again (5-8% of a no-change check). Commands
# that run on (tray, monitor) keep it.
NO_GC_COMMANDS = frozenset({"add", "check", "accept", "list"})
# Commands that run on this one thread: their first baselines and full re-hashes may fork.
PROCESS_COMMANDS = frozenset({"add", "check"})
# Commands that run on: each check of a whole folder runs in a child process, whose memory goes
# back to the OS when it ends (see fim_tray.app.isolated).
ISOLATE_COMMANDS = frozenset({"tray", "monitor"})
log = logs.getLogger("fim_tray")


def _mb_per_s(text: str) -> float:
    """``--max-mb-per-s``: a number of MB per second, from 0 (no cap) to MAX_MB_PER_S."""
    try:
        cap = float(text) if text.strip().isascii() else -1.0
    except ValueError:
        cap = -1.0
    if not (cap == 0 or MIN_MB_PER_S <= cap <= MAX_MB_PER_S):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of MB per second: 0 (no cap), or from {MIN_MB_PER_S:g} "
            f"to {MAX_MB_PER_S:,.0f}"
        )
    return check_mb_per_s(cap)


def _add_speed_cap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-mb-per-s", type=_mb_per_s, default=0.0, metavar="N",
                        help="read files at most N MB/s (default: full speed)")  # fmt: skip


class _Formatter(argparse.HelpFormatter):
    """argparse's own, told the terminal's width: left to find it, it imports shutil (and
    with it bz2 and lzma) at every start of every command."""

    def __init__(self, prog: str, **options: Any) -> None:
        if "width" not in options:
            try:
                columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
            except (ValueError, OSError):  # not a number; no terminal
                columns = 80
            options["width"] = max(columns, 40) - 2  # as argparse does
        super().__init__(prog, **options)


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone: that is all one run needs, and
    building all sixteen costs more than a whole check of a few big files."""
    parser = argparse.ArgumentParser(
        prog="fim-tray",
        description="File Integrity Monitor: records a trusted baseline of folders and reports "
        "every file added, removed, altered, or given new permissions or owner.",
        epilog="With no command, the tray starts. State lives in the platform's data folder, or "
        "under $FIM_TRAY_HOME when that is set.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"fim-tray {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        help="tray, add, remove, list, check, accept, monitor, history, diff, restore, "
        "keep-copies, prune, status, ignore, alert",
    )
    for name, (help_text, build) in PARSERS.items():
        if command is None or name == command:
            if help_text:
                built = sub.add_parser(name, help=help_text, formatter_class=_Formatter)
            else:  # the tray's own child processes: not listed
                built = sub.add_parser(name, formatter_class=_Formatter)
            build(built)
    # The tray's own child processes are commands too, but never offered to a person.
    sub.choices = _Offered(sub.choices or {})
    return parser


class _Offered(dict[str, argparse.ArgumentParser]):
    """The commands by name; what it lists ("invalid choice ... choose from") leaves out the
    hidden ones (named with a leading ``_``), though they are still found."""

    def __iter__(self) -> Iterator[str]:
        return (name for name in super().__iter__() if not name.startswith("_"))


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs when it is plain to see (after --debug only); else None."""
    for arg in argv:
        if arg in PARSERS:
            return arg
        if arg != "--debug":
            return None
    return None


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _details_parser(details: argparse.ArgumentParser) -> None:
    details.add_argument("source", nargs="?", help="a JSON file of changes, or --history")
    details.add_argument("--history", action="store_true")


def _add_parser(add: argparse.ArgumentParser) -> None:
    add.add_argument("path")
    add.add_argument("--algorithm", choices=sorted(ALGORITHMS), help="default: sha256")
    add.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB",
        help="skip files named GLOB (a relative path if it holds a /; folders if it ends "
        "with /); repeatable",
    )  # fmt: skip
    add.add_argument("--keep-copies", action="store_true",
                     help="also keep copies of its files, to diff and restore them")  # fmt: skip
    _add_speed_cap(add)


def _path_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path")


def _json_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _check_parser(check: argparse.ArgumentParser) -> None:
    check.add_argument("path", nargs="?")
    check.add_argument("--json", action="store_true", help="one JSON object per change")
    check.add_argument("--full", action="store_true", help="re-hash every file, not only the "
                       "ones whose size, times or inode changed")  # fmt: skip
    _add_speed_cap(check)


def _accept_parser(accept: argparse.ArgumentParser) -> None:
    accept.add_argument("path", nargs="?")
    accept.add_argument("--file", action="append", default=[], metavar="F",
                        help="accept only this file (or folder); repeatable")  # fmt: skip


def _monitor_parser(monitor: argparse.ArgumentParser) -> None:
    monitor.add_argument("path", nargs="?")
    monitor.add_argument(
        "--interval", type=_seconds, metavar="S", help="seconds between checks (at least 1)"
    )
    monitor.add_argument("--json", action="store_true", help="one JSON object per change")


def _history_parser(history: argparse.ArgumentParser) -> None:
    _json_parser(history)
    history.add_argument("--limit", type=_count, metavar="N", help="default: 50 (--ecs: all)")
    history.add_argument(
        "--verify", action="store_true",
        help="check every line against the chain; exit 0 intact, 2 naming the first bad line",
    )  # fmt: skip
    history.add_argument(
        "--ecs", action="store_true", help="one Elastic Common Schema event per line, as "
        "Auditbeat's file_integrity writes them (for a SIEM): every line unless --limit",
    )  # fmt: skip


# Each command: its help ("" for the tray's own child processes, which are not listed) and
# what adds its arguments.
PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "tray": ("start the tray icon (the default)", _no_arguments),
    "_pick-folder": ("", _no_arguments),  # the tray's folder chooser, run as a child process
    "_details": ("", _details_parser),  # the tray's details window, run as a child process
    # A whole-folder check of the tray's or the monitor's, run as a child process by a frozen
    # build (elsewhere it is `python -m fim_tray.app.isolated`, which imports less).
    "_check-folder": ("", _no_arguments),
    "add": ("watch a folder: record its baseline", _add_parser),
    "remove": ("stop watching a folder and delete its baseline", _path_parser),
    "list": ("watched folders and their state", _json_parser),
    "check": ("rescan now; exit 0 no change, 1 changes, 2 error", _check_parser),
    "accept": ("take the current state into the baseline", _accept_parser),
    "monitor": ("check in a loop and print each new change", _monitor_parser),
    "history": ("changes reported so far", _history_parser),
    **cli_copies.PARSERS,
    **cli_ignore.PARSERS,
    **cli_windows.PARSERS,
    **cli_alerts.PARSERS,
}


def _lock_timeout() -> float:
    """Seconds a write waits for another fim-tray: ``$FIM_TRAY_LOCK_TIMEOUT``, else 30."""
    value = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return 30.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise FimError(f"{LOCK_TIMEOUT_ENV}={value} is not a number of seconds (such as 30).")
    return seconds


def _seconds(text: str) -> float:
    """An interval for argparse: a number of seconds, at least the settings' minimum."""
    from fim_tray.store.config import MIN_INTERVAL

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not MIN_INTERVAL <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be at least {MIN_INTERVAL:g} seconds")
    return value


def _count(text: str) -> int:
    """A count for argparse: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def cmd_add(service: Service, args: argparse.Namespace) -> int:
    started = time.monotonic()
    if service.store.config().find(resolve(args.path)) is None:  # else: said below
        say(f"recording the baseline of {escape(args.path)}...")
    folder, result = service.watch(
        args.path,
        algorithm=args.algorithm,
        excludes=args.exclude,
        keep_copies=args.keep_copies,
        throttle=throttle_for(args.max_mb_per_s),
    )
    if result is None:
        unapplied = _unapplied(folder, args)
        if unapplied:  # said, never silently dropped
            say(f"{escape(folder.path)} is already watched, with other settings: "
                f"{'; '.join(unapplied)}. Nothing was changed.")  # fmt: skip
            return EXIT_ERROR
        say(f"{escape(folder.path)} is already watched; `fim-tray check` compares it.")
        return EXIT_OK
    for problem in result.problems:
        say(f"{escape(problem.path)}: {problem.message}")
    unreadable = records.unreadable(result.entries)
    note = (
        f" ({unreadable} could not be read and are recorded without a hash)" if unreadable else ""
    )
    say(
        f"watching {escape(folder.path)}: {plural(len(result.entries), 'entry', 'entries')}, "
        f"{result.hashed_bytes / 1e6:,.1f} MB hashed with {folder.algorithm} in "
        f"{time.monotonic() - started:.1f} s{note}"
    )
    if folder.keep_copies:
        cli_copies.say_kept(service, folder)
    return EXIT_OK


def _unapplied(folder: Folder, args: argparse.Namespace) -> list[str]:
    """What ``add`` asked for that an already watched folder does not have, and how to get it."""
    shown = escape(folder.path)
    found = []
    if args.algorithm and args.algorithm != folder.algorithm:
        found.append(f"it is hashed with {folder.algorithm}, not {args.algorithm} (to change "
                     f"that, `fim-tray remove {shown}` and add it again)")  # fmt: skip
    missing = [p for p in args.exclude if p not in folder.excludes]
    if missing:
        found.append(f"it does not skip {', '.join(escape(p) for p in missing)} (to change "
                     f"that, `fim-tray remove {shown}` and add it again)")  # fmt: skip
    if args.keep_copies and not folder.keep_copies:
        found.append(f"it keeps no copies (`fim-tray keep-copies {shown} on` turns them on)")
    return found


def cmd_remove(service: Service, args: argparse.Namespace) -> int:
    folder = service.unwatch(args.path)
    say(f"stopped watching {escape(folder.path)}; its baseline was deleted")
    return EXIT_OK


def cmd_list(service: Service, args: argparse.Namespace) -> int:
    statuses = service.status()
    unlisted = said_unlisted(service)
    if not statuses and not args.json and not unlisted:
        say("no folders are watched yet; add one with `fim-tray add PATH`")
    for status in statuses:
        state = state_word(status)
        if args.json:
            obj = {
                **json_name(status.folder.path), "state": state, "files": status.files,
                "pending": status.pending, "error": status.error,
                "checked": status.checked.isoformat() if status.checked else None,
                "algorithm": status.folder.algorithm,
            }  # fmt: skip
            print(jsonio.dumps(obj).decode())
            continue
        checked = timestamp(status.checked) if status.checked else "never checked"
        if status.files is not None:
            files = plural(status.files, "entry", "entries")
        else:  # the baseline is there but failed to load (its error follows), or is missing
            files = "baseline not usable" if status.error else "no baseline"
        print(f"{escape(status.folder.path)}  {state}  {files}  last check {checked}")
        if status.error:
            print(f"    {status.error}")
    # A folder whose state cannot be used (damaged, put back from an older copy) is an error
    # of the command too, as for check: a script must not read "listed" as "all is well".
    return EXIT_ERROR if unlisted or any(s.error for s in statuses) else EXIT_OK


def cmd_check(service: Service, args: argparse.Namespace) -> int:
    reports = service.check(args.path, full=args.full, throttle=throttle_for(args.max_mb_per_s))
    many = len(reports) > 1
    for report in reports:
        print_report(report, as_json=args.json, many=many, only_new=False, out=sys.stdout)
        if not args.json and report.error is None:  # an error was said once, in full, already
            say(summary(report))
    cli_alerts.after_check(service, reports)  # email, syslog, ...: never waited for here
    if args.path is None and said_unlisted(service):
        return EXIT_ERROR
    if not reports:
        say("no folders are watched yet; add one with `fim-tray add PATH`")
    if any(r.error for r in reports):
        return EXIT_ERROR
    return EXIT_CHANGES if any(r.changes for r in reports) else EXIT_OK


def cmd_accept(service: Service, args: argparse.Namespace) -> int:
    reports = service.accept(args.path, args.file)
    many = len(reports) > 1
    for report in reports:
        for change in report.changes:
            name = escape(display_name(report, change.path, many))
            never = "  (never reported before)" if change in report.new else ""
            say(f"accepted {change.kind} {name}{never}")
        for problem in report.problems:  # files whose copy could not be kept
            say(f"{escape(display_name(report, problem.path, many))}: {problem.message}")
        if not report.changes:
            say(f"{escape(report.folder.path)}: nothing to accept")
    return EXIT_OK


def cmd_monitor(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.app.monitor import Monitor  # with file events: not needed by the other commands

    folders: Sequence[Folder] = (service.folder(args.path),) if args.path else service.folders()
    if not folders:
        say("no folders are watched yet; add one with `fim-tray add PATH`")
        return EXIT_ERROR
    # One watcher per data folder: two would each mark a change as announced before the other
    # saw it, and one of them would stay silent. The tray holds the same lock.
    instance = service.store.instance_lock()
    try:
        alone = instance.acquire()
    except FimError as exc:  # a data folder that cannot be written (or a lock file refused):
        # watching goes on, and a change found is still printed, as `check` does
        say(f"WARNING: {exc.message} Watching anyway; a second watcher is not kept out.")
        alone = True
    if not alone:
        say(f"fim-tray is already running{instance.holder()}: the tray or another monitor "
            "watches this data folder")  # fmt: skip
        return EXIT_RUNNING
    polls = f"a check every {args.interval:g} s" if args.interval else "checks as a safety net"
    say(f"watching {len(folders)} folder(s): file events and {polls}; Ctrl-C stops")
    many = len(folders) > 1

    said: set[tuple[str, str]] = set()
    printed: dict[str, set[str]] = {}  # folder -> signatures this monitor printed
    alerts = cli_alerts.alerting(service)  # email, syslog, ...: sent by threads of their own

    def sink(report: FolderReport) -> None:
        # What this monitor has printed decides, not what a `check` beside it marked as
        # announced; at its first look at a folder, what was pending before was said then.
        folder = report.folder.path
        first_look = folder not in printed
        done = printed.setdefault(folder, set())
        candidates = report.new if first_look else report.changes
        fresh = tuple(c for c in candidates if c.signature() not in done)
        done.update(c.signature() for c in report.changes)
        print_report(
            report._replace(new=fresh), as_json=args.json, many=many, only_new=True,
            out=sys.stdout, said=said,
        )  # fmt: skip
        alerts.on_report(report._replace(new=fresh))  # what was printed, sent on

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # a service manager's SIGTERM ends the loop as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    alerts.start()
    try:
        path = folders[0].path if args.path else None  # as watched: absolute, resolved
        Monitor(service, sink, interval=args.interval, path=path, events=True, on_event=_said).run()
    except KeyboardInterrupt:  # Ctrl-C is how a person ends the loop: not an error
        say("monitor stopped")
    finally:
        alerts.close()  # what was not sent waits in the outbox for the next start
    return EXIT_OK


def _said(event: object) -> None:
    """What the monitor's loop tells that a person at the terminal should hear."""
    from fim_tray.app.monitor import EventsState

    if isinstance(event, EventsState) and not event.live:
        where = escape(event.folder) if event.folder else "every folder"
        say(f"file events stopped for {where} ({event.why}): checking it by polling instead")


def cmd_history(service: Service, args: argparse.Namespace) -> int:
    if args.ecs and not args.verify:  # for a SIEM: every line, each with its place in the chain
        return cli_alerts.print_history_ecs(service, args.limit)
    verdict = service.verify_history()
    if args.verify:
        if verdict.problem is not None:
            say(f"the history is NOT intact: {verdict.problem}.")
            return EXIT_ERROR
        older = f" ({verdict.unchained} older lines before the chain)" if verdict.unchained else ""
        say(f"the history is intact: {verdict.lines:,} lines, each in its place{older}.")
        return EXIT_OK
    if verdict.problem is not None:
        say(f"WARNING: the history is not intact ({verdict.problem}); lines not verified are "
            "marked (not verified).")  # fmt: skip
    for event in service.history(50 if args.limit is None else args.limit):
        if args.json:
            obj = {
                "id": event.id, "time": event.time.isoformat(),
                **json_name(event.folder), **encode_name(event.path),
                "change": event.change, "suspicious": event.suspicious,
                "fields": list(event.fields), "before": event.before, "after": event.after,
                **{k: event.extra[k] for k in HISTORY_EXTRAS if k in event.extra},
                "verified": event.verified,
            }  # fmt: skip
            print(jsonio.dumps(obj).decode("utf-8", "backslashreplace"))
        else:
            whole = (
                event.folder if event.path in (".", "") else os.path.join(event.folder, event.path)
            )
            name = escape(whole)
            flag = "  SUSPICIOUS" if event.suspicious else ""
            flag += "" if event.verified else "  (not verified)"
            flag = _history_note(event) + flag
            print(f"{timestamp(event.time)}  {event.change:<10}  {name}{flag}")
    return EXIT_OK if verdict.problem is None else EXIT_ERROR  # what could be read, then 2


HISTORY_EXTRAS = ("accepted", "by", "reported", "pending", "pattern", "dropped", "dropped_b64")


def _history_note(event: Event) -> str:
    """What a line that is not a change says beside its name: an accept, a folder given up."""
    extra = event.extra
    if event.change == "accepted":  # what was taken in, by whom, and if it was reported
        never = "" if extra.get("reported") else ", never reported"
        return f"  ({extra.get('accepted')}, by {extra.get('by')}{never})"
    pending = extra.get("pending")
    if event.change == "unwatched" and isinstance(pending, list) and pending:
        return f"  ({len(pending)} change(s) still to review went with it)"
    if event.change in ("ignored", "unignored"):
        return cli_ignore.history_note(event.extra)
    return ""


def cmd_tray(service: Service, args: argparse.Namespace) -> int:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        say(
            "no desktop display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so there is "
            "no tray to show. On a server or in a terminal, use `fim-tray monitor` instead "
            "(and `fim-tray --help` for the other commands)."
        )
        return EXIT_ERROR
    # The tray draws an icon and menus, never in 3D: without this, GTK loads the system's
    # OpenGL driver into it (with a software renderer, its LLVM: 50 MiB of the tray's 120).
    # Set only for this process and what it starts, and only when the person has not.
    os.environ.setdefault("GDK_GL", "disable")
    from fim_tray.tray.app import run_tray  # the GUI is imported only when it is wanted

    return run_tray(service)


def cmd_details(service: Service, args: argparse.Namespace) -> int:
    if args.history or args.source == "--history":
        from fim_tray.ui import history

        return history.main()
    from fim_tray.ui import details

    return details.main([args.source] if args.source else [])


def cmd_check_folder(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.app import isolated

    isolated.main()  # reads its request on stdin, answers on stdout, ends the process


def cmd_pick_folder(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.ui import picker

    return picker.main()


COMMANDS = {
    "tray": cmd_tray, "add": cmd_add, "remove": cmd_remove, "list": cmd_list,
    "check": cmd_check, "accept": cmd_accept, "monitor": cmd_monitor, "history": cmd_history,
    "_pick-folder": cmd_pick_folder, "_details": cmd_details,
    "_check-folder": cmd_check_folder, **cli_copies.COMMANDS,
    **cli_ignore.COMMANDS,
    **cli_windows.COMMANDS,
    **cli_alerts.COMMANDS,
}  # fmt: skip


# Commands that end with os._exit once their output is flushed: the interpreter's teardown (every
# module freed and, after a check of 50,000 files, every entry) is work for nothing, and a tenth
# of a no-change check of a few files. The tray, the monitor and the tray's windows end the
# usual way: their threads and GUI libraries have cleaning up to do at exit.
# The commands whose results go to stdout: with it closed, they could not do their job.
RESULT_COMMANDS = frozenset({"check", "list", "history", "monitor", "diff", "status"})
QUICK_EXIT = frozenset(PARSERS) - {"tray", "monitor", "_pick-folder", "_details", "_alerts"}
QUICK_EXIT -= cli_windows.WINDOWS


class _Output:
    """stdout, whose write failures (a full disk, a closed pipe's EIO) end the command with a
    plain message instead of a traceback; a reader gone (EPIPE) stays a BrokenPipeError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _output_error(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _output_error(exc: OSError) -> FimError:
    return FimError(f"could not write to the standard output: {exc.strerror or exc}.")


def run() -> NoReturn:
    """The ``fim-tray`` command: :func:`main` on the command line's arguments, then exit."""
    argv = sys.argv[1:]
    closed = sys.stdout is None
    if closed:  # started with stdout closed (`>&-`): what it prints goes nowhere
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    else:
        sys.stdout = cast(TextIO, _Output(sys.stdout))
    code = main(argv)
    if closed and _command_in(argv) in RESULT_COMMANDS and code in (EXIT_OK, EXIT_CHANGES):
        say("the standard output is closed, so the results could not be shown.")
        code = EXIT_ERROR
    try:
        sys.stdout.flush()  # what is still buffered: a failure to write it is said, not lost
    except FimError as exc:
        say(exc.message)
        code = EXIT_ERROR
    except OSError:
        code = EXIT_ERROR
    if _command_in(argv) in QUICK_EXIT:
        logs.flush()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a reader gone (EPIPE): nothing more to say
                stream.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a file name must never crash an ASCII terminal
            stream.reconfigure(errors="backslashreplace")
    if argv is None:
        argv = sys.argv[1:]
    args = _build_parser(_command_in(argv)).parse_args(argv)
    logs.configure(args.debug, now=args.command not in QUICK_EXIT)
    command = COMMANDS[args.command or "tray"]
    paused = jsonio.gc_paused() if args.command in NO_GC_COMMANDS else contextlib.nullcontext()
    try:
        with paused:
            service = Service(
                lock_timeout=_lock_timeout(),
                processes=args.command in PROCESS_COMMANDS,
                isolate=(args.command or "tray") in ISOLATE_COMMANDS,
            )
            return command(service, args)
    except FimError as exc:
        say(exc.message)
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("stopped")
        return 130
    except BrokenPipeError:  # `fim-tray check | head`: the reader left; say nothing more
        with contextlib.suppress(OSError):  # and keep Python from complaining at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        say(f"unexpected error: {exc!r}. Run again with --debug for details.")
        return EXIT_ERROR
