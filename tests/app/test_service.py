"""Tests of fim_tray.app.service: watch, unwatch, check, accept, status, history, folder names."""

from __future__ import annotations

import json
import os
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.errors import (
    BaselineTamperedError,
    FolderMissingError,
    NotWatchedError,
    ScanCancelled,
    StorageError,
)
from fim_tray.models import Change, FolderReport
from fim_tray.store import baseline as baseline_store
from fim_tray.store import config as config_store
from fim_tray.store.paths import Paths


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "b.txt").write_text("bravo\n")
    (root / "sub" / "c.txt").write_text("charlie\n")
    return root


@pytest.fixture
def watched(service: Service, docs: Path) -> Path:
    service.watch(str(docs))
    return docs


def _kinds(report: FolderReport) -> list[tuple[str, str]]:
    return [(c.kind, c.path) for c in report.changes]


def _new(report: FolderReport) -> list[tuple[str, str]]:
    return [(c.kind, c.path) for c in report.new]


def _one(reports: list[FolderReport]) -> FolderReport:
    assert len(reports) == 1
    return reports[0]


def _mess_up(docs: Path) -> None:
    (docs / "a.txt").write_text("alpha, altered\n")
    (docs / "b.txt").unlink()
    (docs / "new.txt").write_text("new\n")
    (docs / "sub" / "c.txt").chmod(0o600)


EXPECTED = [
    ("modified", "a.txt"),
    ("removed", "b.txt"),
    ("added", "new.txt"),
    ("metadata", "sub/c.txt"),
]


# -- watch ----------------------------------------------------------------------------------------


def test_watch_records_a_baseline(service: Service, docs: Path) -> None:
    folder, result = service.watch(str(docs))
    assert folder.path == str(docs)
    assert folder.algorithm == "sha256"
    assert result is not None
    assert set(result.entries) == {"a.txt", "b.txt", "sub", "sub/c.txt"}
    assert service.paths.baseline_file(folder.id).exists()
    assert service.folders() == (folder,)
    trusted = service.store.load_baseline(folder)
    assert trusted.entries == result.entries
    assert trusted.root_dev == os.stat(docs).st_dev
    report = _one(service.check())
    assert report.error is None
    assert report.changes == ()
    assert report.files == 4


def test_watch_twice_returns_the_existing_folder(service: Service, docs: Path) -> None:
    first, _ = service.watch(str(docs))
    again, result = service.watch(str(docs) + "/")
    assert again == first
    assert result is None
    link = docs.parent / "link"
    link.symlink_to(docs)
    via_link, result = service.watch(str(link))
    assert via_link == first and result is None
    assert len(service.folders()) == 1


def test_watch_through_a_symlink_records_the_real_path(service: Service, docs: Path) -> None:
    link = docs.parent / "link"
    link.symlink_to(docs)
    folder, _ = service.watch(str(link))
    assert folder.path == str(docs.resolve())


def test_watch_with_algorithm_and_excludes(service: Service, docs: Path) -> None:
    (docs / "skip.log").write_text("noise")
    folder, result = service.watch(str(docs), algorithm="blake2b", excludes=["*.log"])
    assert folder.algorithm == "blake2b" and folder.excludes == ("*.log",)
    assert result is not None and "skip.log" not in result.entries
    assert len(result.entries["a.txt"].digest or "") == 128
    (docs / "more.log").write_text("more noise")
    (docs / "skip.log").write_text("changed noise")
    assert _one(service.check()).changes == ()


@pytest.mark.parametrize("what", ["missing", "file"])
def test_watch_what_is_not_a_folder(service: Service, tmp_path: Path, what: str) -> None:
    path = tmp_path / what
    if what == "file":
        path.write_text("x")
    with pytest.raises(FolderMissingError, match="not a folder"):
        service.watch(str(path))
    assert service.folders() == ()


def test_watch_can_be_stopped(service: Service, docs: Path) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ScanCancelled):
        service.watch(str(docs), stop=stop)
    assert service.folders() == ()
    baselines = service.paths.baselines_dir
    assert not baselines.exists() or not any(baselines.iterdir())


# -- folder() -------------------------------------------------------------------------------------


def test_folder_by_real_symlinked_relative_and_slashed_path(
    service: Service, watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = service.folders()[0]
    link = watched.parent / "link"
    link.symlink_to(watched)
    monkeypatch.chdir(watched.parent)
    for name in (str(watched), str(link), "docs", "./docs/", "link", str(watched / "sub" / "..")):
        assert service.folder(name) == expected, name


def test_folder_with_tilde(
    service: Service, watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(watched.parent))
    assert service.folder("~/docs") == service.folders()[0]


def test_unwatched_path_says_which_folders_are_watched(service: Service, watched: Path) -> None:
    with pytest.raises(NotWatchedError) as caught:
        service.folder(str(watched / "sub"))
    message = caught.value.message
    assert str(watched / "sub") in message
    assert "not a watched folder" in message
    assert str(watched) in message


def test_nothing_watched_says_so(service: Service, tmp_path: Path) -> None:
    with pytest.raises(NotWatchedError, match="none yet"):
        service.folder(str(tmp_path))


# -- check ----------------------------------------------------------------------------------------


def test_check_reports_every_kind(service: Service, watched: Path) -> None:
    _mess_up(watched)
    report = _one(service.check())
    assert report.error is None
    assert _kinds(report) == EXPECTED
    assert _new(report) == EXPECTED
    assert report.files == 4


def test_a_change_is_new_exactly_once(service: Service, watched: Path) -> None:
    _mess_up(watched)
    first = _one(service.check())
    second = _one(service.check())
    third = _one(service.check(str(watched)))
    assert _new(first) == EXPECTED
    assert _kinds(second) == EXPECTED and second.new == ()
    assert _kinds(third) == EXPECTED and third.new == ()


def test_history_gets_each_new_change_once(service: Service, watched: Path) -> None:
    _mess_up(watched)
    service.check()
    service.check()
    assert [(e.change, e.path) for e in service.history()] == EXPECTED
    (watched / "late.txt").write_text("late")
    report = _one(service.check())
    assert _new(report) == [("added", "late.txt")]
    assert len(report.changes) == 5
    events = service.history()
    assert len(events) == 5
    assert (events[-1].change, events[-1].path, events[-1].folder) == (
        "added",
        "late.txt",
        str(watched),
    )
    assert [(e.change, e.path) for e in service.history(limit=2)] == [
        ("metadata", "sub/c.txt"),
        ("added", "late.txt"),
    ]


def test_a_further_change_to_a_pending_file_is_new_again(service: Service, watched: Path) -> None:
    (watched / "a.txt").write_text("one more line\n")
    assert _new(_one(service.check())) == [("modified", "a.txt")]
    (watched / "a.txt").write_text("and another, longer\n")
    assert _new(_one(service.check())) == [("modified", "a.txt")]
    assert len(service.history()) == 2


def test_a_reverted_change_disappears(service: Service, watched: Path) -> None:
    (watched / "extra.txt").write_text("x")
    assert _kinds(_one(service.check())) == [("added", "extra.txt")]
    (watched / "extra.txt").unlink()
    report = _one(service.check())
    assert report.changes == () and report.new == ()
    assert service.status()[0].pending == 0


def test_report_time_comes_from_the_clock(home: Path, docs: Path) -> None:
    when = datetime(2026, 1, 2, 10, 11, 12, tzinfo=timezone(timedelta(hours=1)))
    service = Service(Paths.default(), clock=lambda: when, lock_timeout=5)
    service.watch(str(docs))
    (docs / "a.txt").write_text("changed")
    report = _one(service.check())
    assert report.time == when
    assert service.history()[0].time == when


def test_check_one_folder_by_path(service: Service, watched: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    service.watch(str(other))
    (other / "x").write_text("x")
    (watched / "y").write_text("y")
    report = _one(service.check(str(other)))
    assert report.folder.path == str(other)
    assert _kinds(report) == [("added", "x")]
    assert len(service.check()) == 2


def test_check_of_an_unwatched_path_raises(service: Service, watched: Path, tmp_path: Path) -> None:
    with pytest.raises(NotWatchedError):
        service.check(str(tmp_path))


def test_check_with_nothing_watched(service: Service) -> None:
    assert service.check() == []


def test_check_full_rehashes(service: Service, watched: Path) -> None:
    folder = service.folders()[0]
    trusted = service.store.load_baseline(folder)
    path = watched / "a.txt"
    st = os.stat(path)
    forged = dict(trusted.entries)
    # Every stat field as on disk but another digest: only a full check can see it.
    forged["a.txt"] = forged["a.txt"]._replace(digest="0" * 64, ctime_ns=st.st_ctime_ns)
    trusted = trusted._replace(entries=forged)
    signed = baseline_store.save(
        service.paths.baseline_file(folder.id), trusted, service.store.key()
    )
    service.store.pending(folder).save({}, service.clock(), baseline=signed)  # as fim-tray saves it
    assert _one(service.check()).changes == ()
    full = _one(service.check(full=True))
    assert _kinds(full) == [("modified", "a.txt")]
    assert full.changes[0].suspicious


def test_check_progress_names_the_folder(service: Service, watched: Path) -> None:
    seen: list[tuple[str, int]] = []
    service.check(progress=lambda folder, n: seen.append((folder.path, n)))
    assert seen == [(str(watched), 4)]


def test_check_can_be_stopped(service: Service, watched: Path) -> None:
    _mess_up(watched)
    stop = threading.Event()
    stop.set()
    with pytest.raises(ScanCancelled):
        service.check(stop=stop)
    assert service.history() == []
    assert _new(_one(service.check())) == EXPECTED


def test_missing_folder_is_one_error_not_removals(service: Service, watched: Path) -> None:
    shutil.rmtree(watched)
    report = _one(service.check())
    assert report.error is not None
    assert str(watched) in report.error
    assert report.changes == ()
    assert service.history() == []
    status = service.status()[0]
    assert status.error == report.error
    watched.mkdir()
    report = _one(service.check())
    assert report.error is None
    assert [c.kind for c in report.changes] == ["removed"] * 4
    assert service.status()[0].error is None


def test_folder_replaced_by_a_file_is_an_error(service: Service, watched: Path) -> None:
    shutil.rmtree(watched)
    watched.write_text("not a folder")
    report = _one(service.check())
    assert report.error is not None and "no longer a folder" in report.error


def test_tampered_baseline_is_reported_and_left_alone(service: Service, watched: Path) -> None:
    folder = service.folders()[0]
    path = service.paths.baseline_file(folder.id)
    doc = path.read_bytes().replace(b'"mode":420', b'"mode":511', 1)
    assert doc != path.read_bytes()
    path.write_bytes(doc)
    report = _one(service.check())
    assert report.error is not None and "signature does not match" in report.error
    with pytest.raises(BaselineTamperedError):
        service.accept()
    assert path.read_bytes() == doc
    assert service.status()[0].files is None


def test_history_failure_reports_the_changes_again(
    service: Service, watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (watched / "x").write_text("x")
    real_append = service.store.history.append

    def full_disk(folder: str, changes: object, when: datetime) -> list[object]:
        raise StorageError("Could not add to the history: the disk is full.")

    monkeypatch.setattr(service.store.history, "append", full_disk)
    report = _one(service.check())
    assert report.error is not None and "disk is full" in report.error
    monkeypatch.setattr(service.store.history, "append", real_append)
    assert _new(_one(service.check())) == [("added", "x")]
    assert len(service.history()) == 1


# -- accept ---------------------------------------------------------------------------------------


def test_accept_all(service: Service, watched: Path) -> None:
    _mess_up(watched)
    service.check()
    report = _one(service.accept())
    assert _kinds(report) == EXPECTED
    again = _one(service.check())
    assert again.changes == () and again.new == ()
    assert service.status()[0].pending == 0
    history = service.history()  # the four changes, then the four accepts, all reported
    assert [e.change for e in history] == [*(c.kind for c in report.changes), *["accepted"] * 4]
    assert [e.extra.get("reported") for e in history[4:]] == [True] * 4
    folder = service.folders()[0]
    backup = service.paths.baseline_file(folder.id).with_suffix(".json.bak")
    assert backup.exists()


def test_accept_without_changes(service: Service, watched: Path) -> None:
    report = _one(service.accept())
    assert report.changes == ()
    assert report.files == 4


def test_accept_selected_relative_files(
    service: Service, watched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside the folder: names are relative to the watched folder
    _mess_up(watched)
    service.check()
    report = _one(service.accept(str(watched), ["a.txt", "sub/c.txt"]))
    assert _kinds(report) == [("modified", "a.txt"), ("metadata", "sub/c.txt")]
    remaining = _one(service.check())
    assert _kinds(remaining) == [("removed", "b.txt"), ("added", "new.txt")]
    assert remaining.new == ()
    assert service.status()[0].pending == 2


def test_accept_selected_absolute_file(service: Service, watched: Path) -> None:
    _mess_up(watched)
    report = _one(service.accept(str(watched), [str(watched / "new.txt")]))
    assert _kinds(report) == [("added", "new.txt")]
    assert ("added", "new.txt") not in _kinds(_one(service.check()))


def test_accept_a_folder_takes_everything_under_it(service: Service, watched: Path) -> None:
    _mess_up(watched)
    (watched / "sub" / "d.txt").write_text("delta")
    (watched / "subway.txt").write_text("not under sub/")
    report = _one(service.accept(str(watched), ["sub"]))
    assert _kinds(report) == [("metadata", "sub/c.txt"), ("added", "sub/d.txt")]


def test_accept_relative_to_the_current_folder_inside(
    service: Service, watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (watched / "sub" / "c.txt").write_text("changed")
    (watched / "c.txt").write_text("a namesake at the top")
    monkeypatch.chdir(watched / "sub")
    report = _one(service.accept(str(watched), ["c.txt"]))
    assert _kinds(report) == [("modified", "sub/c.txt")]


def test_accept_dot_takes_everything(
    service: Service, watched: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(watched)
    _mess_up(watched)
    assert _kinds(_one(service.accept(str(watched), ["."]))) == EXPECTED


def test_accept_an_absolute_path_outside_the_folder(
    service: Service, watched: Path, tmp_path: Path
) -> None:
    (watched / "a.txt").write_text("changed")
    with pytest.raises(NotWatchedError, match="not inside the watched folder"):
        service.accept(str(watched), [str(tmp_path / "elsewhere.txt")])
    assert _kinds(_one(service.check())) == [("modified", "a.txt")]


def test_accept_an_absolute_path_through_a_symlinked_folder(
    service: Service, watched: Path
) -> None:
    link = watched.parent / "link"
    link.symlink_to(watched)
    (watched / "a.txt").write_text("changed")
    (watched / "b.txt").write_text("changed too")
    report = _one(service.accept(str(link), [str(link / "a.txt")]))
    assert _kinds(report) == [("modified", "a.txt")]


def test_accept_an_absolute_file_without_naming_its_folder(
    service: Service, watched: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("o")
    service.watch(str(other))
    (watched / "a.txt").write_text("changed")
    (other / "o.txt").write_text("changed")
    reports = service.accept(None, [str(watched / "a.txt")])
    accepted = [(r.folder.path, c.path) for r in reports for c in r.changes]
    assert accepted == [(str(watched), "a.txt")]
    assert _kinds(_one(service.check(str(other)))) == [("modified", "o.txt")]


def test_accept_a_file_that_does_not_exist_in_any_folder(
    service: Service, watched: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotWatchedError):
        service.accept(None, [str(tmp_path / "nowhere" / "x")])


# -- status and unwatch ---------------------------------------------------------------------------


def test_status_counts(service: Service, watched: Path) -> None:
    (status,) = service.status()
    assert status.folder == service.folders()[0]
    assert status.files == 4
    assert status.pending == 0
    assert status.error is None
    assert status.checked is not None
    _mess_up(watched)
    before = datetime.now().astimezone()
    service.check()
    (status,) = service.status()
    assert status.pending == 4
    assert status.files == 4  # the baseline's count, not the folder's
    assert status.checked is not None and status.checked >= before - timedelta(seconds=1)
    service.accept(str(watched), ["a.txt"])
    assert service.status()[0].pending == 3


def test_status_of_a_missing_baseline(service: Service, watched: Path) -> None:
    folder = service.folders()[0]
    service.paths.baseline_file(folder.id).unlink()
    (status,) = service.status()
    assert status.files is None
    assert status.error is not None and "missing" in status.error


def test_unwatch_deletes_its_state(service: Service, watched: Path) -> None:
    (watched / "a.txt").write_text("changed")
    service.check()
    service.accept()
    folder = service.folders()[0]
    files = [
        service.paths.baseline_file(folder.id),
        service.paths.baseline_file(folder.id).with_suffix(".json.bak"),
        service.paths.pending_file(folder.id),
    ]
    assert all(f.exists() for f in files)
    assert service.unwatch(str(watched)) == folder
    assert service.folders() == ()
    assert not any(f.exists() for f in files)
    assert service.check() == []
    assert watched.exists()  # the folder itself is never touched
    with pytest.raises(NotWatchedError):
        service.unwatch(str(watched))


def test_unwatch_keeps_the_other_folders(service: Service, watched: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    service.watch(str(other))
    service.unwatch(str(watched))
    assert [f.path for f in service.folders()] == [str(other)]
    assert _one(service.check()).error is None


def test_settings_keep_unknown_keys_through_watch(service: Service, docs: Path) -> None:
    path = service.paths.config_file
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"interval": 5, "start_at_login": True}))
    service.watch(str(docs))
    saved = config_store.load(path)
    assert saved.extra == {"start_at_login": True}
    assert saved.interval == 5


def test_two_services_share_the_state(home: Path, watched: Path) -> None:
    other = Service(Paths.default(), lock_timeout=5)
    (watched / "a.txt").write_text("changed")
    assert _new(_one(other.check())) == [("modified", "a.txt")]
    assert _one(other.check()).new == ()


def test_concurrent_checks_announce_a_change_once(home: Path, watched: Path) -> None:
    services = [Service(Paths.default(), lock_timeout=10) for _ in range(4)]
    (watched / "a.txt").write_text("changed")
    news: list[Change] = []
    lock = threading.Lock()

    def check(service: Service) -> None:
        for report in service.check():
            with lock:
                news.extend(report.new)

    threads = [threading.Thread(target=check, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [(c.kind, c.path) for c in news] == [("modified", "a.txt")]
    assert len(services[0].history()) == 1


def test_accept_the_folder_itself_by_its_symlink(service: Service, watched: Path) -> None:
    link = watched.parent / "link"
    link.symlink_to(watched)
    _mess_up(watched)
    assert _kinds(_one(service.accept(str(link), [str(link)]))) == EXPECTED


def test_accept_an_absolute_file_with_nothing_watched(service: Service, tmp_path: Path) -> None:
    with pytest.raises(NotWatchedError, match="any watched folder"):
        service.accept(None, [str(tmp_path / "x")])


def test_a_folder_that_holds_fim_trays_own_state_is_refused(tmp_path: Path) -> None:
    from fim_tray.app.service import Service
    from fim_tray.errors import FimError
    from fim_tray.store.paths import Paths

    parent = tmp_path / "everything"
    service = Service(Paths(parent / "state" / "data", parent / "state" / "config"))
    parent.mkdir()
    with pytest.raises(FimError, match="holds fim-tray's own state"):
        service.watch(str(parent))
    assert service.folders() == ()
