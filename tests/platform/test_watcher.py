"""File events: debouncing a burst into one call, ignoring reads and our own state, and the
fall back to polling (with a rescan) when the OS refuses watches or drops events."""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fim_tray.app.monitor import EventsState, Monitor, MonitorEvent
from fim_tray.app.service import Service
from fim_tray.models import ITSELF, FolderReport, split_scope
from fim_tray.platform.watcher import EventWatcher
from tests.helpers import remove_chain


class Calls:
    """What the watcher reported, with a way to wait for it."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, frozenset[str]]] = []
        self.lost: list[tuple[str | None, str]] = []
        self.event = threading.Event()

    def on_change(self, folder: str, paths: frozenset[str]) -> None:
        self.changes.append((folder, paths))
        self.event.set()

    def on_lost(self, folder: str | None, why: str) -> None:
        self.lost.append((folder, why))
        self.event.set()


def test_an_editor_save_and_rename_is_one_call(tmp_path: Path) -> None:
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost, debounce=0.2, max_delay=2)
    assert watcher.start()
    try:
        assert watcher.watch(str(tmp_path))
        (tmp_path / ".notes.txt.swp").write_text("draft")
        (tmp_path / "notes.tmp").write_text("new")
        os.replace(tmp_path / "notes.tmp", tmp_path / "notes.txt")
        assert calls.event.wait(5)
        time.sleep(0.5)  # nothing more arrives for the same burst
    finally:
        watcher.stop()
    assert len(calls.changes) == 1
    folder, paths = calls.changes[0]
    assert folder == str(tmp_path) and "notes.txt" in paths


def test_reads_and_our_own_state_raise_nothing(tmp_path: Path) -> None:
    (tmp_path / "read-me.txt").write_text("x")
    state = tmp_path / "state"
    state.mkdir()
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost, ignore=[str(state)], debounce=0.1)
    assert watcher.start()
    try:
        assert watcher.watch(str(tmp_path))
        time.sleep(0.2)
        (tmp_path / "read-me.txt").read_text()  # as a scan reads every file
        (state / "events.jsonl").write_text("written by fim-tray itself")
        assert not calls.event.wait(1)
    finally:
        watcher.stop()
    assert calls.changes == []


class RefusingObserver:
    """An observer like watchdog's when the OS has no inotify watches left."""

    daemon = True
    name = ""

    def start(self) -> None:
        pass

    def is_alive(self) -> bool:
        return True

    def schedule(self, *_args: Any, **_kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def stop(self) -> None:
        pass

    def join(self, _timeout: float | None = None) -> None:
        pass


def test_out_of_watches_means_polling_said_and_a_rescan(service: Service, tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    (watched / "a.txt").write_text("a")
    service.watch(str(watched))
    reports: list[FolderReport] = []
    events: list[MonitorEvent] = []
    checked = threading.Event()

    def factory(*args: Any, **kwargs: Any) -> EventWatcher:
        return EventWatcher(*args, observer_factory=RefusingObserver, **kwargs)

    def sink(report: FolderReport) -> None:
        reports.append(report)
        checked.set()

    monitor = Monitor(
        service, sink, interval=3600, events=True, watcher_factory=factory, on_event=events.append
    )
    monitor.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            isinstance(e, EventsState) and not e.live for e in events
        ):
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        monitor.join(10)
    lost = [e for e in events if isinstance(e, EventsState) and not e.live]
    assert lost and lost[0].folder == str(watched) and "out of file watches" in lost[0].why
    assert len(reports) >= 2  # the first poll, and the rescan the lost events call for


def test_a_dropped_events_warning_calls_for_a_rescan_of_everything(tmp_path: Path) -> None:
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost)
    assert watcher.start()
    try:
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"
        )
        assert calls.event.wait(2)
    finally:
        watcher.stop()
    assert calls.lost == [(None, "the system dropped file events")]


def _chain(root: Path, depth: int) -> None:
    """``d/d/.../d``, ``depth`` deep, made one name at a time (deeper than a path may be)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


def test_a_folder_too_deep_for_file_events_is_said_and_polled(tmp_path: Path) -> None:
    deep = tmp_path / "deep"
    deep.mkdir()
    _chain(deep, 1500)
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost)
    assert watcher.start()
    try:
        assert not watcher.watch(str(deep))  # refused, not a crash
        assert calls.lost and calls.lost[0][0] == str(deep)
        assert "too deep" in calls.lost[0][1]
    finally:
        watcher.stop()
        remove_chain(deep)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_events_that_stop_at_run_time_are_noticed(tmp_path: Path) -> None:
    """A chain too deep made inside a watched folder ends the backend's reader thread: the
    watcher says its events are no longer healthy (the monitor then polls, and says so)."""
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost, debounce=0.1)
    before = threading.excepthook
    quiet = logging.getLogger("watchdog").level
    assert watcher.start()
    try:
        assert watcher.watch(str(tmp_path)) and watcher.healthy(str(tmp_path))
        _chain(tmp_path, 1500)
        deadline = time.monotonic() + 10
        while watcher.healthy(str(tmp_path)):
            assert time.monotonic() < deadline, "the events never stopped: the test proves nothing"
            time.sleep(0.1)
    finally:
        watcher.stop()
        logging.getLogger("watchdog").setLevel(quiet)
        remove_chain(tmp_path)
    assert threading.excepthook is before  # stop() put the hook back


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="what inotify says")
def test_a_folder_whose_listing_changed_names_its_own_entry_only(tmp_path: Path) -> None:
    """A file added to a folder of 10,000 is one path to read, and the folder's own entry:
    never the folder and all under it (nor, for the watched folder itself, the whole tree)."""
    (tmp_path / "big").mkdir()
    calls = Calls()
    watcher = EventWatcher(calls.on_change, calls.on_lost, debounce=0.2, max_delay=2)
    assert watcher.start()
    try:
        assert watcher.watch(str(tmp_path))
        (tmp_path / "big" / "new.txt").write_text("n")
        (tmp_path / "top.txt").write_text("t")
        assert calls.event.wait(5)
        time.sleep(0.5)
        calls.event.clear()
        (tmp_path / "big").chmod(0o700)
        assert calls.event.wait(5)
        time.sleep(0.5)
    finally:
        watcher.stop()
    first, second = (paths for _folder, paths in calls.changes)
    assert first == {"big/new.txt", "big" + ITSELF, "top.txt"}
    assert second == {"big" + ITSELF}
    assert split_scope(first) == (frozenset({"big/new.txt", "top.txt"}), frozenset({"big"}))
