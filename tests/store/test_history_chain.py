"""The chained history: every line sealed by an HMAC over itself and the line before it, the head
kept apart; an edited, deleted, reordered or inserted line, or a cut tail, is named by `verify`,
rotation continues the chain, and a crash between a line and its head is no false alarm."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fim_tray.models import Change, Entry
from fim_tray.store.history import History
from tests.helpers import cli, make_tree

KEY = bytes(range(32))
WHEN = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
ENTRY = Entry("file", 1, 1, 1, 1, 0o644, 0, 0, "a" * 64)


def _history(tmp_path: Path, **options: int) -> History:
    return History(tmp_path / "events.jsonl", key=lambda: KEY, head=tmp_path / "head", **options)


def _write(history: History, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        history.append("/f", [Change("added", f"file{index}.txt", None, ENTRY)], WHEN)


def _lines(history: History) -> list[bytes]:
    return history.path.read_bytes().splitlines(keepends=True)


def test_an_intact_history_verifies_and_every_event_is_verified(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 5)
    assert history.verify() == (5, None, 0)
    assert [e.verified for e in history.read()] == [True] * 5
    assert [json.loads(line)["n"] for line in _lines(history)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (
            lambda ls: [ls[0], ls[1].replace(b"file1", b"fileX"), *ls[2:]],
            "events.jsonl line 2: edited",
        ),
        (lambda ls: [ls[0], *ls[2:]], "events.jsonl line 2: 1 line(s) before it were deleted"),
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "events.jsonl line 2: 1 line(s) before it"),
        (lambda ls: [*ls[:3], ls[1], *ls[3:]], "events.jsonl line 4: out of order"),
        (lambda ls: ls[:3], "the last 2 line(s) were cut off"),
        (lambda ls: [*ls[:4], b'{"id":"x","forged":true}\n'], "events.jsonl line 5: edited"),
    ],
    ids=["edited", "deleted", "reordered", "inserted", "tail cut", "forged"],
)
def test_tampering_is_named_at_the_first_bad_line(
    tmp_path: Path, tamper: object, problem: str
) -> None:
    history = _history(tmp_path)
    _write(history, 5)
    history.path.write_bytes(b"".join(tamper(_lines(history))))  # type: ignore[operator]
    verdict = history.verify()
    assert verdict.problem is not None and verdict.problem.startswith(problem), verdict


def test_an_edited_line_is_read_as_not_verified(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 3)
    lines = _lines(history)
    history.path.write_bytes(b"".join([lines[0], lines[1].replace(b"file1", b"fileX"), lines[2]]))
    assert [e.verified for e in history.read()] == [True, False, True]


def test_rotation_continues_the_chain_and_dropped_files_are_no_gap(tmp_path: Path) -> None:
    history = _history(tmp_path, max_bytes=2000, keep=2)
    _write(history, 60)  # several rotations: the oldest lines are dropped for good
    assert len(history.files()) == 3
    verdict = history.verify()
    assert verdict.problem is None and verdict.lines < 60
    middle = history.files()[1]  # deleting a whole rotated file is a gap
    lines = middle.read_bytes().splitlines(keepends=True)
    middle.write_bytes(b"".join(lines[1:]))
    assert "deleted" in (history.verify().problem or "")


def test_a_crash_between_the_lines_and_the_head_is_no_false_alarm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = _history(tmp_path)
    _write(history, 3)
    monkeypatch.setattr(history, "_write_head", lambda *_args: None)  # killed before the head
    _write(history, 2, start=3)
    monkeypatch.undo()
    assert history.verify() == (5, None, 0)
    _write(history, 1, start=5)  # the next line follows the last one written, not the head
    assert history.verify() == (6, None, 0)
    assert [json.loads(line)["n"] for line in _lines(history)] == [0, 1, 2, 3, 4, 5]


def test_a_tail_cut_stays_a_gap_after_more_lines(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 5)
    history.path.write_bytes(b"".join(_lines(history)[:3]))
    _write(history, 1, start=5)
    assert "2 line(s) before it were deleted" in (history.verify().problem or "")


def test_a_missing_head_is_named(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 2)
    (tmp_path / "head").unlink()
    assert "head" in (history.verify().problem or "")


def test_lines_of_an_earlier_version_before_the_chain_are_counted_apart(tmp_path: Path) -> None:
    History(tmp_path / "events.jsonl").append("/f", [Change("added", "old", None, ENTRY)], WHEN)
    history = _history(tmp_path)
    _write(history, 2)
    assert history.verify() == (3, None, 1)
    assert [e.verified for e in history.read()] == [False, True, True]


def test_history_verify_on_the_command_line(tmp_path: Path, home: Path) -> None:
    docs = make_tree(tmp_path / "docs", {"a.txt": "a"})
    assert cli("add", docs, home=home).returncode == 0
    for index in range(3):
        (docs / f"new{index}.txt").write_text("x")
        assert cli("check", home=home).returncode == 1
    run = cli("history", "--verify", home=home)
    assert run.returncode == 0 and "intact: 3 lines" in run.err
    events = home / "data" / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(b"".join([lines[0], lines[2]]))  # the second change deleted
    run = cli("history", "--verify", home=home)
    assert run.returncode == 2
    assert "NOT intact: events.jsonl line 2: 1 line(s) before it were deleted" in run.err
    shown = cli("history", home=home)
    assert shown.returncode == 2 and "WARNING: the history is not intact" in shown.err
    assert shown.out  # what can be read is still shown
    (docs / "after.txt").write_text("x")
    assert cli("check", home=home).returncode == 1  # changes are still detected and reported


def test_blank_lines_padding_the_history_are_named(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 2)
    with history.path.open("ab") as out:
        out.write(b"\n" * 1000)  # to force rotations that push the real lines out
    assert "a blank line, not written by fim-tray" in (history.verify().problem or "")


def test_lines_cut_from_a_rotated_file_stay_a_gap_after_rotation(tmp_path: Path) -> None:
    history = _history(tmp_path, max_bytes=2000, keep=2)
    _write(history, 40)
    newer = history.files()[1]  # events.jsonl.1: the oldest once the next rotation drops .2
    newer.write_bytes(b"".join(newer.read_bytes().splitlines(keepends=True)[3:]))
    assert "deleted" in (history.verify().problem or "")
    cut = newer.read_bytes()
    index = 40
    while history.files()[0].read_bytes() != cut:  # until .2 is dropped and the cut file is
        _write(history, 1, start=index)  # the oldest: the head's first number moved past .2
        index += 1
        assert index < 80
    assert "deleted" in (history.verify().problem or "")


def test_unchained_lines_put_before_the_chain_are_named(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 2)
    forged = b'{"id":"x","time":"2026-01-01T00:00:00+00:00","folder":"/f","path":"p"}\n'
    history.path.write_bytes(forged + history.path.read_bytes())
    assert history.verify().problem is not None


def test_a_line_cut_short_by_a_crash_never_swallows_the_next(tmp_path: Path) -> None:
    history = _history(tmp_path)
    _write(history, 2)
    data = history.path.read_bytes()
    history.path.write_bytes(data[:-20])  # the last append died mid-line
    _write(history, 1, start=2)
    events = history.read()
    assert events[-1].path == "file2.txt" and events[-1].verified
    assert "edited" in (history.verify().problem or "")  # the cut line itself is named
