"""Targeted rescans: only the paths file events named are scanned, and pending changes
elsewhere in the folder stay pending; plus the event watcher end to end with the monitor."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.models import ITSELF, FolderReport
from tests.helpers import targeted_tree


def test_a_targeted_check_keeps_what_is_pending_elsewhere(service: Service, tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    folder, _ = service.watch(str(root))
    (root / "a.txt").write_text("changed a")
    (root / "other/d.txt").write_text("changed d")
    first = service.check_folder(folder)
    assert [c.path for c in first.new] == ["a.txt", "other/d.txt"] and first.pending == 2

    (root / "docs/b.txt").write_text("changed b")
    targeted = service.check_folder(folder, paths={"docs/b.txt"})
    assert [c.path for c in targeted.changes] == ["docs/b.txt"]
    assert [c.path for c in targeted.new] == ["docs/b.txt"]
    assert targeted.pending == 3 and targeted.files == 1

    again = service.check_folder(folder)  # a full check agrees, and announces nothing again
    assert [c.path for c in again.changes] == ["a.txt", "docs/b.txt", "other/d.txt"]
    assert again.new == ()


def test_a_change_undone_leaves_the_pending_list(service: Service, tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    folder, _ = service.watch(str(root))
    (root / "a.txt").chmod(0o600)
    assert service.check_folder(folder, paths={"a.txt"}).pending == 1
    (root / "a.txt").chmod(0o644)
    assert service.check_folder(folder, paths={"a.txt"}).pending == 0


def test_pending_written_without_paths_falls_back_to_a_whole_check(
    service: Service, tmp_path: Path
) -> None:
    root = targeted_tree(tmp_path / "w")
    folder, _ = service.watch(str(root))
    (root / "a.txt").write_text("changed a")
    (root / "other/d.txt").write_text("changed d")
    service.check_folder(folder)
    pending = service.store.pending(folder)
    obj = pending.read()
    del obj["paths"]  # an older format
    pending.write(obj)
    report = service.check_folder(folder, paths={"a.txt"})
    assert [c.path for c in report.changes] == ["a.txt", "other/d.txt"]


def test_a_write_reaches_the_monitor_through_file_events(service: Service, tmp_path: Path) -> None:
    root = targeted_tree(tmp_path / "w")
    service.watch(str(root))
    reports: list[FolderReport] = []
    arrived = threading.Event()

    def sink(report: FolderReport) -> None:
        reports.append(report)
        if report.new:
            arrived.set()

    monitor = Monitor(service, sink, interval=3600, events=True)
    monitor.start()
    try:
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:  # the first poll: nothing new
            time.sleep(0.05)
        time.sleep(0.3)
        (root / "docs/deep/c.txt").write_text("edited")
        assert arrived.wait(10), "the write was not reported"
    finally:
        monitor.join(10)
    report = next(r for r in reports if r.new)
    assert [c.path for c in report.new] == ["docs/deep/c.txt"]
    assert report.files < 7  # a targeted scan, not the whole folder


def test_a_folder_named_for_its_own_entry_is_read_alone(service: Service, tmp_path: Path) -> None:
    """A folder whose listing or attributes changed (models.ITSELF): its own entry is read
    again, and what is under it only where events named it."""
    root = targeted_tree(tmp_path / "w")
    folder, _ = service.watch(str(root))
    (root / "docs").chmod(0o700)
    (root / "docs/b.txt").write_text("changed b")  # no event named it
    (root / "docs/new.txt").write_text("new")
    report = service.check_folder(folder, paths={"docs" + ITSELF, "docs/new.txt"})
    assert [(c.kind, c.path) for c in report.changes] == [
        ("metadata", "docs"),
        ("added", "docs/new.txt"),
    ]
    assert report.files == 2  # the folder and the new file: nothing else under it was read
    whole = service.check_folder(folder)
    assert [c.path for c in whole.changes] == ["docs", "docs/b.txt", "docs/new.txt"]


def test_a_folder_named_for_itself_and_as_a_whole_is_read_whole(
    service: Service, tmp_path: Path
) -> None:
    root = targeted_tree(tmp_path / "w")
    folder, _ = service.watch(str(root))
    (root / "docs/b.txt").write_text("changed b")
    report = service.check_folder(folder, paths={"docs" + ITSELF, "docs"})
    assert [c.path for c in report.changes] == ["docs/b.txt"]
