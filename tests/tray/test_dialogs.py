"""Unit tests of the tray's dialog processes (fim_tray.tray.dialogs) and of load_pystray.

The folder chooser runs for real as ``python -m fim_tray _pick-folder`` with a scripted chooser
(``FIM_TRAY_CHOOSER``); no display is needed.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.platform.launch import safe_cwd
from fim_tray.tray.app import TrayUnavailable, load_pystray
from fim_tray.tray.dialogs import Dialogs, _apply

REPO = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name == "nt", reason="the scripted choosers are sh scripts")


# -- _apply: the details window's answers ------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, frozenset[tuple[str, str]]]] = []

    def __call__(self, folder: str, keys: frozenset[tuple[str, str]], done: object) -> None:
        self.calls.append((folder, keys))


def _line(action: str, items: list[dict[str, str]]) -> str:
    return json.dumps({"action": action, "items": items}) + "\n"


def test_apply_groups_by_folder() -> None:
    calls = Calls()
    _apply(
        _line(
            "accept",
            [
                {"folder": "/a", "path": "x", "signature": "s1"},
                {"folder": "/b", "path": "y", "signature": "s2"},
                {"folder": "/a", "path_b64": "Y2Fm6Q==", "signature": "s3"},
                {"folder": "/a", "path": "x", "signature": "s1"},
            ],
        ),
        calls,
    )
    assert sorted(calls.calls) == [
        ("/a", frozenset({("x", "s1"), ("caf\udce9", "s3")})),
        ("/b", frozenset({("y", "s2")})),
    ]
    assert all(isinstance(keys, frozenset) for _, keys in calls.calls)


def test_apply_ignores_other_actions_and_empty_answers() -> None:
    calls = Calls()
    _apply(_line("close", [{"folder": "/a", "signature": "s1"}]), calls)
    _apply(_line("open", [{"folder": "/a", "signature": "s1"}]), calls)
    _apply(_line("accept", []), calls)
    _apply(json.dumps({"items": [{"folder": "/a", "signature": "s1"}]}), calls)
    assert calls.calls == []


@pytest.mark.parametrize(
    "line",
    [
        "not json\n",
        "",
        "[1, 2]\n",
        '"accept"\n',
        '{"action": "accept"}\n',
        '{"action": "accept", "items": 5}\n',
        '{"action": "accept", "items": [{"folder": "/a"}]}\n',
        '{"action": "accept", "items": [{"signature": "s"}]}\n',
        '{"action": "accept", "items": ["x"]}\n',
        '{"action": "accept", "items": [{"folder": "/a", "path": "x", "signature": "s"}, 7]}\n',
        '{"action": "accept", "items": [{"folder": "/a", "signature": "s"}]}\n',  # no path
    ],
)
def test_apply_logs_a_malformed_line(line: str, caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()
    with caplog.at_level(logging.WARNING, logger="fim_tray.tray.dialogs"):
        _apply(line, calls)  # never raises
    assert calls.calls == []  # nothing half-applied either
    assert any("answered" in r.getMessage() for r in caplog.records), caplog.text


# -- the folder chooser, run for real ------------------------------------------------------------


def _dialog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fim-tray-dialog"]


def _join_dialogs(timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for thread in _dialog_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not _dialog_threads(), "a dialog thread is still running"


def _wait(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _chooser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    script = tmp_path / "chooser.sh"
    script.write_text("#!/bin/sh\n" + body)
    monkeypatch.setenv("FIM_TRAY_CHOOSER", f"/bin/sh {shlex.quote(str(script))}")
    monkeypatch.setenv("PYTHONPATH", str(REPO))


@pytest.fixture
def problems() -> list[str]:
    return []


@pytest.fixture
def boxes(problems: list[str]) -> Iterator[Dialogs]:
    box = Dialogs(on_problem=problems.append)
    try:
        yield box
    finally:
        box.close()
        _join_dialogs()


@posix_only
def test_pick_folder_hands_on_the_absolute_path(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boxes: Dialogs,
    problems: list[str],
) -> None:  # fmt: skip
    picked_dir = tmp_path / "a folder with spaces"
    picked_dir.mkdir()
    _chooser(tmp_path, monkeypatch, f"echo {shlex.quote(str(picked_dir))}\n")
    picked: list[str] = []
    boxes.pick_folder(picked.append)
    assert _wait(lambda: bool(picked)), problems
    _join_dialogs()
    assert picked == [str(picked_dir)]
    assert os.path.isabs(picked[0])
    assert problems == []


@posix_only
def test_pick_folder_makes_a_relative_answer_absolute(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boxes: Dialogs,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    _chooser(tmp_path, monkeypatch, "echo relative/here\n")
    picked: list[str] = []
    boxes.pick_folder(picked.append)
    assert _wait(lambda: bool(picked))
    _join_dialogs()
    # Relative to the chooser's working folder: the home folder, whatever the tray's is.
    assert picked == [str(Path(safe_cwd()) / "relative" / "here")]


@posix_only
@pytest.mark.parametrize("body", ["exit 0\n", "exit 1\n", "echo\n"])
def test_a_cancelled_chooser_calls_nothing(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boxes: Dialogs,
    problems: list[str], body: str,
) -> None:  # fmt: skip
    _chooser(tmp_path, monkeypatch, body)
    picked: list[str] = []
    boxes.pick_folder(picked.append)
    _join_dialogs()
    assert picked == []
    assert problems == []


@posix_only
def test_a_chooser_that_cannot_start_is_a_problem(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boxes: Dialogs,
    problems: list[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("FIM_TRAY_CHOOSER", str(tmp_path / "no-such-chooser"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    picked: list[str] = []
    boxes.pick_folder(picked.append)
    assert _wait(lambda: bool(problems))
    _join_dialogs()
    assert picked == []
    assert "no-such-chooser" in problems[0]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


@posix_only
def test_close_ends_the_dialog_and_what_it_started(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problems: list[str],
) -> None:  # fmt: skip
    pids = tmp_path / "pids"
    _chooser(
        tmp_path,
        monkeypatch,
        f'sleep 60 &\necho "$$ $!" > {shlex.quote(str(pids))}.tmp\n'
        f"mv {shlex.quote(str(pids))}.tmp {shlex.quote(str(pids))}\nwait\necho /tmp\n",
    )
    box = Dialogs(on_problem=problems.append)
    picked: list[str] = []
    started: list[int] = []
    try:
        box.pick_folder(picked.append)
        assert _wait(pids.exists), "the chooser did not start"
        started = [int(p) for p in pids.read_text().split()]
        with box._lock:
            started += [child.pid for child in box._children]
        assert len(started) == 3  # the chooser, its sleep, the _pick-folder process
        assert all(_alive(pid) for pid in started)
        box.close()
        assert _wait(lambda: not any(_alive(pid) for pid in started), 10), [
            pid for pid in started if _alive(pid)
        ]
        _join_dialogs()
        assert picked == []
        assert problems == []  # ending on Quit is no problem to report
    finally:
        for pid in started:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        box.close()
        _join_dialogs()


@posix_only
def test_no_dialog_starts_after_close(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problems: list[str],
) -> None:  # fmt: skip
    marker = tmp_path / "ran"
    _chooser(tmp_path, monkeypatch, f"touch {shlex.quote(str(marker))}\necho /tmp\n")
    box = Dialogs(on_problem=problems.append)
    box.close()
    picked: list[str] = []
    box.pick_folder(picked.append)
    _join_dialogs()
    assert picked == [] and not marker.exists()


# -- load_pystray --------------------------------------------------------------------------------


def _pystray_modules() -> list[str]:
    return [n for n in sys.modules if n == "pystray" or n.startswith("pystray.")]


@pytest.fixture
def fresh_pystray() -> Iterator[None]:
    """Forget any imported pystray for one test; afterwards, put back what was there."""
    saved = {name: sys.modules.pop(name) for name in _pystray_modules()}
    try:
        yield
    finally:
        for name in _pystray_modules():
            del sys.modules[name]
        sys.modules.update(saved)


def test_load_pystray_dummy_backend(fresh_pystray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    try:
        module = load_pystray()
    except TrayUnavailable as exc:  # a backend without a menu: say what to install
        assert "python3-gi" in exc.message
        assert "gir1.2-ayatanaappindicator3-0.1" in exc.message
        assert "fim-tray monitor" in exc.message
    else:
        assert module.Icon.HAS_MENU is True  # the dummy backend inherits the base class's menu
        assert module.Icon.__module__ == "pystray._base"
        assert hasattr(module, "Menu") and hasattr(module, "MenuItem")


def test_load_pystray_without_a_menu_says_what_to_install(
    fresh_pystray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import pystray

    monkeypatch.setattr(pystray.Icon, "HAS_MENU", False)
    with pytest.raises(TrayUnavailable) as caught:
        load_pystray()
    message = caught.value.message
    assert "python3-gi" in message
    assert "gir1.2-ayatanaappindicator3-0.1" in message
    assert "fim-tray monitor" in message


def test_load_pystray_import_failure_says_what_to_install(
    fresh_pystray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "appindicator")
    monkeypatch.setitem(sys.modules, "pystray", None)  # import pystray raises ImportError
    with pytest.raises(TrayUnavailable) as caught:
        load_pystray()
    message = caught.value.message
    assert "python3-gi" in message
    assert "gir1.2-ayatanaappindicator3-0.1" in message
    assert "fim-tray monitor" in message
    assert isinstance(caught.value.__cause__, ImportError)


def test_load_pystray_unknown_backend(fresh_pystray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "nonexistent")
    with pytest.raises(TrayUnavailable) as caught:
        load_pystray()
    message = caught.value.message
    assert "nonexistent" in message
    assert "python3-gi" in message and "fim-tray monitor" in message


def test_load_pystray_asks_for_appindicator_on_linux(
    fresh_pystray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSTRAY_BACKEND", "")  # so that the variable is restored afterwards
    monkeypatch.delenv("PYSTRAY_BACKEND")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "pystray", None)
    with pytest.raises(TrayUnavailable):
        load_pystray()
    assert os.environ.get("PYSTRAY_BACKEND") == "appindicator"  # never the menu-less xorg


# -- one Settings window at most -----------------------------------------------------------------

WINDOW = """\
import sys
with open(sys.argv[1], "a") as out:
    out.write("started " + " ".join(sys.argv[2:]) + "\\n")
    out.flush()
    for line in sys.stdin:  # what the tray says, until it closes the window
        out.write(line)
        out.flush()
"""


@posix_only
def test_a_second_settings_raises_the_open_window_instead_of_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problems: list[str]
) -> None:
    script, said = tmp_path / "window.py", tmp_path / "said"
    script.write_text(WINDOW)
    monkeypatch.setattr(
        "fim_tray.tray.dialogs.self_command", lambda: [sys.executable, str(script), str(said)]
    )
    box = Dialogs(on_problem=problems.append)
    try:
        box.settings()
        box.settings()  # at once, while the first one starts: still one window
        assert _wait(lambda: said.exists() and "started" in said.read_text())
        assert _wait(lambda: box._single.get("settings") is not None)
        box.settings()  # open now: raised
        assert _wait(lambda: '"raise":true' in said.read_text().replace(" ", ""))
        time.sleep(0.3)
        assert said.read_text().count("started") == 1
        with box._lock:
            assert len(box._children) == 1
    finally:
        box.close()
        _join_dialogs()
    assert "settings" not in box._single  # closed: the next one starts anew


@posix_only
def test_a_second_history_raises_the_open_window_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problems: list[str]
) -> None:
    script, said = tmp_path / "window.py", tmp_path / "said"
    script.write_text(WINDOW)
    monkeypatch.setattr(
        "fim_tray.tray.dialogs.self_command", lambda: [sys.executable, str(script), str(said)]
    )
    box = Dialogs(on_problem=problems.append)
    accepted: list[str] = []
    try:
        box.history(lambda folder, _keys, _done: accepted.append(folder))
        box.history(lambda folder, _keys, _done: accepted.append(folder))  # clicked quickly
        assert _wait(lambda: said.exists() and "started" in said.read_text())
        assert _wait(lambda: box._single.get("history") is not None)
        box.history(lambda folder, _keys, _done: accepted.append(folder))  # open now: raised
        assert _wait(lambda: '"raise":true' in said.read_text().replace(" ", ""))
        time.sleep(0.3)
        assert said.read_text().count("started") == 1
    finally:
        box.close()
        _join_dialogs()
    assert "history" not in box._single  # closed: the next one starts anew


def test_the_settings_window_asks_for_the_alerts_window_as_the_menu_opens_it() -> None:
    from fim_tray.tray.dialogs import _settings_line
    from fim_tray.tray.settings import SettingsApplier

    opened: list[str] = []
    told: list[dict[str, object]] = []
    applier = SettingsApplier(
        None, None, refresh=lambda: None, pick_folder=lambda: None,  # type: ignore[arg-type]
        unwatch=lambda _path: None, show_alerts=lambda: opened.append("alerts"),
    )  # fmt: skip
    assert _settings_line('{"action": "alerts"}\n', applier.request, told.append)
    assert opened == ["alerts"] and told == [{"folder": {"said": "Opening the Alerts window..."}}]


@posix_only
def test_a_second_alerts_raises_the_open_window_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problems: list[str]
) -> None:
    script, said = tmp_path / "window.py", tmp_path / "said"
    script.write_text(WINDOW)
    monkeypatch.setattr(
        "fim_tray.tray.dialogs.self_command", lambda: [sys.executable, str(script), str(said)]
    )
    box = Dialogs(on_problem=problems.append)
    changed: list[str] = []
    try:
        box.alerts(lambda: changed.append("changed"))
        box.alerts(lambda: changed.append("changed"))
        assert _wait(lambda: box._single.get("alerts") is not None)
        box.alerts(lambda: changed.append("changed"))
        assert _wait(lambda: said.exists() and '"raise":true' in said.read_text().replace(" ", ""))
        assert said.read_text().count("started") == 1
    finally:
        box.close()
        _join_dialogs()
    assert "alerts" not in box._single and changed == ["changed"]  # told once, when it closed


class _Monitor:
    """What the settings applier needs of the monitor: calls run at once."""

    def __init__(self) -> None:
        self.changed = 0

    def call(self, task: Callable[[], None], *_folders: str) -> None:
        task()

    def settings_changed(self) -> None:
        self.changed += 1


def test_the_tray_saves_what_the_window_changed_and_tells_it_of_a_clash(
    service: Service,
) -> None:
    from fim_tray.tray.settings import SettingsApplier

    monitor = _Monitor()
    applier = SettingsApplier(
        service, monitor, refresh=lambda: None, pick_folder=lambda: None,  # type: ignore[arg-type]
        unwatch=lambda _path: None,
    )  # fmt: skip
    told: list[dict[str, object]] = []
    service.update_settings({"max_mb_per_s": 30.0})  # by hand, after the window loaded 0
    loaded = {"interval": 60.0}
    applier.request({"action": "settings", "settings": {"interval": 5.0}, "loaded": loaded},
                    told.append)  # fmt: skip
    assert told[-1] == {"settings": {"saved": ["interval"]}} and monitor.changed == 1
    assert (service.config().interval, service.config().max_mb_per_s) == (5.0, 30.0)
    applier.request({"action": "settings", "settings": {"max_mb_per_s": 10.0},
                     "loaded": {"max_mb_per_s": 0.0}}, told.append)  # fmt: skip
    assert told[-1] == {"settings": {"clashes": {"max_mb_per_s": 30.0}}}
    assert service.config().max_mb_per_s == 30.0 and monitor.changed == 1
