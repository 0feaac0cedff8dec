"""Tests of fim_tray.app.monitor: reports reach the sink, errors stay per folder, quick stop."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.errors import ScanCancelled
from fim_tray.models import Folder, FolderReport
from fim_tray.store.config import Config


class Collector:
    """A sink that remembers every report and lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.reports: list[FolderReport] = []
        self._changed = threading.Condition()

    def __call__(self, report: FolderReport) -> None:
        with self._changed:
            self.reports.append(report)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[FolderReport]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.reports) >= count, timeout), (
                f"only {len(self.reports)} of {count} reports arrived"
            )
            return list(self.reports)


@pytest.fixture
def folders(service: Service, tmp_path: Path) -> list[Path]:
    roots = []
    for name in ("one", "two"):
        root = tmp_path / name
        root.mkdir()
        (root / "f.txt").write_text(name)
        service.watch(str(root))
        roots.append(root)
    return roots


@pytest.fixture
def running() -> Iterator[list[Monitor]]:
    """Monitors a test started; each is stopped and joined however the test ends."""
    monitors: list[Monitor] = []
    yield monitors
    for monitor in monitors:
        monitor.join(5)


def _start(monitor: Monitor, running: list[Monitor]) -> Monitor:
    running.append(monitor)
    monitor.start()
    return monitor


def test_run_once_hands_each_report_to_the_sink(service: Service, folders: list[Path]) -> None:
    (folders[1] / "new.txt").write_text("new")
    sink = Collector()
    reports = Monitor(service, sink).run_once()
    assert sink.reports == reports
    assert [r.folder.path for r in reports] == [str(p) for p in folders]
    assert reports[0].changes == ()
    assert [(c.kind, c.path) for c in reports[1].new] == [("added", "new.txt")]


def test_run_once_for_one_path(service: Service, folders: list[Path]) -> None:
    sink = Collector()
    Monitor(service, sink, path=str(folders[1])).run_once()
    assert [r.folder.path for r in sink.reports] == [str(folders[1])]


def test_a_missing_folder_does_not_stop_the_others(service: Service, folders: list[Path]) -> None:
    shutil.rmtree(folders[0])
    (folders[1] / "f.txt").write_text("changed")
    sink = Collector()
    Monitor(service, sink).run_once()
    first, second = sink.reports
    assert first.error is not None and str(folders[0]) in first.error
    assert second.error is None
    assert [(c.kind, c.path) for c in second.changes] == [("modified", "f.txt")]


def test_an_unexpected_error_in_one_folder_does_not_stop_the_others(
    service: Service, folders: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_check = service.check_folder

    def flaky(folder: Folder, config: Config | None = None, **kwargs: object) -> FolderReport:
        if folder.path == str(folders[0]):
            raise OSError(28, "No space left on device")
        return real_check(folder, config, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "check_folder", flaky)
    sink = Collector()
    Monitor(service, sink).run_once()
    assert [r.folder.path for r in sink.reports] == [str(p) for p in folders]
    assert sink.reports[0].error is not None
    assert "No space left on device" in sink.reports[0].error
    assert sink.reports[1].error is None


def test_a_set_stop_checks_nothing(service: Service, folders: list[Path]) -> None:
    sink = Collector()
    monitor = Monitor(service, sink)
    monitor.stop.set()
    assert monitor.run_once() == []
    assert sink.reports == []


def test_a_cancelled_scan_ends_the_round(
    service: Service, folders: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def cancelled(folder: Folder, config: Config | None = None, **kwargs: object) -> FolderReport:
        calls.append(folder.path)
        raise ScanCancelled("stopped")

    monkeypatch.setattr(service, "check_folder", cancelled)
    sink = Collector()
    assert Monitor(service, sink).run_once() == []
    assert calls == [str(folders[0])]
    assert sink.reports == []


def test_run_polls_at_the_interval(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    sink = Collector()
    _start(Monitor(service, sink, interval=0.05), running)
    reports = sink.wait_for(6)  # three rounds of two folders
    assert {r.folder.path for r in reports} == {str(p) for p in folders}


def test_run_reports_a_change_as_new_once(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    sink = Collector()
    (folders[0] / "late.txt").write_text("late")
    _start(Monitor(service, sink, interval=0.05), running)
    reports = sink.wait_for(8)
    news = [(c.kind, c.path) for r in reports for c in r.new]
    assert news == [("added", "late.txt")]


def test_join_ends_run_promptly(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    sink = Collector()
    monitor = _start(Monitor(service, sink, interval=3600), running)
    sink.wait_for(2)  # the first round ran; now it sleeps for an hour
    started = time.monotonic()
    monitor.join(5)
    assert time.monotonic() - started < 1
    assert not monitor.alive


def test_setting_the_stop_event_ends_run_promptly(service: Service, folders: list[Path]) -> None:
    sink = Collector()
    stop = threading.Event()
    monitor = Monitor(service, sink, interval=3600, stop=stop)
    thread = threading.Thread(target=monitor.run)
    thread.start()
    try:
        sink.wait_for(2)
        started = time.monotonic()
        stop.set()
        thread.join(3)
        assert not thread.is_alive()
        assert time.monotonic() - started < 2
    finally:
        monitor.join(5)
        thread.join(5)


def test_run_with_a_short_interval_stops_promptly(service: Service, folders: list[Path]) -> None:
    sink = Collector()
    monitor = Monitor(service, sink, interval=0.05)
    thread = threading.Thread(target=monitor.run)
    thread.start()
    sink.wait_for(2)
    monitor.stop.set()
    thread.join(2)
    assert not thread.is_alive()


def test_unreadable_settings_do_not_end_the_loop(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    config_file = service.paths.config_file
    good = config_file.read_bytes()
    config_file.write_text("{ not json")
    sink = Collector()
    events: list[object] = []
    monitor = _start(Monitor(service, sink, interval=0.05, on_event=events.append), running)
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.reports == []
    assert monitor.alive
    config_file.write_bytes(good)
    sink.wait_for(2)


def test_check_now_does_not_wait_for_the_interval(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    sink = Collector()
    monitor = _start(Monitor(service, sink, interval=3600), running)
    sink.wait_for(2)
    (folders[0] / "now.txt").write_text("now")
    monitor.check_now(str(folders[0]))
    reports = sink.wait_for(3, timeout=5)
    assert [(c.kind, c.path) for c in reports[2].new] == [("added", "now.txt")]


def test_a_writer_hint_goes_only_with_what_was_written(service: Service, tmp_path: Path) -> None:
    from fim_tray.models import Writer

    docs = tmp_path / "hinted"
    docs.mkdir()
    (docs / "a.txt").write_text("a")
    (docs / "b.txt").write_text("b")
    service.watch(str(docs))
    (docs / "a.txt").write_text("written")
    (docs / "b.txt").chmod(0o600)
    sink = Collector()
    monitor = Monitor(service, sink)
    hints = {"a.txt": Writer("gedit", 1), "b.txt": Writer("chmod", 2)}
    (report,) = monitor.run_once(str(docs), paths=frozenset(hints), hints=hints)
    assert {c.path: c.kind for c in report.changes} == {"a.txt": "modified", "b.txt": "metadata"}
    assert dict(report.hints) == {"a.txt": Writer("gedit", 1)}


def test_file_events_of_its_own_state_never_start_a_check(tmp_path: Path) -> None:
    """The state moved into a watched folder at run time (through a link on the way): the file
    events of its own writes are dropped, so they cannot feed a check that writes again."""
    from fim_tray.store.paths import Paths

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a")
    outer = tmp_path / "outer"
    service = Service(Paths(outer / "state" / "data", outer / "state" / "config"))
    service.watch(str(docs))
    outer.rename(docs / "moved")
    outer.symlink_to(docs / "moved")
    monitor = Monitor(service, Collector())
    folder = str(docs.resolve())
    monitor._files_changed(folder, frozenset({"moved/state/data/events.jsonl"}))
    assert monitor._requests.empty()  # nothing but our own writes: no check at all
    own = {"moved/state/config/config.json", "moved/state/data/baselines/0123.json"}
    monitor._files_changed(folder, frozenset({*own, "moved/state/config/planted.sh", "a.txt"}))
    request = monitor._requests.get_nowait()  # what it did not write itself is checked
    assert request.paths == frozenset({"a.txt", "moved/state/config/planted.sh"})


def _slow_folder(service: Service, tmp_path: Path) -> Path:
    """A folder whose first baseline takes about 20 s: 20 MB read at 1 MB/s."""
    config = service.config()
    service.store.save_config(config._replace(max_mb_per_s=1.0))
    big = tmp_path / "big"
    big.mkdir()
    (big / "big.bin").write_bytes(b"\0" * 20_000_000)
    return big


@pytest.mark.parametrize("how", ["pause", "stop watching"])
def test_pause_or_stop_watching_interrupts_a_first_baseline_at_once(
    how: str, service: Service, tmp_path: Path, running: list[Monitor]
) -> None:
    from fim_tray.app.monitor import Held, MonitorEvent, Scanning

    big = _slow_folder(service, tmp_path)
    seen: list[MonitorEvent] = []
    arrived = threading.Event()

    def on_event(event: MonitorEvent) -> None:
        seen.append(event)
        arrived.set()

    monitor = _start(Monitor(service, Collector(), interval=3600, on_event=on_event), running)
    monitor.watch(str(big))
    deadline = time.monotonic() + 10
    while not any(isinstance(e, Scanning) and e.first for e in seen):
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    time.sleep(0.5)  # well into the 20 s of reading
    started = time.monotonic()
    if how == "pause":
        monitor.pause()
    else:
        monitor.interrupt(str(big.resolve()))
    while not any(isinstance(e, Held) for e in seen):
        assert time.monotonic() - started < 2.0, "the first baseline was not interrupted"
        time.sleep(0.02)
    (held,) = [e for e in seen if isinstance(e, Held)]
    assert held == Held(str(big.resolve()), how == "pause")
    assert service.config().find(str(big.resolve())) is None  # not watched (yet)
    if how == "pause":  # resumed: the first baseline starts over (and is cut short by quitting)
        seen.clear()
        monitor.resume()
        deadline = time.monotonic() + 10
        while not any(isinstance(e, Scanning) and e.first for e in seen):
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)


def test_a_folder_lost_during_a_long_scan_of_another_is_said_within_seconds(
    service: Service, tmp_path: Path, running: list[Monitor]
) -> None:
    from fim_tray.app.monitor import Gone, MonitorEvent

    big = _slow_folder(service, tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    (small / "s.txt").write_text("s")
    service.watch(str(small))
    service.store.save_config(service.config()._replace(max_mb_per_s=0.0))
    service.watch(str(big))  # recorded at full speed, then re-hashed at 1 MB/s below
    service.store.save_config(service.config()._replace(max_mb_per_s=1.0))
    seen: list[MonitorEvent] = []
    monitor = _start(Monitor(service, Collector(), interval=3600, on_event=seen.append), running)
    time.sleep(3)  # its first look at both, and the first poll under way
    monitor.check_now(str(big.resolve()), full=True)  # some 20 s of reading
    time.sleep(1)
    shutil.rmtree(small)
    started = time.monotonic()
    while not any(isinstance(e, Gone) for e in seen):
        assert time.monotonic() - started < 6, "the lost folder waited for the scan"
        time.sleep(0.1)
    assert [e for e in seen if isinstance(e, Gone)] == [Gone(str(small.resolve()))]


def test_a_pattern_removed_from_outside_has_its_folder_checked_at_once(
    service: Service, folders: list[Path], running: list[Monitor]
) -> None:
    from fim_tray.app.presence import LOOK_EVERY

    sink = Collector()
    _start(Monitor(service, sink, interval=3600), running)
    sink.wait_for(2)  # the first poll
    service.ignore(str(folders[0]), "*.txt")  # as the command line does, while it runs
    time.sleep(LOOK_EVERY + 0.5)  # seen with the pattern
    (folders[0] / "f.txt").write_text("changed while ignored")
    (folders[0] / "new.txt").write_text("new while ignored")
    service.unignore(str(folders[0]), "*.txt")
    reports = sink.wait_for(3, timeout=LOOK_EVERY + 3)
    assert reports[2].folder.path == str(folders[0])
    assert sorted((c.kind, c.path) for c in reports[2].new) == [
        ("added", "new.txt"),
        ("modified", "f.txt"),
    ]
