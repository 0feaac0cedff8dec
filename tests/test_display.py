"""Unit tests of fim_tray.display: escaped names, local timestamps, one-line change texts."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from fim_tray.display import change_line, describe, escape, timestamp
from fim_tray.models import Change, Entry

UNSAFE = ("Cc", "Cf", "Cs", "Zl", "Zp")


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC+05:30 for the test (a zone without daylight saving)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _file(size: int = 10, mtime_ns: int = 0, mode: int = 0o644, **extra: str | None) -> Entry:
    return Entry("file", size, mtime_ns, 0, 1, mode, 1000, 1000, **extra)


# -- escape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\rb", "a\\rb"),
        ("a\tb", "a\\tb"),
        ("a\\b", "a\\\\b"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("\x85", "\\x85"),  # a C1 control: NEL
        ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("line\u2028sep", "line\\u2028sep"),
        ("para\u2029sep", "para\\u2029sep"),
        ("caf\udce9", "caf\\xe9"),
        ("\udcff", "\\xff"),
        ("\udc80\udcfe", "\\x80\\xfe"),
        ("tag\U000e0041", "tag\\U000e0041"),
    ],
)
def test_escape_makes_unsafe_characters_visible(name: str, shown: str) -> None:
    assert escape(name) == shown


@pytest.mark.parametrize(
    "name",
    ["notes/todo.txt", "café", "日本語.txt", "emoji 🎉.png", "with space", "a-b_c.d", ""],
)
def test_plain_names_are_unchanged(name: str) -> None:
    assert escape(name) is name or escape(name) == name


def test_escape_tells_a_backslash_sequence_from_the_character() -> None:
    assert escape("a\nb") != escape("a\\nb")
    assert escape("\udcff") != escape("\\xff")


def test_no_code_point_survives_unsafe() -> None:
    everything = "".join(chr(c) for c in range(0x110000))
    shown = escape(everything)
    assert not [c for c in shown if unicodedata.category(c) in UNSAFE]
    assert "\n" not in shown and "\r" not in shown


# -- timestamp ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("kolkata")
def test_timestamp_is_local_time() -> None:
    assert timestamp(datetime(2026, 1, 2, 10, 0, 0, tzinfo=timezone.utc)) == "2026-01-02 15:30:00"


def test_timestamp_format() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 678000).astimezone()
    assert timestamp(when) == "2026-01-02 03:04:05"


# -- describe and change_line ---------------------------------------------------------------------


@pytest.mark.usefixtures("kolkata")
def test_change_line_format() -> None:
    before = _file(10, 1_767_322_800_000_000_000)  # 2026-01-02 03:00:00 UTC
    after = _file(15, 1_767_322_860_000_000_000)
    change = Change("modified", "notes/todo.txt", before, after, fields=("size", "mtime_ns"))
    line = change_line(change, datetime(2026, 1, 2, 4, 41, 12, tzinfo=timezone.utc))
    assert line == (
        "2026-01-02 10:11:12  modified    notes/todo.txt  "
        "(content, size 10 -> 15, mtime 2026-01-02 08:30:00 -> 2026-01-02 08:31:00)"
    )


def test_change_line_shape_for_every_kind() -> None:
    when = datetime(2026, 1, 2, 10, 11, 12).astimezone()
    pattern = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}  (\S+) +(\S.*?)(  \(.*\))?")
    for kind in ("added", "removed", "modified", "metadata", "unreadable"):
        before = None if kind == "added" else _file()
        after = None if kind == "removed" else _file(mode=0o600, error="x")
        line = change_line(Change(kind, "dir/file.txt", before, after, fields=("mode",)), when)
        match = pattern.fullmatch(line)
        assert match is not None, line
        assert match.group(1) == kind
        assert match.group(2) == "dir/file.txt"
        assert line.startswith("2026-01-02 10:11:12  ")


def test_change_line_without_detail_has_no_parentheses() -> None:
    when = datetime(2026, 1, 2, 10, 11, 12).astimezone()
    line = change_line(Change("removed", "gone.txt", _file(), None), when)
    assert line == "2026-01-02 10:11:12  removed     gone.txt"


def test_change_line_escapes_the_name_so_it_cannot_forge_a_line() -> None:
    when = datetime(2026, 1, 2, 10, 11, 12).astimezone()
    forged = "x\n2026-01-02 10:11:12  removed     important.txt"
    line = change_line(Change("added", forged, None, _file()), when)
    assert "\n" not in line
    assert line.count("2026-01-02") == 2
    assert "x\\n2026" in line


def test_change_line_shows_the_given_name() -> None:
    when = datetime(2026, 1, 2, 10, 11, 12).astimezone()
    line = change_line(Change("added", "a", None, _file()), when, name="/w/a\t")
    assert "  /w/a\\t  " in line


def test_describe_added() -> None:
    assert describe(Change("added", "a", None, _file(size=42))) == "42 bytes"
    folder = Entry("dir", 0, 0, 0, 1, 0o755, 0, 0)
    assert describe(Change("added", "d", None, folder)) == "dir"


def test_describe_unreadable() -> None:
    change = Change("unreadable", "a", _file(), _file(error="permission denied"))
    assert describe(change) == "cannot be read now: permission denied"


def test_describe_type_change() -> None:
    folder = Entry("dir", 0, 0, 0, 1, 0o755, 0, 0)
    change = Change("modified", "a", _file(), folder, fields=("type",))
    assert describe(change) == "was a file, now a dir"


def test_describe_metadata() -> None:
    before = _file(mode=0o644)
    after = Entry("file", 10, 0, 0, 1, 0o600, 0, 50)
    change = Change("metadata", "a", before, after, fields=("mode", "uid", "gid"))
    assert describe(change) == "mode 0644 -> 0600, owner 1000 -> 0, group 1000 -> 50"


def test_describe_suspicious() -> None:
    change = Change("modified", "a", _file(digest="a"), _file(digest="b"), suspicious=True)
    assert describe(change) == "content, SUSPICIOUS: content changed but size and mtime did not"


def test_describe_symlink_target_is_escaped() -> None:
    before = Entry("symlink", 1, 0, 0, 1, 0o777, 0, 0, target="a")
    after = Entry("symlink", 1, 0, 0, 1, 0o777, 0, 0, target="b\n\x1b")
    change = Change("modified", "l", before, after)
    assert describe(change) == "link target a -> b\\n\\x1b"
