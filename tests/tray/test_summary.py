"""One summary a day: when it is due, what it says, and that it holds back only when asked."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fim_tray.models import Change
from fim_tray.tray.summary import DailySummary, next_time, summary_text

TZ = timezone(timedelta(hours=2))


def _changes(count: int, suspicious: bool = False) -> tuple[Change, ...]:
    return tuple(
        Change("modified", f"f{i}.txt", None, None, suspicious=suspicious) for i in range(count)
    )


def test_the_next_summary_is_today_or_tomorrow() -> None:
    morning = datetime(2026, 3, 10, 9, 30, tzinfo=TZ)
    assert next_time(morning, "18:00") == datetime(2026, 3, 10, 18, 0, tzinfo=TZ)
    assert next_time(morning, "09:30") == datetime(2026, 3, 11, 9, 30, tzinfo=TZ)
    assert next_time(morning, "00:05") == datetime(2026, 3, 11, 0, 5, tzinfo=TZ)


def test_what_a_summary_says() -> None:
    title, body = summary_text(Counter({"/home/ann/Documents": 1}))
    assert title == "fim-tray: 1 change today"
    assert body.startswith("Documents: 1 change\n")
    many = Counter({f"/data/f{i}": i + 1 for i in range(7)})
    title, body = summary_text(many)
    assert title == "fim-tray: 28 changes today" and "and 2 more folders" in body


def test_held_only_in_summary_mode_and_sent_once() -> None:
    sent: list[tuple[str, str]] = []
    mode = {"when": ""}
    summary = DailySummary(lambda t, b: sent.append((t, b)), lambda: mode["when"],
                           lambda: datetime(2026, 3, 10, 9, 0, tzinfo=TZ))  # fmt: skip
    assert not summary.held("/w", _changes(3))  # at once: the caller notifies
    mode["when"] = "18:00"
    assert summary.held("/w", _changes(3)) and summary.held("/w", _changes(1))
    summary.flush()
    summary.flush()  # nothing new: nothing sent
    assert sent == [("fim-tray: 4 changes today", "w: 4 changes\nClick to open History.")]


def test_problems_and_suspicious_changes_are_never_held() -> None:
    sent: list[tuple[str, str]] = []
    summary = DailySummary(lambda t, b: sent.append((t, b)), lambda: "18:00",
                           lambda: datetime(2026, 3, 10, 9, 0, tzinfo=TZ))  # fmt: skip
    assert not summary.held("/gone", ())  # a folder missing, an error: notified at once
    assert not summary.held("/w", (*_changes(2), *_changes(1, suspicious=True)))
    assert summary.counts == Counter()
    summary.flush()
    assert sent == []  # never a summary of "0 changes"


def test_what_was_held_goes_out_when_notifying_at_once_again() -> None:
    sent: list[tuple[str, str]] = []
    mode = {"when": "18:00"}
    summary = DailySummary(lambda t, b: sent.append((t, b)), lambda: mode["when"],
                           lambda: datetime(2026, 3, 10, 9, 0, tzinfo=TZ))  # fmt: skip
    assert summary.held("/w", _changes(2))
    summary.start()
    try:
        time.sleep(0.3)  # waiting for 18:00
        mode["when"] = ""  # switched back to "at once" in Settings, which tells it
        summary.poke()
        for _ in range(20):  # at once, not at its next look a minute later
            if sent:
                break
            time.sleep(0.05)
    finally:
        summary.stop.set()
        assert summary._thread is not None
        summary._thread.join(5)
    assert sent == [("fim-tray: 2 changes today", "w: 2 changes\nClick to open History.")]


def test_the_counts_held_outlive_a_restart(tmp_path: Path) -> None:
    sent: list[tuple[str, str]] = []
    keep = tmp_path / "summary.json"

    def summary() -> DailySummary:
        return DailySummary(lambda t, b: sent.append((t, b)), lambda: "18:00",
                            lambda: datetime(2026, 3, 10, 9, 0, tzinfo=TZ), keep)  # fmt: skip

    assert summary().held("/w", _changes(2))
    again = summary()  # the tray quit and started again before the summary's time
    assert again.held("/w", _changes(1)) and again.counts == Counter({"/w": 3})
    again.flush()
    assert sent == [("fim-tray: 3 changes today", "w: 3 changes\nClick to open History.")]
    assert summary().counts == Counter()  # sent: not again after the next start
