"""What every ``fim-tray`` command prints: exit codes, messages on stderr, report lines, JSON names,
summaries and a folder's state word."""

from __future__ import annotations

import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, TextIO

from fim_tray import jsonio
from fim_tray.display import change_line, escape
from fim_tray.models import FolderReport
from fim_tray.store.history import change_json
from fim_tray.store.names import name_fields

if TYPE_CHECKING:
    from fim_tray.app.service import Service
    from fim_tray.app.status import FolderStatus

EXIT_OK, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2
EXIT_RUNNING = 1  # a watcher (the tray, a monitor) already holds the data folder


def say(message: str) -> None:
    """A message for the person, on stderr, so stdout stays parseable."""
    print(f"fim-tray: {message}", file=sys.stderr)


def state_word(status: FolderStatus) -> str:
    """``ok``, ``3 pending`` or ``error``, as ``list`` and ``status`` show a folder."""
    if status.error:
        return "error"
    return f"{status.pending} pending" if status.pending else "ok"


def display_name(report: FolderReport, path: str, many: bool) -> str:
    """A path of a report as the person is shown it: full when several folders are reported."""
    if path in (".", ""):  # the folder itself
        return report.folder.path
    return os.path.join(report.folder.path, path) if many else path


def print_report(report: FolderReport, *, as_json: bool, many: bool, only_new: bool,
                  out: TextIO, said: set[tuple[str, str]] | None = None) -> None:  # fmt: skip
    """Print a report's changes (only the new ones for ``monitor``) and its problems; ``said``
    keeps a problem from being repeated at every poll."""
    if report.error is not None:
        say(f"{escape(report.folder.path)}: {report.error}")
    if report.warning is not None and (said is None or _first(said, report, report.warning)):
        say(f"{escape(report.folder.path)}: WARNING: {report.warning}")
    changes = report.new if only_new else report.changes
    new = {c.signature() for c in report.new}
    for change in changes:
        if as_json:
            obj = change_json(change, report.folder.path, report.time)
            obj["new"] = change.signature() in new
            obj["signature"] = change.signature()  # for restore --if-unchanged
            hint = report.hints.get(change.path)
            if hint is not None:  # who had it open for writing when it changed: a hint
                obj["process"] = {"name": hint.name, "pid": hint.pid, "hint": True}
            out.write(jsonio.dumps(obj).decode() + "\n")
        else:
            shown = display_name(report, change.path, many)
            out.write(change_line(change, report.time, shown) + "\n")
    out.flush()
    for problem in report.problems:
        if said is not None and not _first(said, report, problem.message, problem.path):
            continue
        say(f"{escape(display_name(report, problem.path, many))}: {problem.message}")


def _first(said: set[tuple[str, str]], report: FolderReport, message: str, path: str = "") -> bool:
    """Whether ``message`` about ``path`` is said for the first time (and remember it)."""
    key = (os.path.join(report.folder.path, path), message)
    if key in said:
        return False
    said.add(key)
    return True


def json_name(name: str) -> dict[str, str]:
    """A folder name for JSON output, as ``check --json`` writes it: ``{"folder": text}``, or
    ``{"folder_b64": raw bytes}`` when the name is not valid UTF-8 (see name_fields)."""
    return name_fields(name, "folder")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 entry``, ``2 entries``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {words or word + 's'}"


def summary(report: FolderReport) -> str:
    """One line per folder after a check: no changes in N entries, or the changes by kind."""
    if report.error is not None:
        return f"{escape(report.folder.path)}: error"
    name = escape(report.folder.path)
    if not report.changes:
        files = plural(report.files, "entry", "entries")
        return f"{name}: no changes in {files} ({report.seconds:.1f} s)"
    kinds = Counter(c.kind for c in report.changes)
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return f"{escape(report.folder.path)}: {plural(len(report.changes), 'change')} ({what})"


def said_unlisted(service: Service) -> bool:
    """Say so when baselines remain of folders the settings do not list (the settings deleted,
    or an older copy of them put back): those folders are no longer checked, and that is no
    "all is well". True when something was said."""
    left = service.store.unlisted_baselines()
    if not left:
        return False
    names = ", ".join(p.name for p in left[:3]) + (
        f" and {len(left) - 3} more" if len(left) > 3 else ""
    )
    say(f"{plural(len(left), 'baseline')} in {service.paths.baselines_dir} belong to folders the "
        f"settings ({service.paths.config_file}) do not list ({names}): the settings were deleted "
        "or an older copy was put back, so those folders are not checked. Put the settings back, "
        "or add the folders again (`fim-tray add PATH`).")  # fmt: skip
    return True
