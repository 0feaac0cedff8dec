"""End to end, against real servers on loopback: `fim-tray monitor` sends each new change once
to rsyslog (RFC 5424, ECS JSON), to an SMTP server (aiosmtpd) and to webhooks (json://, ntfy://),
loses nothing while the syslog server is down or the monitor restarts, and gives a plain answer
quickly for a dead server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.alerts.servers import Mailbox, Rsyslog, Webhooks, free_port, wait_for
from tests.conftest import REPO, run_cli

TZ = "UTC-02"  # POSIX: two hours east of UTC, so "local time" cannot be UTC by chance
FEED_WAIT = 5.0  # seconds: more than a sender takes to look at the history again


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "FIM_TRAY_HOME": str(home), "PYTHONPATH": str(REPO), "TZ": TZ}


@contextmanager
def monitor(home: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fim_tray", "monitor", "--interval", "1"],
            env=env(home), stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        time.sleep(1.5)  # its first check records nothing new; file events are set up
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def add(home: Path, *args: str | Path) -> None:
    done = run_cli(*args, home=home, env={"TZ": TZ})
    assert done.returncode == 0, done.stderr


def syslog_paths(server: Rsyslog) -> list[str]:
    return [m["$!"]["fim_tray"]["path"] for m in server.messages() if "fim_tray" in m["$!"]]


@pytest.mark.usefixtures("apprise_installed")
def test_a_change_reaches_every_channel_once_with_ecs_fields_and_the_local_time(
    tmp_path: Path, home: Path, rsyslog: Rsyslog, mailbox: Mailbox, webhooks: Webhooks
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    (watched / "old.txt").write_text("old\n")
    add(home, "add", watched)
    jsonl = tmp_path / "siem" / "fim.jsonl"
    jsonl.parent.mkdir()
    for url in (
        f"syslog+tcp://127.0.0.1:{rsyslog.port}",
        f"jsonl://{jsonl}",
        f"mailto://127.0.0.1:{mailbox.port}?from=fim@localhost&to=ann@localhost&mode=insecure",
        f"json://127.0.0.1:{webhooks.port}/hook",
        f"ntfy://127.0.0.1:{webhooks.port}/fim-alerts?mode=private",
    ):
        add(home, "alert", "add", url)
    with monitor(home, tmp_path / "monitor.log"):
        (watched / "report.txt").write_text("new\n")
        (watched / "old.txt").write_text("changed\n")
        assert wait_for(lambda: len(syslog_paths(rsyslog)) >= 2, 20), (
            (tmp_path / "monitor.log").read_text()
        )
        assert wait_for(lambda: len(mailbox.messages) >= 1 and len(webhooks.requests) >= 2, 20)
        time.sleep(2)  # anything sent twice would arrive by now
    # syslog: RFC 5424 from app fim-tray, one message per change, the ECS JSON parsed by rsyslog
    received = [m for m in rsyslog.messages() if "fim_tray" in m["$!"]]
    assert sorted(m["$!"]["fim_tray"]["path"] for m in received) == ["old.txt", "report.txt"]
    for message in received:
        assert message["app-name"] == "fim-tray"
        assert message["protocol-version"] == "1"
        ecs = message["$!"]
        assert ecs["event"]["module"] == "file_integrity"
        assert ecs["event"]["kind"] == "event"
        assert ecs["event"]["category"] == ["file"]
        assert ecs["agent"]["name"] == "fim-tray"
        assert ecs["host"]["name"]
        assert ecs["file"]["path"] == str(watched / ecs["fim_tray"]["path"])
        assert ecs["fim_tray"]["folder"] == str(watched)
        for key in ("type", "size", "mode", "uid", "gid", "inode", "mtime", "ctime", "owner"):
            assert key in ecs["file"], key
        assert len(ecs["file"]["hash"]["sha256"]) == 64
    # each event names its history line: the same id, number and MAC as history --ecs shows
    history = {e["fim_tray"]["id"]: e for e in json.loads(
        "[" + ",".join(run_cli("history", "--ecs", home=home).stdout.splitlines()) + "]"
    )}  # fmt: skip
    for message in received:
        mine = message["$!"]["fim_tray"]
        assert mine["history"] == history[mine["id"]]["fim_tray"]["history"]
    assert sorted(m["$!"]["fim_tray"]["history"]["line"] for m in received) == [0, 1]
    by_path = {m["$!"]["fim_tray"]["path"]: m["$!"] for m in received}
    assert by_path["report.txt"]["event"]["action"] == "created"
    assert by_path["report.txt"]["event"]["type"] == ["creation"]
    assert by_path["old.txt"]["event"]["action"] == "updated"
    assert by_path["old.txt"]["fim_tray"]["before"]["size"] == 4
    # the JSON lines file: the same events, whole lines
    lines = [line for line in jsonl.read_text().splitlines() if line]
    assert len(lines) == 2
    # email: one for the burst, the names and the local time in it
    assert len(mailbox.messages) == 1
    mail = mailbox.parsed()[0]
    body = mail.get_body(("plain",)).get_content()
    assert "Documents" in mail["subject"]
    assert "report.txt" in body and "old.txt" in body
    assert "UTC+02:00" in body
    hour = time.strftime("%H", time.gmtime(time.time() + 7200))
    assert f"At {hour}:" in body
    # webhooks: json:// and ntfy:// each got the message once
    paths = sorted(path for path, _, _ in webhooks.requests)
    assert len(paths) == 2, paths
    assert all(b"report.txt" in body for _, body, _ in webhooks.requests)


def test_a_syslog_outage_and_a_monitor_restart_lose_nothing_and_repeat_nothing(
    tmp_path: Path, home: Path, rsyslog: Rsyslog
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    add(home, "add", watched)
    add(home, "alert", "add", f"syslog+tcp://127.0.0.1:{rsyslog.port}")
    log = tmp_path / "monitor.log"
    names: list[str] = []

    def change(count: int) -> None:
        for _ in range(count):
            name = f"f{len(names):03d}.txt"
            (watched / name).write_text(name)
            names.append(name)
            time.sleep(0.3)

    with monitor(home, log):
        change(3)
        assert wait_for(lambda: len(syslog_paths(rsyslog)) == 3, 20), log.read_text()
        rsyslog.stop()  # in the middle of the burst
        change(4)
        time.sleep(1.5)
    # The monitor stopped with 4 changes not delivered; they wait in the outbox.
    with monitor(home, log):
        change(2)
        rsyslog.start()  # the same port, the same output file
        assert wait_for(lambda: len(syslog_paths(rsyslog)) >= len(names), 60), log.read_text()
        time.sleep(2)
    got = syslog_paths(rsyslog)
    assert got == names  # each once, in order


@pytest.mark.usefixtures("apprise_installed")
def test_a_dead_or_silent_server_is_reported_quickly_without_a_traceback(
    tmp_path: Path, home: Path
) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts connections, never reads: a hung server
    dead = free_port()
    try:
        add(home, "alert", "add", f"syslog+tcp://127.0.0.1:{dead}")
        add(home, "alert", "add", f"syslog+tcp://127.0.0.1:{silent.getsockname()[1]}")
        add(home, "alert", "add", f"json://127.0.0.1:{silent.getsockname()[1]}/hook")
        started = time.monotonic()
        done = run_cli("alert", "test", home=home, timeout=60)
        took = time.monotonic() - started
    finally:
        silent.close()
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "connection refused" in done.stderr
    assert done.stderr.count("NOT delivered") == 3
    assert "stopped answering" in done.stderr  # the syslog server that never reads
    assert "Webhook" in done.stderr
    assert took < 30


def test_a_url_is_tested_before_it_is_added_over_udp_and_tcp(
    tmp_path: Path, home: Path, rsyslog: Rsyslog
) -> None:
    for transport in ("udp", "tcp"):
        done = run_cli("alert", "test", f"syslog+{transport}://127.0.0.1:{rsyslog.port}",
                       home=home)  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert wait_for(lambda: len(rsyslog.messages()) == 2, 10)
    assert sorted(m["inputname"] for m in rsyslog.messages()) == ["imtcp", "imudp"]
    assert all(m["$!"]["event"]["action"] == "test" for m in rsyslog.messages())
    assert run_cli("alert", "list", home=home).stdout == ""  # tested, not added
    jsonl = tmp_path / "new" / "folder" / "fim.jsonl"
    done = run_cli("alert", "test", f"jsonl://{jsonl}", home=home)
    assert done.returncode == 0, done.stderr
    assert json.loads(jsonl.read_text())["event"]["action"] == "test"
    assert jsonl.stat().st_mode & 0o777 == 0o600


def sender_done(home: Path) -> bool:
    """Whether no process sends alerts for ``home`` (the sender a check started has ended)."""
    from fim_tray.store.lock import InstanceLock

    lock = InstanceLock(home / "data" / "outbox" / "sender.lock")
    if not lock.path.exists():
        return True
    if not lock.acquire():
        return False
    lock.release()
    return True


@pytest.mark.usefixtures("apprise_installed")
def test_a_change_a_one_shot_check_finds_reaches_every_channel_once(
    tmp_path: Path, home: Path, rsyslog: Rsyslog, mailbox: Mailbox
) -> None:
    watched = tmp_path / "Documents"
    watched.mkdir()
    (watched / "old.txt").write_text("old\n")
    add(home, "add", watched)
    jsonl = tmp_path / "fim.jsonl"
    for url in (
        f"syslog+tcp://127.0.0.1:{rsyslog.port}",
        f"jsonl://{jsonl}",
        f"mailto://127.0.0.1:{mailbox.port}?from=fim@localhost&to=ann@localhost&mode=insecure",
    ):
        add(home, "alert", "add", url)
    (watched / "report.txt").write_text("new\n")
    (watched / "old.txt").write_text("changed\n")
    done = run_cli("check", home=home, env={"TZ": TZ})  # no tray, no monitor: nothing else runs
    assert done.returncode == 1, done.stderr
    assert wait_for(lambda: len(syslog_paths(rsyslog)) >= 2 and len(mailbox.messages) >= 1, 30)
    assert wait_for(lambda: sender_done(home), 40)
    assert sorted(syslog_paths(rsyslog)) == ["old.txt", "report.txt"]
    for message in rsyslog.messages():
        if "fim_tray" in message["$!"]:
            assert {"inode", "ctime", "mtime", "hash"} <= set(message["$!"]["file"])
    assert len(jsonl.read_text().splitlines()) == 2
    body = mailbox.parsed()[0].get_body(("plain",)).get_content()
    assert "report.txt" in body and "old.txt" in body and "UTC+02:00" in body
    # Checked again (the changes are still pending), then watched by a monitor: none repeats.
    assert run_cli("check", home=home).returncode == 1
    with monitor(home, tmp_path / "monitor.log"):
        time.sleep(FEED_WAIT)
    assert wait_for(lambda: sender_done(home), 40)
    assert sorted(syslog_paths(rsyslog)) == ["old.txt", "report.txt"]
    assert len(mailbox.messages) == 1
    assert len(jsonl.read_text().splitlines()) == 2


def test_checks_while_the_syslog_server_is_down_deliver_in_order_once_it_is_back(
    tmp_path: Path, home: Path, rsyslog: Rsyslog
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    add(home, "add", watched)
    add(home, "alert", "add", f"syslog+tcp://127.0.0.1:{rsyslog.port}")
    rsyslog.stop()
    names = []
    for index in range(3):  # three checks, each with a change; the first one's sender retries
        name = f"f{index}.txt"
        (watched / name).write_text(name)
        names.append(name)
        started = time.monotonic()
        assert run_cli("check", home=home).returncode == 1
        assert time.monotonic() - started < 10  # the check never waits for the server
    rsyslog.start()
    assert wait_for(lambda: len(syslog_paths(rsyslog)) >= 3, 40)
    assert wait_for(lambda: sender_done(home), 40)
    assert syslog_paths(rsyslog) == names
    listed = run_cli("alert", "list", home=home)
    assert "waiting" not in listed.stdout and "last sent" in listed.stdout
