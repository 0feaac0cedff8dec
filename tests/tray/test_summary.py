"""One summary a day: when it is due, what it says, and that it holds back only when asked."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from fim_tray.tray.summary import DailySummary, next_time, summary_text

TZ = timezone(timedelta(hours=2))


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
    assert not summary.held("/w", 3)  # at once: the caller notifies
    mode["when"] = "18:00"
    assert summary.held("/w", 3) and summary.held("/w", 1)
    summary.flush()
    summary.flush()  # nothing new: nothing sent
    assert sent == [("fim-tray: 4 changes today", "w: 4 changes\nClick to open History.")]
