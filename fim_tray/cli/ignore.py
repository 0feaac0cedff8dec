"""The ``fim-tray ignore`` command: add, list and remove a watched folder's ignore patterns."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from fim_tray.cli.output import EXIT_ERROR, EXIT_OK, plural, say
from fim_tray.display import escape
from fim_tray.store.names import names_count

if TYPE_CHECKING:  # annotations only: every command imports this module to build its parser
    from fim_tray.app.service import Service


def _ignore_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the watched folder")
    parser.add_argument("pattern", nargs="?",
                        help="a glob: *.log (any depth), logs/app.log (one path), cache/ (a "
                        "folder and all below it)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="the folder's ignore patterns")
    parser.add_argument("--remove", metavar="PATTERN", help="stop ignoring PATTERN")


PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "ignore": ("ignore files in a watched folder (--list, --remove PATTERN)", _ignore_parser),
}


def cmd_ignore(service: Service, args: argparse.Namespace) -> int:
    chosen = sum(bool(x) for x in (args.pattern, args.list, args.remove))
    if chosen != 1:
        say("give one of: a PATTERN to ignore, --list, or --remove PATTERN")
        return EXIT_ERROR
    if args.list:
        for pattern in service.ignore_patterns(args.path):
            print(escape(pattern))
        return EXIT_OK
    if args.remove:
        result = service.unignore(args.path, args.remove)
        where = escape(result.folder)
        if not result.changed:
            say(f"{escape(args.remove)} is not ignored in {where}")
            return EXIT_ERROR
        back = len(result.forgotten)
        said = (f"{plural(back, 'baseline record')} it set aside put back: a file it hid is "
                "checked against its record (changed since: reported as modified), one new "
                "since is reported as added at the next check") if back else (
                "the files it hid are checked again (new to the baseline: reported as added at "
                "the next check)")  # fmt: skip
        say(f"no longer ignoring {escape(result.pattern)} in {where}: {said}")
        return EXIT_OK
    result = service.ignore(args.path, args.pattern)
    where = escape(result.folder)
    if result.note:  # an absolute path, taken relative to the watched folder
        say(f"{escape(args.pattern.strip())}: {escape(result.note)}")
    if not result.changed:
        say(f"{escape(result.pattern)} is already ignored in {where}")
        return EXIT_OK
    dropped = ""
    if result.dropped:
        dropped = f"; {plural(len(result.dropped), 'pending change')} dropped: " + ", ".join(
            escape(p) for p in result.dropped[:5]
        ) + (" ..." if len(result.dropped) > 5 else "")
    say(f"ignoring {escape(result.pattern)} in {where}{dropped}")
    return EXIT_OK


def history_note(extra: Mapping[str, object]) -> str:
    """What an "ignored" or "unignored" history line says: the pattern, what it dropped."""
    count = names_count(extra, "dropped")
    said = f", {plural(count, 'pending change')} dropped" if count else ""
    return f"  ({escape(str(extra.get('pattern', '')))}{said})"


COMMANDS = {"ignore": cmd_ignore}
