"""The monitor verifies the history's chain when the history changed and says when it broke (and
when it is intact again); the tray's model turns that into its red state and status line."""

from __future__ import annotations

from pathlib import Path

from fim_tray.app.monitor import HistoryState, Monitor, MonitorEvent
from fim_tray.app.service import Service
from fim_tray.tray.presenter import TrayModel
from tests.helpers import make_tree


def _monitor(service: Service, events: list[MonitorEvent]) -> Monitor:
    return Monitor(service, lambda _report: None, on_event=events.append)


def _history_states(events: list[MonitorEvent]) -> list[str | None]:
    return [e.problem for e in events if isinstance(e, HistoryState)]


def test_a_broken_chain_is_said_once_and_its_repair_too(service: Service, tmp_path: Path) -> None:
    docs = make_tree(tmp_path / "docs", {"a.txt": "a\n"})
    service.watch(str(docs))
    for name in ("b.txt", "c.txt"):
        (docs / name).write_text("x\n")
        service.check(str(docs))
    events: list[MonitorEvent] = []
    monitor = _monitor(service, events)
    monitor.check_history()
    assert _history_states(events) == []  # intact from the start: nothing to say
    history = service.paths.events_file
    intact = history.read_bytes()
    lines = intact.splitlines(keepends=True)
    history.write_bytes(lines[1])  # the first line deleted
    monitor.check_history()
    monitor.check_history()  # unchanged since: not verified again, not said again
    [problem] = _history_states(events)
    assert problem is not None and "events.jsonl line 1" in problem
    history.write_bytes(intact)
    monitor.check_history()
    assert _history_states(events) == [problem, None]


def test_the_tray_shows_a_broken_history_in_red_with_where() -> None:
    model = TrayModel()
    model.set_folders(["/home/ann/Documents"])
    assert model.state() == "ok"
    model.apply_event(HistoryState("events.jsonl line 3: edited, or not written by fim-tray"))
    assert model.state() == "error"
    assert model.status_line().startswith("The history was altered: events.jsonl line 3")
    model.apply_event(HistoryState(None))
    assert model.state() == "ok"
