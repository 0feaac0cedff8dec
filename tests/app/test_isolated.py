"""Tests of fim_tray.app.isolated: whole-folder checks in a child process report what a check in
this process does, stop when asked, and a child that fails is a folder's error, never the
monitor's end."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from fim_tray.app import isolated
from fim_tray.app.monitor import Monitor, MonitorEvent
from fim_tray.app.service import WIDE, Service
from fim_tray.errors import ScanCancelled
from fim_tray.models import FolderReport
from fim_tray.scan.throttle import Throttle
from fim_tray.store import config as config_store
from fim_tray.store.paths import Paths
from tests.app.test_monitor import Collector
from tests.conftest import REPO
from tests.helpers import ctrl_c_reaches_it, make_tree


def _service(root: Path, *, isolate: bool) -> Service:
    return Service(Paths(root / "data", root / "config"), lock_timeout=5.0, isolate=isolate)


def _children() -> list[psutil.Process]:
    """This process's check children now."""
    found = []
    for child in psutil.Process().children():
        try:
            if isolated.MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def _wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def _set_cap(service: Service, mb_per_s: float) -> None:
    config_store.save(service.paths.config_file, service.config()._replace(max_mb_per_s=mb_per_s))


def _facts(report: FolderReport) -> tuple[object, ...]:
    """What a report says, without when it was made or how long it took."""
    return (
        report.folder, report.changes, report.new, report.pending, report.problems,
        report.files, report.error, report.warning, report.missing,
    )  # fmt: skip


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """A folder with a 1 MB file: read at 0.1 MB/s, its check takes 10 s."""
    return make_tree(tmp_path / "big", {"big.bin": os.urandom(1_000_000), "a.txt": "a\n"})


# -- the same report ----------------------------------------------------------------------------


def test_an_isolated_check_reports_what_one_in_this_process_does(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "w",
        {"keep.txt": "same\n", "edit.txt": "before\n", "gone.txt": "bye\n", "mode.sh": "x\n",
         "sub/deep.txt": "deep\n"},
    )  # fmt: skip
    here, there = _service(tmp_path / "a", isolate=False), _service(tmp_path / "b", isolate=True)
    for service in (here, there):  # two homes watching the same folder
        service.watch(str(root))
    (root / "edit.txt").write_text("after, longer\n")
    (root / "gone.txt").unlink()
    (root / "sub" / "new.txt").write_text("new\n")
    os.chmod(root / "mode.sh", 0o700)  # a program now
    if os.geteuid() != 0:  # a problem too, where permissions apply
        (root / "secret.txt").write_text("s\n")
        os.chmod(root / "secret.txt", 0)

    for full in (False, True, False):  # a first look, a full re-hash, then nothing new
        ours = here.check_folder(here.folders()[0], full=full)
        theirs = there.check_folder(there.folders()[0], full=full)
        assert theirs.error is None
        assert _facts(theirs) == _facts(ours)
    kinds = sorted((c.kind, c.path) for c in ours.changes)
    assert kinds == [
        ("added", "sub/new.txt"), ("metadata", "mode.sh"), ("modified", "edit.txt"),
        ("removed", "gone.txt"),
    ]  # fmt: skip
    assert ours.pending == 4 and ours.new == ()
    # The child recorded as this process does: the same pending changes, the same history.
    assert there.status()[0].pending == here.status()[0].pending == 4
    lines = [[(e.change, e.path, e.signature) for e in s.history()] for s in (here, there)]
    assert lines[0] == lines[1] and len(lines[0]) >= 4


def test_progress_and_the_monitors_events_are_those_of_a_check_in_this_process(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "w", {f"d{i // 500}/f{i}.txt": str(i) for i in range(2500)})
    here, there = _service(tmp_path / "a", isolate=False), _service(tmp_path / "b", isolate=True)
    seen: dict[bool, list[MonitorEvent]] = {}
    for service in (here, there):
        service.watch(str(root))
        events: list[MonitorEvent] = []
        Monitor(service, Collector(), on_event=events.append).run_once()
        seen[service.isolate] = events
    assert seen[True] == seen[False]
    assert [getattr(e, "files", None) for e in seen[True]] == [0, 1000, 2000, 2505]  # and 5 folders


# -- stop, and children that fail --------------------------------------------------------------


def test_stop_ends_the_child_and_raises_scan_cancelled_promptly(tmp_path: Path, big: Path) -> None:
    service = _service(tmp_path / "home", isolate=True)
    service.watch(str(big))
    stop = threading.Event()
    raised: list[BaseException] = []

    def check() -> None:
        try:
            service.check_folder(
                service.folders()[0], full=True, stop=stop, throttle=Throttle(100_000)
            )
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=check)
    thread.start()
    try:
        _wait_for(_children, 10, "check process")
        (child,) = _children()
        time.sleep(0.5)  # well into its reading, which takes 10 s
        stopped = time.monotonic()
        stop.set()
        thread.join(10)
        took = time.monotonic() - stopped
    finally:
        stop.set()
        thread.join()
    assert [type(e) for e in raised] == [ScanCancelled]
    assert took < 2.0  # asked to stop, it stopped (not killed after STOP_GRACE)
    assert not child.is_running()


def test_a_child_killed_mid_check_is_an_error_and_the_monitor_goes_on(
    tmp_path: Path, big: Path
) -> None:
    service = _service(tmp_path / "home", isolate=True)
    service.watch(str(big))
    _set_cap(service, 0.1)  # the monitor's checks read at most 0.1 MB/s
    (big / "big.bin").write_bytes(os.urandom(1_000_000))  # re-hashed at the next check: 10 s
    sink = Collector()
    monitor = Monitor(service, sink, interval=1.0)
    monitor.start()
    try:
        _wait_for(_children, 10, "check process")
        (child,) = _children()
        child.send_signal(signal.SIGKILL)
        (killed,) = sink.wait_for(1)
        assert killed.error is not None and "SIGKILL" in killed.error
        assert killed.changes == ()
        assert "SIGKILL" in (service.status()[0].error or "")  # said where status looks too
        _set_cap(service, 0)
        again = sink.wait_for(2)[1]
    finally:
        monitor.join(10)
    assert monitor.alive is False
    assert again.error is None
    assert [(c.kind, c.path) for c in again.new] == [("modified", "big.bin")]


@pytest.fixture
def small(tmp_path: Path) -> Service:
    service = _service(tmp_path / "home", isolate=True)
    service.watch(str(make_tree(tmp_path / "w", {"a.txt": "a\n"})))
    return service


def _child_runs(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """The check's child runs ``code`` instead."""

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    monkeypatch.setattr(isolated, "_start", start)


def test_a_child_that_prints_nonsense_is_an_error(
    small: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    _child_runs(monkeypatch, "import time; print('hello there, parent'); time.sleep(60)")
    started = time.monotonic()
    report = small.check_folder(small.folders()[0])
    assert time.monotonic() - started < 10  # killed, not waited for
    assert report.error is not None and "no message of fim-tray's" in report.error
    assert not _children()


def test_a_child_that_does_not_stop_when_asked_is_killed(
    small: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    _child_runs(monkeypatch, "import time; time.sleep(60)")  # never reads its stdin
    monkeypatch.setattr(isolated, "STOP_GRACE", 0.5)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    with pytest.raises(ScanCancelled):
        small.check_folder(small.folders()[0], stop=stop)
    assert time.monotonic() - started < 5
    assert not _children()


def test_a_child_that_fails_is_an_error_that_names_its_last_words(
    small: Service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _child_runs(monkeypatch, "import sys; sys.stderr.write('fim-tray: ERROR: it broke\\n'); "
                "sys.exit(3)")  # fmt: skip
    report = small.check_folder(small.folders()[0])
    assert report.error is not None
    assert "exit status 3" in report.error and "it broke" in report.error
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == isolated.__name__]
    assert ("ERROR", f"the check of {small.folders()[0].path}: it broke") in logged  # its stderr


def test_a_child_that_cannot_start_leaves_the_check_to_this_process(
    small: Service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def start() -> subprocess.Popen[bytes]:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(isolated, "_start", start)
    folder = small.folders()[0]
    (Path(folder.path) / "b.txt").write_text("b\n")
    report = small.check_folder(folder)
    assert report.error is None
    assert [(c.kind, c.path) for c in report.new] == [("added", "b.txt")]
    assert any("Too many open files" in r.getMessage() for r in caplog.records)


def test_a_check_of_the_paths_file_events_named_stays_in_this_process(
    small: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def start() -> subprocess.Popen[bytes]:
        raise AssertionError("a child for a targeted check")

    monkeypatch.setattr(isolated, "_start", start)
    folder = small.folders()[0]
    (Path(folder.path) / "a.txt").write_text("changed\n")
    report = small.check_folder(folder, paths={"a.txt"})
    assert [(c.kind, c.path) for c in report.new] == [("modified", "a.txt")]


@pytest.mark.parametrize("paths", [{""}, {"/"}, {f"new{i}" for i in range(WIDE + 1)}])
def test_file_events_that_name_the_folder_itself_or_a_burst_are_checked_in_a_child(
    small: Service, monkeypatch: pytest.MonkeyPatch, paths: set[str]
) -> None:
    children: list[object] = []
    real = isolated.check_folder

    def spy(*args: Any, **kwargs: Any) -> FolderReport:
        children.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(isolated, "check_folder", spy)
    folder = small.folders()[0]
    (Path(folder.path) / "a.txt").write_text("changed\n")
    report = small.check_folder(folder, paths=paths)
    assert len(children) == 1
    assert [(c.kind, c.path) for c in report.new] == [("modified", "a.txt")]


def test_a_frozen_build_runs_its_child_as_a_command_of_its_own(
    small: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = tmp_path / "fim-tray"  # stands for the frozen executable: the command line, as is
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m fim_tray "$@"\n')
    exe.chmod(0o700)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    folder = small.folders()[0]
    (Path(folder.path) / "a.txt").write_text("changed\n")
    seen: list[int] = []
    report = small.check_folder(folder, progress=seen.append)
    assert report.error is None
    assert [(c.kind, c.path) for c in report.new] == [("modified", "a.txt")]
    assert seen == [1]


def test_only_the_tray_and_the_monitor_isolate_their_checks(home: Path) -> None:
    from fim_tray.cli import main as cli

    assert sorted(cli.ISOLATE_COMMANDS) == ["monitor", "tray"]
    assert Service().isolate is False  # the command line's other commands, and the tests


# -- the real monitor ---------------------------------------------------------------------------


@pytest.fixture
def monitor_proc(home: Path, big: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`fim-tray monitor` watching ``big``, whose first check takes 10 s."""
    service = Service(Paths.default())
    service.watch(str(big))
    _set_cap(service, 0.1)
    (big / "big.bin").write_bytes(os.urandom(1_000_000))
    env = {**os.environ, "FIM_TRAY_HOME": str(home), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "--debug", "monitor"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=ctrl_c_reaches_it,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_fim_tray_monitor_checks_in_a_child_process_that_ctrl_c_ends(
    monitor_proc: subprocess.Popen[bytes],
) -> None:
    def checking() -> list[psutil.Process]:
        found = []
        for child in psutil.Process(monitor_proc.pid).children():
            try:
                if isolated.MODULE in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    _wait_for(checking, 15, "check process of the monitor's")
    (child,) = checking()
    monitor_proc.send_signal(signal.SIGINT)  # Ctrl-C: the monitor ends, and its check with it
    _out, err = monitor_proc.communicate(timeout=15)
    assert monitor_proc.returncode == 0, err.decode()
    # The check ends too: it stops at its next look at the closed pipe (not a moment after
    # the monitor on a busy machine, but soon: it is never left running).
    with contextlib.suppress(psutil.NoSuchProcess):
        child.wait(timeout=10)
    assert not child.is_running()
    assert f"in process {child.pid}" in err.decode()
    assert b"Traceback" not in err
