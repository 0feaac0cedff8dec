"""The tray's presenter, headless: icon state, status line, notification text, recent changes."""

from __future__ import annotations

from datetime import datetime, timezone

from fim_tray.app.monitor import Accepted, Failed, Gone, PausedChanged, Scanning, Watched
from fim_tray.models import Change, Entry, Folder, FolderReport, Writer
from fim_tray.tray.presenter import Pacer, TrayModel, notice_for
from fim_tray.ui.wire import items_from_changes

WHEN = datetime(2026, 1, 2, 10, 11, 12, tzinfo=timezone.utc)
FOLDER = Folder("/home/ann/Documents", "abc")


def _file(digest: str, *, size: int = 3, mtime: int = 1, mode: int = 0o644) -> Entry:
    return Entry("file", size, mtime, mtime, 7, mode, 1000, 1000, digest=digest)


def _report(*changes: Change, new: tuple[Change, ...] | None = None) -> FolderReport:
    return FolderReport(FOLDER, WHEN, changes=changes, new=changes if new is None else new)


def test_one_change_names_the_file_the_folder_and_the_time() -> None:
    change = Change("modified", "notes/todo.txt", _file("a"), _file("b", size=4, mtime=2))
    notice = notice_for(_report(change))
    assert notice is not None
    assert notice.title == "todo.txt modified in Documents"
    assert f"{WHEN.astimezone():%H:%M:%S}" in notice.body
    assert "modified: notes/todo.txt" in notice.body
    assert notice.changes == (change,)


def test_a_burst_is_one_notice_with_the_first_names_and_a_count() -> None:
    changes = tuple(Change("added", f"f{i:02d}.txt", None, _file(str(i))) for i in range(14))
    notice = notice_for(_report(*changes))
    assert notice is not None
    assert notice.title == "14 files changed in Documents"
    assert "added: f00.txt" in notice.body and "added: f03.txt" in notice.body
    assert "f04.txt" not in notice.body
    assert notice.body.endswith("and 10 more")


def test_nothing_new_means_no_notice() -> None:
    change = Change("added", "a", None, _file("x"))
    assert notice_for(_report(change, new=())) is None


def test_suspicious_and_metadata_changes_say_what() -> None:
    sneaky = Change("modified", "bin/tool", _file("a"), _file("b"), suspicious=True)
    chmod = Change("metadata", "tax.pdf", _file("a"), _file("a", mode=0o600), fields=("mode",))
    notice = notice_for(_report(sneaky, chmod))
    assert notice is not None
    assert notice.title.startswith("Suspicious change: ")
    assert "SUSPICIOUS" in notice.body
    assert "mode 0644 -> 0600" in notice.body


def test_names_are_escaped_in_notices() -> None:
    change = Change("added", "evil\nname\x1b[2J", None, _file("x"))
    notice = notice_for(_report(change))
    assert notice is not None
    assert "\x1b" not in notice.body and "evil\\nname" in notice.body


def test_state_follows_events_and_reports() -> None:
    model = TrayModel()
    assert model.state() == "ok" and model.status_line() == "No folders watched yet"
    model.apply_event(Scanning(FOLDER.path, 1500, first=True))
    assert model.state() == "scanning"
    assert model.status_line() == "Recording Documents: 1,500 files so far"
    model.apply_event(Watched(FOLDER.path, 2000, 0))
    assert model.state() == "ok"
    assert model.status_line() == "All clear: 1 folder watched"
    change = Change("added", "new.txt", None, _file("x"))
    model.apply_report(_report(change))
    assert model.state() == "pending" and model.pending == 1
    assert model.tooltip() == "fim-tray: 1 change to review"
    assert model.folder_line(FOLDER.path) == "Documents (1 pending)"
    assert [r.change for r in model.recent_items()] == [change]
    model.apply_report(_report())  # the check the monitor runs after an accept
    assert model.state() == "ok"
    model.apply_event(PausedChanged(True))
    assert model.state() == "paused" and model.status_line().startswith("Paused. ")
    model.apply_event(Failed("Watched folder missing", "gone", FOLDER.path))
    assert model.state() == "error" and model.folder_line(FOLDER.path) == "Documents (error)"


def test_a_regular_check_does_not_make_the_icon_flicker() -> None:
    model = TrayModel()
    model.apply_event(Watched(FOLDER.path, 10, 0))
    model.apply_event(Scanning(FOLDER.path, 5))  # a routine poll, not a first baseline
    assert model.state() == "ok"


def test_recent_changes_keep_the_last_ten_newest_first() -> None:
    model = TrayModel()
    for i in range(12):
        model.apply_report(_report(Change("added", f"f{i}", None, _file(str(i)))))
    paths = [r.change.path for r in model.recent_items()]
    assert paths == [f"f{i}" for i in range(11, 1, -1)]
    assert model.recent_items()[0].label.endswith("added  f11")


def test_a_writer_hint_is_said_as_a_question_and_reaches_the_details() -> None:
    change = Change("modified", "notes/todo.txt", _file("a"), _file("b", size=4, mtime=2))
    hints = {"notes/todo.txt": Writer("gedit", 4321)}
    notice = notice_for(_report(change)._replace(hints=hints))
    assert notice is not None
    assert "modified: notes/todo.txt, written by gedit (pid 4321)?" in notice.body
    assert notice.hints == hints
    (item,) = items_from_changes(FOLDER.path, [change], WHEN, notice.hints)
    assert item["after"]["process"] == "gedit (pid 4321)? (a hint)"
    (plain,) = items_from_changes(FOLDER.path, [change], WHEN)
    assert "process" not in plain["after"]


def test_a_change_that_could_not_be_recorded_is_still_announced_and_counted() -> None:
    change = Change("modified", "a.txt", _file("a"), _file("b"))
    for warning, error in (("the disk is full", None), (None, "a link is in its place")):
        model = TrayModel()
        model.apply_event(Watched(FOLDER.path, 2, 0))
        report = _report(change)._replace(warning=warning, error=error)
        notice = model.apply_report(report)
        assert notice is not None and notice.changes == (change,)  # the notification goes out
        assert model.pending == 1  # and the change is counted
        assert model.state() == "error"  # with the reason beside it
        assert str(warning or error) in (model.folders[FOLDER.path].error or "")
    model.apply_report(_report(change, new=()))  # recorded at last: the warning clears
    assert model.state() == "pending"


def test_a_file_rewritten_again_and_again_is_announced_once_while_pending() -> None:
    model = TrayModel()
    model.apply_event(Watched(FOLDER.path, 2, 0))
    notices = []
    for round_ in range(40):  # a log written every 100 ms: a new signature at every check
        change = Change("modified", "hot.log", _file("a"), _file(f"v{round_}", size=round_))
        notices.append(model.apply_report(_report(change)))
    assert sum(1 for n in notices if n is not None) == 1
    assert [r.change.path for r in model.recent_items()] == ["hot.log"]  # listed once, latest
    latest = model.recent_items()[0].change.after
    assert latest is not None and latest.size == 39
    # Another file in the same storm is still announced, alone.
    other = Change("added", "new.txt", None, _file("n"))
    hot = Change("modified", "hot.log", _file("a"), _file("v40", size=40))
    notice = model.apply_report(_report(hot, other))
    assert notice is not None and notice.changes == (other,)
    # Accepted: a later change is announced again.
    model.apply_event(Accepted(FOLDER.path, 2))
    model.apply_report(_report())
    again = model.apply_report(_report(Change("modified", "hot.log", _file("a"), _file("z"))))
    assert again is not None and again.title == "hot.log modified in Documents"


def test_a_targeted_check_keeps_what_was_announced_elsewhere() -> None:
    model = TrayModel()
    first = Change("modified", "a.txt", _file("a"), _file("b"))
    second = Change("modified", "b.txt", _file("a"), _file("b"))
    assert model.apply_report(_report(first, second)) is not None
    # A check of b.txt alone (file events): a.txt is still pending, not in this report.
    scoped = _report(second._replace(after=_file("c")))._replace(pending=2)
    assert model.apply_report(scoped) is None
    scoped_a = _report(first._replace(after=_file("d")))._replace(pending=2)
    assert model.apply_report(scoped_a) is None  # a.txt was not forgotten


def test_a_lost_folder_is_one_notification_and_a_short_status_that_heals() -> None:
    model = TrayModel()
    other = Folder("/home/ann/Photos", "def")
    model.apply_event(Watched(FOLDER.path, 2, 0))
    model.apply_event(Watched(other.path, 2, 0))
    pending = Change("added", "x.txt", None, _file("x"))
    model.apply_report(_report(pending))
    long = "The watched folder /home/ann/Photos cannot be opened (No such file). " * 5
    lost = FolderReport(other, WHEN, error=long, missing=True)
    notice = model.apply_report(lost)
    assert notice is not None and notice.title == "Photos is missing" and notice.changes == ()
    assert model.apply_report(lost) is None  # said once, not at every check
    assert model.status_line() == "Photos is missing; 1 change to review"  # pending not hidden
    assert len(model.status_line()) < 80
    assert " ".join(model.folder_problem(other.path)).startswith("The watched folder")
    assert model.folder_line(other.path) == "Photos (error)"
    model.apply_report(FolderReport(other, WHEN))  # back, and checked: the problem heals
    assert model.status_line() == "1 change to review"
    assert model.folder_problem(other.path) == []


def test_a_passing_problem_clears_on_the_next_good_check() -> None:
    model = TrayModel()
    model.apply_event(Watched(FOLDER.path, 2, 0))
    model.message = "The details window could not open. " * 10
    assert model.state() == "error" and len(model.status_line()) <= 80
    model.apply_report(_report())
    assert model.state() == "ok" and model.message is None
    model.apply_report(_report(*(Change("added", f"{i}", None, _file("x")) for i in range(5000))))
    assert model.status_line() == "5,000 changes to review"


def test_a_change_announced_by_a_check_beside_the_tray_is_still_notified() -> None:
    model = TrayModel()
    quiet = Change("modified", "old.txt", _file("a"), _file("b"))
    # The first look: what was pending before the tray started was announced then.
    assert model.apply_report(_report(quiet, new=())) is None
    assert [r.change.path for r in model.recent_items()] == ["old.txt"]  # listed after a restart
    # A `fim-tray check` beside the tray marked this one announced: the tray never showed it.
    other = Change("added", "new.txt", None, _file("n"))
    notice = model.apply_report(_report(quiet, other, new=()))
    assert notice is not None and notice.changes == (other,)


def test_long_names_and_touches_read_well_in_a_notification() -> None:
    long = "a" * 248 + ".txt"
    changes = [Change("added", f"sub/{long}", None, _file("x"))]
    changes += [Change("added", f"n{i}.txt", None, _file(str(i))) for i in range(7)]
    notice = notice_for(_report(*changes))
    assert notice is not None
    assert all(len(line) <= 80 for line in notice.body.splitlines()), notice.body
    assert notice.body.endswith("and 4 more")  # never pushed out by a long name
    one = notice_for(_report(changes[0]))
    assert one is not None and len(one.title) < 80
    touched = Change("metadata", "report3.txt", _file("a", mtime=1), _file("a", mtime=2),
                     fields=("mtime_ns",))  # fmt: skip
    notice = notice_for(_report(touched))
    assert notice is not None and "()" not in notice.body and "mtime" in notice.body


def test_a_file_that_comes_and_goes_is_announced_once() -> None:
    now = [1000.0]
    model = TrayModel(clock=lambda: now[0])
    lock = Change("added", "lock", None, _file("l"))
    notices = []
    for _ in range(20):  # a lock file made and removed every 100 ms
        notices.append(model.apply_report(_report(lock)))
        now[0] += 0.5
        notices.append(model.apply_report(_report()))
        now[0] += 0.5
    assert sum(1 for n in notices if n is not None) == 1
    now[0] += 61  # gone for a minute: its next coming is news again
    model.apply_report(_report())
    assert model.apply_report(_report(lock)) is not None


def test_a_storm_over_many_files_is_paced_per_folder() -> None:
    now = [0.0]
    pacer = Pacer(cooldown=20, clock=lambda: now[0])
    sent = []
    for second in range(60):  # a new file every second for a minute, a check each time
        now[0] = float(second)
        change = Change("added", f"g{second}.txt", None, _file(str(second)))
        notice = notice_for(_report(change))
        assert notice is not None
        if (out := pacer.pace(notice)) is not None:
            sent.append(out)
        sent.extend(pacer.due())
    now[0] = 100.0
    sent.extend(pacer.due())
    assert len(sent) <= 4  # not 60
    assert sent[0].title == "g0.txt added in Documents"
    assert sent[1].title == "20 files changed in Documents"  # gathered while it waited
    assert sum(len(n.changes) for n in sent) == 60  # nothing lost


def test_a_folder_found_missing_is_said_at_once() -> None:
    model = TrayModel()
    model.apply_event(Watched(FOLDER.path, 2, 0))
    notice = model.apply_event(Gone(FOLDER.path))
    assert notice is not None and notice.title == "Documents is missing"
    assert model.apply_event(Gone(FOLDER.path)) is None  # once
    lost = FolderReport(FOLDER, WHEN, error="cannot be opened", missing=True)
    assert model.apply_report(lost) is None  # the check that follows says no more
    assert model.status_line() == "Documents is missing"
