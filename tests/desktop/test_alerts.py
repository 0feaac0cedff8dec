"""The tray's alerts on a real desktop: a change reaches a real rsyslog, the menu tells how each
channel fares (sent, or not delivered and why), and "Alerts..." opens the Alerts window."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.alerts.conftest import need
from tests.alerts.servers import Rsyslog, free_port, rsyslogd_path
from tests.conftest import run_cli
from tests.desktop.conftest import Tray
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


@pytest.fixture
def syslog_server(tmp_path: Path) -> Iterator[Rsyslog]:
    need(rsyslogd_path() is not None, "rsyslogd (the rsyslog package)")
    server = Rsyslog(tmp_path / "rsyslog").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_menu_tells_how_each_channel_fares_and_alerts_opens_its_window(
    start_tray: StartTray, desktop: Desktop, syslog_server: Rsyslog, tmp_path: Path
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    home = tmp_path / "home"
    assert run_cli("add", watched, home=home).returncode == 0
    config = home / "config" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "interval": 1.0}))
    dead = free_port()
    for url in (f"syslog+tcp://127.0.0.1:{syslog_server.port}", f"syslog+tcp://127.0.0.1:{dead}"):
        assert run_cli("alert", "add", url, home=home).returncode == 0
    tray = start_tray(home=home)
    wait_for(lambda: "Alerts: 2 channels" in tray.menu.labels(), 15, "the alerts line")

    (watched / "report.txt").write_text("new\n")
    wait_for(lambda: syslog_server.messages(), 20, "the change at the syslog server")
    failing = f"Syslog 127.0.0.1:{dead}: not delivered since "

    def lines() -> list[str]:
        return [label for label in tray.menu.labels() if label.startswith("Syslog ")]

    sent = re.compile(rf"Syslog 127\.0\.0\.1:{syslog_server.port}: last sent \d\d:\d\d")

    def both() -> bool:  # the server may have the message a moment before the menu says so
        shown = lines()
        return any(line.startswith(failing) for line in shown) and any(
            sent.fullmatch(line) for line in shown
        )

    wait_for(both, 20, "a line for each channel")
    shown = lines()
    assert any(line.startswith(failing) and "connection refused" in line for line in shown)
    # one channel failing: the top line says which, and why
    entries = tray.menu.entries()
    top = min(e.depth for e in entries)
    assert any(e.depth == top and e.label.startswith(failing) for e in entries), entries
    [message] = syslog_server.messages()
    assert message["$!"]["fim_tray"]["path"] == "report.txt"

    tray.menu.click("Alerts...")
    window = desktop.run(
        ["xdotool", "search", "--sync", "--name", "fim-tray: alerts"], timeout=20
    ).stdout.split()
    assert window, "the Alerts window did not open:\n" + tray.output()
    time.sleep(0.5)  # Tk maps the window before it takes keys
    desktop.run(["xdotool", "windowfocus", "--sync", window[0]])
    jsonl = tmp_path / "fim.jsonl"
    desktop.run(["xdotool", "type", "--delay", "5", f"jsonl://{jsonl}"])
    desktop.run(["xdotool", "key", "Return"])  # Add
    wait_for(lambda: "jsonl://" in run_cli("alert", "list", home=home).stdout, 10, "the channel")
    # the tray takes it up at once: its line, and a sender that delivers the next change
    wait_for(lambda: "File fim.jsonl: nothing sent yet" in tray.menu.labels(), 10, "its line")
    window_shot(desktop, window[0], "alerts.png")
    desktop.run(["xdotool", "key", "Escape"])  # closes the window
    (watched / "second.txt").write_text("2\n")
    wait_for(lambda: jsonl.exists() and "second.txt" in jsonl.read_text(), 20, "the JSON line")
