"""What the History window does with the history, without a window: filters (folder, kind,
text, a date range), pages, the words of its counts, and the CSV and JSON exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from fim_tray.display import escape
from fim_tray.store.names import name_fields, name_from

PAGE = 500  # rows in the list at once: a Treeview of 100,000 rows would freeze the window
ANY = ""  # a filter left open
WHEN = ("Any time", "Today", "Last 7 days", "Last 30 days")
CSV_COLUMNS = ("time", "folder", "path", "change", "suspicious", "fields", "verified")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 change``, ``2 changes``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {words or word + 's'}"


@dataclass(frozen=True)
class Query:
    """What the History window shows: an empty field is no filter; ``since`` and ``until``
    bound the time (``until`` excluded)."""

    folder: str = ANY
    kind: str = ANY
    text: str = ANY
    since: datetime | None = None
    until: datetime | None = None


def parse_day(text: str) -> date | None:
    """A date typed as YYYY-MM-DD; None when empty; ValueError with plain words otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD") from None


def bounds(when: str, start: str, end: str, today: date) -> tuple[datetime | None, datetime | None]:
    """The time range of the "When" choice and the From / To fields (both days included)."""
    since: datetime | None = None
    if when == "Today":
        since = datetime.combine(today, time())
    elif when == "Last 7 days":
        since = datetime.combine(today - timedelta(days=6), time())
    elif when == "Last 30 days":
        since = datetime.combine(today - timedelta(days=29), time())
    first, last = parse_day(start), parse_day(end)
    if first is not None and last is not None and last < first:
        raise ValueError("the To date is before the From date")
    if first is not None:
        since = max(since, datetime.combine(first, time())) if since else datetime.combine(
            first, time()
        )
    until = None
    if last is not None:
        if last == date.max:  # the day after it has no date
            raise ValueError(f"{end.strip()!r} is too late a date: write the last day wanted")
        until = datetime.combine(last + timedelta(days=1), time())
    return since, until


def _local(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def matches(item: dict[str, Any], query: Query) -> bool:
    """Whether a history item passes every filter of ``query``."""
    if query.folder and name_from(item, "folder") != query.folder:
        return False
    if query.kind and item.get("change") != query.kind:
        return False
    if query.text:
        needle = query.text.casefold()
        said = f"{name_from(item, 'folder') or ''}/{name_from(item, 'path') or ''}"
        if needle not in said.casefold() and needle not in str(item.get("change", "")):
            return False
    if query.since is not None or query.until is not None:
        moment = _local(str(item.get("time", "")))
        if moment is None:
            return False
        if query.since is not None and moment < query.since:
            return False
        if query.until is not None and moment >= query.until:
            return False
    return True


def select(items: Sequence[dict[str, Any]], query: Query) -> list[int]:
    """The indexes of the items that pass (in the items' order: newest first)."""
    if query == Query():
        return list(range(len(items)))
    return [index for index, item in enumerate(items) if matches(item, query)]


def choices(items: Iterable[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The folders and the kinds of change the history holds, sorted."""
    folders, kinds = set(), set()
    for item in items:
        folders.add(name_from(item, "folder") or "")
        kinds.add(str(item.get("change", "")))
    return sorted(folders - {""}), sorted(kinds - {""})


def page_note(page: int, shown: int, total: int, everything: int) -> str:
    """``Entries 1-500 of 1,234 (of 5,000 in the history)``, in words that fit any count."""
    if total == 0:
        return "No entries match." if everything else "The history is empty."
    first = page * PAGE + 1
    matched = f" (of {everything:,} in the history)" if total != everything else ""
    if total > shown:
        return f"Entries {first:,}-{first + shown - 1:,} of {total:,}{matched}, newest first"
    return f"{plural(total, 'entry', 'entries')}{matched}, newest first"


def title(count: int) -> str:
    return f"History: {plural(count, 'change')}" if count else "History"


def to_csv(items: Iterable[dict[str, Any]]) -> str:
    """The items as CSV, one row each, with a header. A folder or a file name is written as
    the window shows it (:func:`~fim_tray.display.escape`): a byte that is not UTF-8 as
    ``\\xe9``, a control character escaped too, so the CSV is valid UTF-8 and one line a row
    (the JSON export carries such a name's exact bytes)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        folder, path = name_from(item, "folder") or "", name_from(item, "path") or ""
        writer.writerow([_cell(v) for v in (
            item.get("time", ""), escape(folder), escape(path),
            item.get("change", ""), "yes" if item.get("suspicious") else "no",
            " ".join(str(f) for f in item.get("fields") or ()),
            "no" if item.get("verified") is False else "yes",
        )])  # fmt: skip
    return out.getvalue()


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a file named ``=cmd|...`` never becomes a
    formula (a leading ``'`` keeps it text)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


JSON_KEYS = ("time", "folder", "path", "change", "suspicious", "fields", "before", "after",
             "verified", "pattern", "dropped", "dropped_b64")  # fmt: skip
_NAMES = ("folder", "path")


def to_json(items: Iterable[dict[str, Any]]) -> str:
    """The items as a JSON array of objects (before and after values included). A folder or
    a file name that is not valid UTF-8 is its exact bytes in base64, under ``folder_b64`` or
    ``path_b64``, as the history keeps it (see :mod:`fim_tray.store.names`)."""
    return json.dumps([_json_item(item) for item in items], indent=1)


def _json_item(item: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key in JSON_KEYS:
        if key in _NAMES:
            name = name_from(item, key)
            if name is not None:
                obj.update(name_fields(name, key))
        elif key in item:
            obj[key] = item[key]
    return obj
