"""Unit tests of accepting the changes a person saw: Service.accept_changes and Monitor.accept."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from fim_tray.app.monitor import Accepted, Monitor, MonitorEvent
from fim_tray.app.service import Service
from fim_tray.models import Change, FolderReport

T = TypeVar("T")


def _kinds(changes: tuple[Change, ...] | list[Change]) -> list[tuple[str, str]]:
    return sorted((c.kind, c.path) for c in changes)


def _by_path(report: FolderReport) -> dict[str, Change]:
    return {c.path: c for c in report.changes}


@pytest.fixture
def folder(service: Service, tmp_path: Path) -> Path:
    root = tmp_path / "watched"
    root.mkdir()
    for name in ("a.txt", "b.txt", "keep.txt", "gone.txt"):
        (root / name).write_text(f"{name} original\n")
    service.watch(str(root))
    return root.resolve()


def _mess_up(root: Path) -> None:
    (root / "a.txt").write_text("a.txt changed once\n")
    (root / "b.txt").write_text("b.txt changed once\n")
    (root / "gone.txt").unlink()
    (root / "new.txt").write_text("new\n")


# -- Service.accept_changes ----------------------------------------------------------------------


def test_accepts_exactly_the_changes_named(service: Service, folder: Path) -> None:
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    assert _kinds(shown.changes) == [
        ("added", "new.txt"), ("modified", "a.txt"), ("modified", "b.txt"),
        ("removed", "gone.txt"),
    ]  # fmt: skip
    seen = _by_path(shown)
    original = service.store.load_baseline(service.folder(str(folder))).entries

    report = service.accept_changes(
        str(folder), {seen[p].key() for p in ("a.txt", "gone.txt", "new.txt")}
    )
    assert _kinds(report.changes) == [
        ("added", "new.txt"), ("modified", "a.txt"), ("removed", "gone.txt"),
    ]  # fmt: skip
    assert {c.signature() for c in report.changes} == {
        seen[p].signature() for p in ("a.txt", "gone.txt", "new.txt")
    }

    entries = service.store.load_baseline(service.folder(str(folder))).entries
    assert entries["a.txt"] == seen["a.txt"].after
    assert entries["new.txt"] == seen["new.txt"].after
    assert "gone.txt" not in entries
    assert entries["b.txt"] == original["b.txt"]  # not accepted: the old entry stays
    assert entries["keep.txt"] == original["keep.txt"]

    (after,) = service.check(str(folder))
    assert _kinds(after.changes) == [("modified", "b.txt")]
    assert after.new == ()  # b.txt's change was announced already; nothing accepted comes back


def test_a_file_changed_again_after_it_was_shown_stays_pending(
    service: Service, folder: Path
) -> None:
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    seen = _by_path(shown)
    original = service.store.load_baseline(service.folder(str(folder))).entries
    (folder / "b.txt").write_text("b.txt changed AGAIN, after the person looked\n")

    report = service.accept_changes(str(folder), {c.key() for c in shown.changes})
    assert _kinds(report.changes) == [
        ("added", "new.txt"), ("modified", "a.txt"), ("removed", "gone.txt"),
    ]  # fmt: skip
    entries = service.store.load_baseline(service.folder(str(folder))).entries
    assert entries["b.txt"] == original["b.txt"]
    assert entries["b.txt"] != seen["b.txt"].after

    (after,) = service.check(str(folder))
    assert _kinds(after.changes) == [("modified", "b.txt")]
    assert after.changes[0].signature() != seen["b.txt"].signature()
    # b.txt's new content was never shown: the check announces it (and logs it) now
    assert _kinds(after.new) == [("modified", "b.txt")]
    assert [e.path for e in service.history()].count("b.txt") == 2


def test_a_change_made_after_the_check_is_announced_by_the_next_one(
    service: Service, folder: Path
) -> None:
    """Accepting one change never marks another, never shown, as already announced."""
    (folder / "a.txt").write_text("a.txt changed once\n")
    (shown,) = service.check(str(folder))
    (folder / "sneaky.txt").write_text("added between the check and the accept\n")
    service.accept_changes(str(folder), {shown.changes[0].key()})
    (after,) = service.check(str(folder))
    assert _kinds(after.changes) == [("added", "sneaky.txt")]
    assert _kinds(after.new) == [("added", "sneaky.txt")]
    assert [(e.change, e.path) for e in service.history()] == [
        ("modified", "a.txt"), ("accepted", "a.txt"), ("added", "sneaky.txt"),
    ]  # fmt: skip


def test_pending_count_after_accepting_some(service: Service, folder: Path) -> None:
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    assert service.status()[0].pending == 4
    service.accept_changes(str(folder), {_by_path(shown)["a.txt"].key()})
    assert service.status()[0].pending == 3


def test_a_signature_shown_beside_another_path_accepts_nothing(
    service: Service, folder: Path
) -> None:
    # A forged history line: "modified notes" carrying the signature of another file's change.
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    real = _by_path(shown)["a.txt"]
    other = next(c.path for c in shown.changes if c.path != "a.txt")
    report = service.accept_changes(str(folder), {(other, real.signature())})
    assert report.changes == ()
    (after,) = service.check(str(folder))
    assert _kinds(after.changes) == _kinds(shown.changes)


def test_an_unknown_signature_accepts_nothing(service: Service, folder: Path) -> None:
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    before = service.store.load_baseline(service.folder(str(folder))).entries
    for signatures in ({("a.txt", "0" * 32)}, set(), {("a.txt", "not a signature")}):
        report = service.accept_changes(str(folder), signatures)
        assert report.changes == ()
        assert report.folder.path == str(folder)
    assert service.store.load_baseline(service.folder(str(folder))).entries == before
    (after,) = service.check(str(folder))
    assert _kinds(after.changes) == _kinds(shown.changes)
    assert after.new == ()


def test_accept_changes_of_a_folder_not_watched(service: Service, tmp_path: Path) -> None:
    from fim_tray.errors import NotWatchedError

    with pytest.raises(NotWatchedError):
        service.accept_changes(str(tmp_path), {("a.txt", "0" * 32)})


# -- Monitor.accept ------------------------------------------------------------------------------


class Collector(Generic[T]):
    """Remembers what it is called with and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._changed = threading.Condition()

    def __call__(self, item: T) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait(self, predicate: Callable[[list[T]], bool], timeout: float = 10.0) -> list[T]:
        with self._changed:
            ok = self._changed.wait_for(lambda: predicate(self.items), timeout)
            assert ok, f"gave up waiting; got {self.items}"
            return list(self.items)


@pytest.fixture
def two(service: Service, tmp_path: Path) -> list[Path]:
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        (root / "a.txt").write_text(f"{name} original\n")
        (root / "b.txt").write_text(f"{name} original\n")
        service.watch(str(root))
        roots.append(root.resolve())
    (roots[0] / "a.txt").write_text("one changed\n")
    (roots[0] / "new.txt").write_text("new\n")
    (roots[1] / "b.txt").write_text("two changed\n")
    return roots


def _accepted(events: list[MonitorEvent]) -> list[Accepted]:
    return [e for e in events if isinstance(e, Accepted)]


def _start(service: Service) -> tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]]:
    sink: Collector[FolderReport] = Collector()
    events: Collector[MonitorEvent] = Collector()
    running = Monitor(service, sink, interval=3600, on_event=events)
    running.start()
    return running, sink, events


@pytest.fixture
def started(
    service: Service,
) -> Iterator[tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]]]:
    running, sink, events = _start(service)
    try:
        yield running, sink, events
    finally:
        running.join(10)
    assert not running.alive


def test_monitor_accepts_the_changes_named_then_reports_afresh(
    two: list[Path],
    started: tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]],
) -> None:
    running, sink, events = started
    first = sink.wait(lambda r: len(r) >= 2)  # the poll at start
    report = {r.folder.path: r for r in first}[str(two[0])]
    assert _kinds(report.changes) == [("added", "new.txt"), ("modified", "a.txt")]
    wanted = frozenset({_by_path(report)["a.txt"].key()})

    running.accept(str(two[0]), wanted)
    events.wait(lambda e: len(_accepted(e)) >= 1)
    fresh = sink.wait(lambda r: len(r) >= 3)[2]
    assert _accepted(events.items) == [Accepted(str(two[0]), 1)]
    assert fresh.folder.path == str(two[0])
    assert _kinds(fresh.changes) == [("added", "new.txt")]
    assert fresh.new == ()

    running.accept()  # everything, everywhere
    events.wait(lambda e: len(_accepted(e)) >= 2)
    after = sink.wait(lambda r: len(r) >= 5)[3:]
    assert _accepted(events.items)[1] == Accepted(None, 2)  # new.txt in one, b.txt in two
    assert sorted(r.folder.path for r in after) == sorted(str(p) for p in two)
    assert all(r.changes == () and r.error is None for r in after)

    running.join(10)
    assert not running.alive


def test_monitor_accept_all_of_one_folder(
    two: list[Path],
    started: tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]],
) -> None:
    running, sink, events = started
    sink.wait(lambda r: len(r) >= 2)
    running.accept(str(two[0]))
    events.wait(lambda e: len(_accepted(e)) >= 1)
    fresh = sink.wait(lambda r: len(r) >= 3)[2]
    assert _accepted(events.items) == [Accepted(str(two[0]), 2)]
    assert fresh.folder.path == str(two[0]) and fresh.changes == ()
    running.check_now(str(two[1]))
    other = sink.wait(lambda r: len(r) >= 4)[3]
    assert _kinds(other.changes) == [("modified", "b.txt")]  # the other folder is untouched


def test_monitor_accept_unknown_signatures_counts_none(
    two: list[Path],
    started: tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]],
) -> None:
    running, sink, events = started
    sink.wait(lambda r: len(r) >= 2)
    running.accept(str(two[0]), frozenset({("a.txt", "0" * 32)}))
    events.wait(lambda e: len(_accepted(e)) >= 1)
    fresh = sink.wait(lambda r: len(r) >= 3)[2]
    assert _accepted(events.items) == [Accepted(str(two[0]), 0)]
    assert _kinds(fresh.changes) == [("added", "new.txt"), ("modified", "a.txt")]


def test_monitor_accept_signatures_without_a_folder_accepts_only_those(
    service: Service,
    two: list[Path],
    started: tuple[Monitor, Collector[FolderReport], Collector[MonitorEvent]],
) -> None:
    """Signatures always narrow what is accepted, even when no folder is named."""
    running, sink, events = started
    first = sink.wait(lambda r: len(r) >= 2)
    report = {r.folder.path: r for r in first}[str(two[1])]
    running.accept(None, frozenset(c.key() for c in report.changes))
    events.wait(lambda e: len(_accepted(e)) >= 1)
    assert _accepted(events.items) == [Accepted(None, 1)]
    running.join(10)
    remaining = {r.folder.path: _kinds(r.changes) for r in service.check()}
    assert remaining == {
        str(two[0]): [("added", "new.txt"), ("modified", "a.txt")],
        str(two[1]): [],
    }


# -- every accept is recorded ---------------------------------------------------------------------


def _accept_lines(service: Service) -> list[tuple[str, object, object, object]]:
    return [
        (e.path, e.extra.get("accepted"), e.extra.get("by"), e.extra.get("reported"))
        for e in service.history()
        if e.change == "accepted"
    ]


def test_accept_records_each_change_and_whether_it_was_reported(
    service: Service, folder: Path
) -> None:
    (folder / "a.txt").write_text("a.txt changed once\n")
    service.check(str(folder))  # reports a.txt
    (folder / "b.txt").write_text("b.txt changed, never checked\n")

    (report,) = service.accept(str(folder))
    assert _kinds(report.changes) == [("modified", "a.txt"), ("modified", "b.txt")]
    assert [c.path for c in report.new] == ["b.txt"]  # never reported
    assert sorted(_accept_lines(service)) == [
        ("a.txt", "modified", "command line", True),
        ("b.txt", "modified", "command line", False),
    ]
    lines = [e for e in service.history() if e.change == "accepted"]
    assert all(e.verified and e.signature is None for e in lines)  # chained, never re-accepted
    assert service.verify_history().problem is None


def test_accept_of_chosen_changes_is_recorded_as_the_trays(service: Service, folder: Path) -> None:
    _mess_up(folder)
    (shown,) = service.check(str(folder))
    service.accept_changes(str(folder), {_by_path(shown)["new.txt"].key()})
    assert _accept_lines(service) == [("new.txt", "added", "tray", True)]


def test_nothing_is_accepted_when_the_history_cannot_record_it(
    service: Service, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fim_tray.errors import StorageError

    (folder / "a.txt").write_text("a.txt changed once\n")
    before = service.store.load_baseline(service.folder(str(folder))).entries

    def full(*_a: object, **_k: object) -> None:
        raise StorageError("Could not add to the history: No space left on device.")

    monkeypatch.setattr(service.store.history, "append_records", full)
    with pytest.raises(StorageError):
        service.accept(str(folder))
    monkeypatch.undo()
    assert service.store.load_baseline(service.folder(str(folder))).entries == before
    (again,) = service.check(str(folder))
    assert _kinds(again.changes) == [("modified", "a.txt")]


def test_accept_reported_takes_only_what_was_announced(service: Service, folder: Path) -> None:
    (folder / "a.txt").write_text("a.txt changed once\n")
    service.check(str(folder))  # announces a.txt
    (folder / "b.txt").write_text("b.txt changed after the announcement\n")
    (folder / "a2.txt").write_text("added after\n")

    (report,) = service.accept_reported(str(folder))
    assert _kinds(report.changes) == [("modified", "a.txt")]
    assert _accept_lines(service) == [("a.txt", "modified", "tray", True)]
    (again,) = service.check(str(folder))
    assert _kinds(again.changes) == [("added", "a2.txt"), ("modified", "b.txt")]
    assert _kinds(again.new) == [("added", "a2.txt"), ("modified", "b.txt")]  # announced now


def test_accept_reported_leaves_a_file_changed_again_since_its_announcement(
    service: Service, folder: Path
) -> None:
    (folder / "a.txt").write_text("a.txt changed once\n")
    service.check(str(folder))
    (folder / "a.txt").write_text("a.txt changed twice, not announced\n")
    (report,) = service.accept_reported(str(folder))
    assert report.changes == ()
    assert _accept_lines(service) == []


def test_an_accept_whose_generation_record_fails_says_it_was_taken_in(
    service: Service, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline is saved, then the record of its generation cannot be: the accept stands
    (the saved baseline is taken as committed), and it must not say "Nothing was accepted"."""
    from fim_tray.errors import StorageError

    (folder / "a.txt").write_text("a.txt changed once\n")
    service.check(str(folder))

    def full(_obj: object) -> None:
        raise StorageError("Could not save generations.json: the disk is full.")

    monkeypatch.setattr(service.store.generations, "write", full)
    with pytest.raises(StorageError) as raised:
        service.accept(str(folder))
    monkeypatch.undo()
    assert "Nothing was accepted" not in raised.value.message
    assert "were accepted" in raised.value.message
    (again,) = service.check(str(folder))
    assert again.changes == ()  # taken in, as it said
    assert _accept_lines(service) == [("a.txt", "modified", "command line", True)]
