"""The ``fim-tray`` commands for saved copies: keep-copies, diff, restore, prune and status."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fim_tray import jsonio
from fim_tray.cli.output import EXIT_ERROR, EXIT_OK, said_unlisted, say, state_word
from fim_tray.display import escape
from fim_tray.models import Folder
from fim_tray.scan.excludes import DEFAULT_EXCLUDES
from fim_tray.store.names import name_fields

if TYPE_CHECKING:  # annotations only: every command imports this module to build its parser
    from fim_tray.app.copies import CopyReport
    from fim_tray.app.service import Service

SHOWN = ("diff", "removed", "same")  # diff statuses that answer the question: exit 0
FILE_HELP = "relative to the watched folder (to the current folder inside it), or absolute"


def _keep_parser(keep: argparse.ArgumentParser) -> None:
    keep.add_argument("path")
    keep.add_argument("state", choices=("on", "off"))


def _diff_parser(diff: argparse.ArgumentParser) -> None:
    diff.add_argument("path", help="the watched folder")
    diff.add_argument("file", help=FILE_HELP)


def _signature(text: str) -> str:
    """A change's signature as ``check --json`` prints it: 32 hex digits."""
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a change's signature (32 hex digits, as `check --json` prints it)"
        )
    return text


def _restore_parser(restore: argparse.ArgumentParser) -> None:
    _diff_parser(restore)
    restore.add_argument("--if-unchanged", metavar="SIG", type=_signature,
                         help="refuse unless the file's change "
                         "is still the one with this signature (see check --json)")  # fmt: skip
    restore.add_argument("--force", action="store_true", help="restore even if it changed "
                         "again, or its current content cannot be kept")  # fmt: skip
    restore.add_argument("--undo", action="store_true",
                         help="put back what the last restore of FILE replaced")  # fmt: skip


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _status_parser(status: argparse.ArgumentParser) -> None:
    status.add_argument("--json", action="store_true", help="one JSON object")


# This module's commands for the ``fim-tray`` parser: their help and what adds their arguments.
PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "keep-copies": (
        "keep copies of a folder's files, to diff and restore them (on), or stop and delete "
        "them (off)",
        _keep_parser,
    ),
    "diff": ("what changed inside a file since the baseline", _diff_parser),
    "restore": ("put a file back as the baseline has it", _restore_parser),
    "prune": ("delete saved copies nothing refers to any more", _no_arguments),
    "status": ("folders, saved copies, the no-copy and exclude patterns", _status_parser),
}


def _file(service: Service, path: str, file: str) -> str:
    """FILE as typed: relative to the current folder when that is inside the watched folder
    (as ``accept --file``), else relative to the watched folder."""
    if os.path.isabs(file):
        return file
    root = service.folder(path).path
    here = os.getcwd()
    inside = os.path.relpath(here, root)
    if inside != "." and inside != ".." and not inside.startswith(".." + os.sep):
        return os.path.join(here, file)
    return file


def _mb(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1e3:.1f} KB"
    return f"{size / 1e6:,.1f} MB"


def say_copied(folder: Folder, report: CopyReport) -> None:
    """One line on what recording copies did, and one per file that could not be copied."""
    for problem in report.problems:
        say(f"{escape(problem.path)}: {problem.message}")
    skipped = [
        f"{n} {what}"
        for n, what in (
            (report.secret, "secret (no-copy patterns)"),
            (report.too_big, "too big"),
            (report.over_quota, "over the quota"),
        )
        if n
    ]
    note = f"; not copied: {', '.join(skipped)}" if skipped else ""
    say(
        f"keeping copies for {escape(folder.path)}: {report.stored} stored now "
        f"({_mb(report.stored_bytes)}), {report.present} kept already{note}"
    )


def say_kept(service: Service, folder: Folder) -> None:
    """After ``add --keep-copies``: how many of its files have a copy."""
    for kept in service.copies_status().folders:
        if kept.folder.path == folder.path:
            say(
                f"keeping copies: {kept.kept:,} of {kept.files:,} files ({kept.secret} secret, "
                f"{kept.too_big} too big), {_mb(kept.used_bytes)}; `fim-tray status` shows "
                "the no-copy patterns"
            )


def cmd_keep_copies(service: Service, args: argparse.Namespace) -> int:
    folder, report = service.set_keep_copies(args.path, args.state == "on")
    if report is None:
        say(
            f"copies off for {escape(folder.path)}; the copies of its files were deleted (those "
            "that can undo a restore stay while the history lists that restore)"
        )
    else:
        say_copied(folder, report)
    return EXIT_OK


def cmd_diff(service: Service, args: argparse.Namespace) -> int:
    result = service.diff(args.path, _file(service, args.path, args.file))
    for line in result.lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if not result.lines or result.truncated or result.status == "removed":
        say(result.message)
    return EXIT_OK if result.status in SHOWN else EXIT_ERROR


def cmd_restore(service: Service, args: argparse.Namespace) -> int:
    file = _file(service, args.path, args.file)
    if args.undo:
        result = service.undo_restore(args.path, file, force=args.force)
    else:
        result = service.restore(
            args.path, file, expected_signature=args.if_unchanged, force=args.force
        )
    say(result.message)
    for note in result.notes:
        say(f"{escape(result.path)}: {note}")
    if result.previous_digest is not None and not args.undo:
        say(f"the content it replaced is kept; `{undo_command(args.path, args.file)}` puts it back")
    return EXIT_OK


def undo_command(path: str, file: str) -> str:
    """The command that undoes a restore, ready to paste: shell-quoted, then escaped for
    display (a name with control characters or bytes that are not UTF-8 stays visible)."""
    ends = ["--"] if path.startswith("-") or file.startswith("-") else []
    words = ["fim-tray", "restore", "--undo", *ends, path, file]
    return " ".join(_shell_word(w) for w in words)


def _shell_word(word: str) -> str:
    """One word for a POSIX shell: quoted as usual, or, when it holds a control character or
    bytes that are not UTF-8, in ``$'...'`` quotes (bash, zsh, ksh) where each such byte is a
    ``\\xNN`` escape, so the command pasted names the very same file."""
    if word.isprintable() and not any("\udc80" <= c <= "\udcff" for c in word):
        return shlex.quote(word)
    out = []
    for byte in os.fsencode(word):
        char = chr(byte)
        if char in "\\'":
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:  # a control character, or any byte of a name that is not plain ASCII
            out.append(f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"


def cmd_prune(service: Service, args: argparse.Namespace) -> int:
    report = service.prune_copies()
    if report.note:
        say(report.note)
    say(
        f"removed {report.removed} saved copies ({_mb(report.removed_bytes)}); "
        f"{report.count} kept ({_mb(report.bytes)})"
    )
    return EXIT_OK


def cmd_status(service: Service, args: argparse.Namespace) -> int:
    copies = service.copies_status()
    by_folder = {c.folder.path: c for c in copies.folders}
    settings = copies.settings
    excludes = service.config().excludes
    rows: list[dict[str, Any]] = []
    for status in service.status():
        state = state_word(status)
        kept = by_folder.get(status.folder.path)
        row: dict[str, Any] = {
            **name_fields(status.folder.path, "folder"), "state": state,
            "keep_copies": status.folder.keep_copies, "error": status.error,
            "excludes": list(status.folder.excludes),
        }  # fmt: skip
        if kept is not None:
            row.update(files=kept.files, kept=kept.kept, secret=kept.secret,
                       too_big=kept.too_big, used_bytes=kept.used_bytes)  # fmt: skip
        rows.append(row)
        if args.json:
            continue
        line = f"{escape(status.folder.path)}  {state}  copies "
        if kept is not None:
            line += (
                f"on: {kept.kept:,} of {kept.files:,} files kept ({kept.secret} secret, "
                f"{kept.too_big} too big), {_mb(kept.used_bytes)}"
            )
        else:
            line += "on" if status.folder.keep_copies else "off"
        if status.folder.excludes:
            line += f"; skips {', '.join(escape(p) for p in status.folder.excludes)}"
        print(line)
    if args.json:
        obj = {
            "store": str(copies.store), "count": copies.count, "bytes": copies.bytes,
            "max_file_bytes": settings.max_file_bytes, "quota_bytes": settings.quota_bytes,
            "no_copy": list(settings.no_copy), "folders": rows, "errors": list(copies.errors),
            "excludes": list(excludes),
            "default_excludes": [p for p in excludes if p in DEFAULT_EXCLUDES],
        }  # fmt: skip
        print(jsonio.dumps(obj).decode("utf-8", "backslashreplace"))
        bad = copies.errors or any(row["error"] for row in rows)
        return EXIT_ERROR if said_unlisted(service) or bad else EXIT_OK
    print(f"saved copies: {copies.count:,} ({_mb(copies.bytes)}) in {escape(str(copies.store))}")
    print(
        f"copy limits: {_mb(settings.max_file_bytes)} per file, "
        f"{_mb(settings.quota_bytes)} per folder"
    )
    print(f"no-copy patterns: {', '.join(escape(p) for p in settings.no_copy) or '(none)'}")
    defaults = [p for p in excludes if p in DEFAULT_EXCLUDES]
    own = [p for p in excludes if p not in DEFAULT_EXCLUDES]
    print(
        f"skipped by default (files only, never a program or a set-uid or set-gid file): "
        f"{', '.join(escape(p) for p in defaults) or '(none)'}"
    )
    if own:
        print(f"also skipped in every folder: {', '.join(escape(p) for p in own)}")
    for error in copies.errors:
        say(error)
    bad = copies.errors or any(row["error"] for row in rows)
    return EXIT_ERROR if said_unlisted(service) or bad else EXIT_OK


COMMANDS = {
    "keep-copies": cmd_keep_copies,
    "diff": cmd_diff,
    "restore": cmd_restore,
    "prune": cmd_prune,
    "status": cmd_status,
}
