"""`fim-tray alert add|list|remove|test` and `history --ecs`, run as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fim_tray.alerts import people
from fim_tray.alerts.urls import ChannelError
from tests.helpers import cli, cli_env

SECRET = "Hunter2Secret"
MAIL = f"mailtos://ann:{SECRET}@mail.example.org?to=bob@example.org"


def test_channels_are_added_listed_masked_and_removed(tmp_path: Path, home: Path) -> None:
    jsonl = f"jsonl://{tmp_path / 'fim.jsonl'}"
    for url in ("syslog+tcp://127.0.0.1:1514", jsonl, MAIL):
        run = cli("alert", "add", url, home=home)
        assert run.returncode == 0, run.err
        assert SECRET not in run.err + run.out
    kept = home / "config" / "alerts.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    listed = cli("alert", "list", home=home)
    assert listed.returncode == 0
    assert SECRET not in listed.out + listed.err
    assert "mailtos://ann:***@mail.example.org?to=bob@example.org" in listed.out
    assert "syslog+tcp://127.0.0.1:1514" in listed.out
    as_json = cli("alert", "list", "--json", home=home)
    assert [o["kind"] for o in as_json.json_lines()] == ["syslog", "jsonl", "people"]
    assert SECRET not in as_json.out
    again = cli("alert", "add", MAIL, home=home)
    assert again.returncode == 2 and "already" in again.err and SECRET not in again.err
    # removed by its masked form, as list shows it
    gone = cli("alert", "remove", "mailtos://ann:***@mail.example.org?to=bob@example.org",
               home=home)  # fmt: skip
    assert gone.returncode == 0, gone.err
    assert "mailtos" not in cli("alert", "list", home=home).out
    missing = cli("alert", "remove", MAIL, home=home)
    assert missing.returncode == 2 and "no such channel" in missing.err


@pytest.mark.parametrize(
    "url", ["bogus://x", "syslog+tcp://host:99999", "jsonl://relative", "nothing at all"]
)
def test_a_bad_url_exits_2_with_a_plain_message(home: Path, url: str) -> None:
    run = cli("alert", "add", url, home=home)
    assert run.returncode == 2
    assert run.err.startswith("fim-tray: ") and "Traceback" not in run.err
    assert len(run.err.splitlines()) == 1


def test_without_apprise_a_channel_for_people_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(people, "available", lambda: False)
    with pytest.raises(ChannelError, match=r"pip install 'fim-tray\[alerts\]'") as raised:
        people.check(MAIL)
    assert "this build" not in str(raised.value)
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # a build made without it
    with pytest.raises(ChannelError, match=r"this build of fim-tray was made without it"):
        people.check(MAIL)


def test_a_test_of_a_dead_channel_names_it_and_why(home: Path) -> None:
    assert cli("alert", "add", "syslog+udp://127.0.0.1:9", home=home).returncode == 0
    bad = cli("alert", "add", f"mailto://ann:{SECRET}@127.0.0.1:9?to=b@localhost", home=home)
    assert bad.returncode == 2 and "not a mailto:// URL apprise can use" in bad.err, bad.err
    assert SECRET not in bad.err
    mail = f"mailto://ann:{SECRET}@127.0.0.1:9?from=fim@localhost&to=b@localhost&mode=insecure"
    assert cli("alert", "add", mail, home=home).returncode == 0
    hook = f"json://bob:{SECRET}@127.0.0.1:9/hook?token=tok{SECRET}"
    assert cli("alert", "add", hook, home=home).returncode == 0
    run = cli("--debug", "alert", "test", home=home)  # not even in the debug log
    assert run.returncode == 2
    assert "Email" in run.err and "NOT delivered" in run.err and "connection refused" in run.err
    assert "Webhook" in run.err
    assert SECRET not in run.err and "Traceback" not in run.err
    no_channels = cli("alert", "test", home=home / "other")
    assert no_channels.returncode == 2


def test_history_ecs_back_fills_a_siem_with_each_lines_place_in_the_chain(
    tmp_path: Path, home: Path
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    (watched / "a.txt").write_text("a")
    assert cli("add", watched, home=home).returncode == 0
    (watched / "a.txt").write_text("changed")
    (watched / "b.txt").write_text("b")
    assert cli("check", watched, home=home).returncode == 1
    run = cli("history", "--ecs", home=home)
    assert run.returncode == 0, run.err
    events = run.json_lines()
    assert sorted(e["fim_tray"]["path"] for e in events) == ["a.txt", "b.txt"]
    actions = {e["fim_tray"]["path"]: e["event"]["action"] for e in events}
    assert actions == {"a.txt": "updated", "b.txt": "created"}
    lines = sorted(e["fim_tray"]["history"]["line"] for e in events)
    assert lines == [0, 1]
    assert all(e["fim_tray"]["verified"] for e in events)
    assert all(len(e["fim_tray"]["history"]["chain"]) == 32 for e in events)
    # an accept is a line of the history too: an action of its own, not a change of a file
    assert cli("accept", watched, home=home).returncode == 0
    accepts = [e for e in cli("history", "--ecs", home=home).json_lines()
               if e["event"]["action"] == "accepted"]  # fmt: skip
    assert accepts and all(e["event"]["category"] == ["configuration"] for e in accepts)
    assert all(e["fim_tray"]["by"] == "command line" for e in accepts)


def test_a_check_never_imports_the_alert_libraries(tmp_path: Path, home: Path) -> None:
    (tmp_path / "w").mkdir()
    assert cli("add", tmp_path / "w", home=home).returncode == 0
    assert cli("alert", "add", "syslog+tcp://127.0.0.1:1514", home=home).returncode == 0
    heavy = ["apprise", "ssl", "socket", "fim_tray.alerts.people", "fim_tray.app.alerting"]
    code = (  # what the interpreter's start-up loaded (site, .pth files) is not the check's
        "import sys\nstarted = set(sys.modules)\nfrom fim_tray.cli import main as cli\n"
        f"code = cli.main(['check', {str(tmp_path / 'w')!r}])\n"
        f"print(code, [m for m in {heavy!r} if m in sys.modules and m not in started])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=cli_env(home), timeout=30, check=False)  # fmt: skip
    assert done.stdout == "0 []\n", done.stderr
    assert json.dumps(done.returncode) == "0"


def test_a_header_option_is_listed_with_its_plus_and_removed_by_that_form(home: Path) -> None:
    url = f"json://127.0.0.1:8080/x?+X-Api-Key={SECRET}"
    assert cli("alert", "add", url, home=home).returncode == 0
    listed = cli("alert", "list", home=home).out
    assert "json://127.0.0.1:8080/x?+X-Api-Key=***" in listed and SECRET not in listed
    gone = cli("alert", "remove", "json://127.0.0.1:8080/x?+X-Api-Key=***", home=home)
    assert gone.returncode == 0, gone.err


def test_a_second_spelling_of_a_channel_is_already_a_channel(home: Path) -> None:
    assert cli("alert", "add", "SYSLOG+TCP://127.0.0.1", home=home).returncode == 0
    for url in ("syslog+tcp://127.0.0.1:514", "syslog+tcp://127.0.0.1:514/",
                "syslog+tcp://127.0.0.1:0514"):  # fmt: skip
        again = cli("alert", "add", url, home=home)
        assert again.returncode == 2 and "already a channel" in again.err, url
    kept = json.loads((home / "config" / "alerts.json").read_text())
    assert kept["channels"] == ["syslog+tcp://127.0.0.1:514"]
    assert cli("alert", "list", home=home).out.startswith("syslog+tcp://127.0.0.1:514  ")
    zero = cli("alert", "add", "syslog+tcp://127.0.0.1:0", home=home)
    assert zero.returncode == 2 and "1-65535" in zero.err and len(zero.err.splitlines()) == 1


@pytest.mark.parametrize("verb", ["add", "test"])
def test_a_file_that_cannot_be_used_is_refused_before_it_is_added(
    tmp_path: Path, home: Path, verb: str
) -> None:
    for url, named in ((f"jsonl://{tmp_path}", str(tmp_path)), ("jsonl:///dev/null", "/dev/null"),
                       ("syslog+tls://127.0.0.1:6514?ca=/nonexistent.pem", "/nonexistent.pem"),
                       (f"syslog+tls://127.0.0.1:6514?ca={tmp_path}", str(tmp_path))):  # fmt: skip
        run = cli("alert", verb, url, home=home)
        assert run.returncode == 2, url
        assert named in run.err and "127.0.0.1" not in run.err and "Traceback" not in run.err
        assert len(run.err.splitlines()) == 1
    assert cli("alert", "list", home=home).out == ""


def test_a_channel_is_removed_by_another_spelling_of_its_url(home: Path) -> None:
    assert cli("alert", "add", "syslog+tcp://127.0.0.1:514", home=home).returncode == 0
    gone = cli("alert", "remove", "SYSLOG+TCP://127.0.0.1/", home=home)
    assert gone.returncode == 0, gone.err
    assert "syslog" not in cli("alert", "list", home=home).out
