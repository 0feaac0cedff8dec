"""The fim-tray command end to end: add, remove, list, check, accept, history, monitor, tray."""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import pytest

from tests.helpers import LINE, cli, cli_env, ctrl_c_reaches_it, err_lines, make_tree

# A fixed, non-zero UTC offset with no need for tzdata: times must carry it.
TZ = {"TZ": "IST-5:30"}
IST = timezone(timedelta(hours=5, minutes=30))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "docs",
        {
            "todo.txt": "one\n",
            "tax.pdf": b"%PDF-1.4 " + bytes(range(256)),
            "notes/a.txt": "alpha\n",
            "notes/b.txt": "beta\n",
            "keep.txt": "keep\n",
        },
    )


def added(docs: Path, home: Path, *extra: str) -> None:
    run = cli("add", docs, *extra, home=home)
    assert run.returncode == 0, run.err
    assert run.out == ""


# -- add / list / remove ---------------------------------------------------------------------


def test_add_list_remove(docs: Path, home: Path) -> None:
    run = cli("add", docs, home=home)
    assert run.returncode == 0, run.err
    assert f"watching {docs}: 6 entries" in run.err  # 5 files and notes/
    assert run.out == ""

    again = cli("add", docs, home=home)
    assert again.returncode == 0 and "already watched" in again.err
    for option, said in (
        (["--keep-copies"], "keep-copies"),
        (["--algorithm", "blake2b"], "hashed with sha256, not blake2b"),
        (["--exclude", "*.log"], "does not skip *.log"),
    ):
        other = cli("add", docs, *option, home=home)  # never silently dropped
        assert other.returncode == 2 and said in other.err and "Nothing was changed" in other.err
    same = cli("add", docs, "--algorithm", "sha256", home=home)  # what it has already: fine
    assert same.returncode == 0, same.err

    listing = cli("list", home=home)
    assert listing.returncode == 0
    (line,) = listing.out.splitlines()
    assert line.startswith(f"{docs}  ok  6 entries  last check ")

    (obj,) = cli("list", "--json", home=home).json_lines()
    assert obj["folder"] == str(docs)
    assert obj["state"] == "ok" and obj["files"] == 6 and obj["pending"] == 0
    assert obj["error"] is None and obj["algorithm"] == "sha256"
    assert datetime.fromisoformat(obj["checked"]).utcoffset() is not None

    (docs / "todo.txt").write_text("changed\n")
    assert cli("check", home=home).returncode == 1
    (pending,) = cli("list", "--json", home=home).json_lines()
    assert pending["state"] == "1 pending" and pending["pending"] == 1

    removed = cli("remove", docs, home=home)
    assert removed.returncode == 0 and "stopped watching" in removed.err
    assert cli("list", "--json", home=home).out == ""
    assert list((home / "data" / "baselines").iterdir()) == []
    nothing = cli("check", home=home)
    assert nothing.returncode == 0 and "no folders are watched" in nothing.err


def test_add_and_remove_refuse_bad_paths(tmp_path: Path, home: Path) -> None:
    missing = cli("add", tmp_path / "nope", home=home)
    assert missing.returncode == 2
    assert len(err_lines(missing)) == 2 and "not a folder that exists" in missing.err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert cli("add", a_file, home=home).returncode == 2
    unknown = cli("remove", tmp_path, home=home)
    assert unknown.returncode == 2 and "is not a watched folder" in unknown.err
    assert cli("check", tmp_path, home=home).returncode == 2
    assert cli("accept", tmp_path, home=home).returncode == 2


def test_add_options_algorithm_and_exclude(docs: Path, home: Path) -> None:
    added(docs, home, "--algorithm", "blake2b", "--exclude", "*.pdf", "--exclude", "notes/b.txt")
    (obj,) = cli("list", "--json", home=home).json_lines()
    assert obj["algorithm"] == "blake2b" and obj["files"] == 4
    (docs / "tax.pdf").write_text("ignored")
    (docs / "notes" / "b.txt").write_text("ignored")
    (docs / "x.swp").write_text("an editor swap file: excluded by default")
    assert cli("check", home=home).returncode == 0
    (docs / "todo.txt").write_text("seen\n")
    (change,) = cli("check", "--json", home=home).json_lines()
    assert change["path"] == "todo.txt" and len(change["after"]["digest"]) == 128


# -- check -----------------------------------------------------------------------------------


def test_check_exit_codes_and_human_lines(docs: Path, home: Path) -> None:
    added(docs, home)
    clean = cli("check", home=home, env=TZ)
    assert clean.returncode == 0 and clean.out == ""
    assert f"{docs}: no changes in 6 entries" in clean.err

    (docs / "todo.txt").write_text("one\ntwo\n")
    (docs / "notes" / "a.txt").unlink()
    (docs / "new.txt").write_text("fresh\n")
    (docs / "tax.pdf").chmod(0o600)
    before = datetime.now(IST).replace(microsecond=0, tzinfo=None)
    run = cli("check", docs, home=home, env=TZ)
    after = datetime.now(IST).replace(tzinfo=None)
    assert run.returncode == 1, run.err
    assert run.changes() == [
        ("added", "new.txt"),
        ("removed", "notes/a.txt"),
        ("metadata", "tax.pdf"),
        ("modified", "todo.txt"),
    ]
    for line in run.out.splitlines():
        match = LINE.match(line)
        assert match is not None
        when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")  # local time of the check
        assert before - timedelta(seconds=1) <= when <= after
    lines = dict((m[3], m[4]) for m in map(LINE.match, run.out.splitlines()) if m)
    assert lines["tax.pdf"] == "mode 0644 -> 0600"
    assert lines["new.txt"] == "6 bytes"
    assert lines["todo.txt"].startswith("content, size 4 -> 8")
    assert f"{docs}: 4 changes (1 added, 1 metadata, 1 modified, 1 removed)" in run.err
    # The changes stay until accepted: the next check reports them again, exit 1.
    assert cli("check", home=home).returncode == 1


def test_check_json_fields(docs: Path, home: Path) -> None:
    added(docs, home)
    (docs / "todo.txt").write_text("one\ntwo\n")
    (docs / "tax.pdf").chmod(0o640)
    (docs / "gone").mkdir()
    (docs / "notes" / "b.txt").unlink()
    run = cli("check", "--json", home=home, env=TZ)
    assert run.returncode == 1
    objs = {o["path"]: o for o in run.json_lines()}
    assert set(objs) == {"gone", "notes/b.txt", "tax.pdf", "todo.txt"}
    for obj in objs.values():
        assert obj["time"].endswith("+05:30")
        when = datetime.fromisoformat(obj["time"])
        assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 30
        assert obj["folder"] == str(docs)
        assert obj["suspicious"] is False
        assert obj["new"] is True
    todo = objs["todo.txt"]
    assert todo["change"] == "modified" and todo["fields"] == ["size", "mtime_ns"]
    assert todo["before"]["size"] == 4 and todo["after"]["size"] == 8
    assert todo["before"]["digest"] != todo["after"]["digest"]
    assert todo["before"]["type"] == todo["after"]["type"] == "file"
    assert todo["after"]["mtime"].endswith("+05:30")
    tax = objs["tax.pdf"]
    assert tax["change"] == "metadata" and tax["fields"] == ["mode"]
    assert (tax["before"]["mode"], tax["after"]["mode"]) == ("0644", "0640")
    assert tax["before"]["digest"] == tax["after"]["digest"]
    assert objs["gone"]["change"] == "added" and objs["gone"]["before"] is None
    assert objs["gone"]["after"]["type"] == "dir"
    assert objs["notes/b.txt"]["change"] == "removed" and objs["notes/b.txt"]["after"] is None
    # Reported once as new; the next check lists them again but no longer as new.
    again = cli("check", "--json", home=home).json_lines()
    assert len(again) == 4 and not any(o["new"] for o in again)


def test_suspicious_content_change_with_size_and_mtime_kept(docs: Path, home: Path) -> None:
    added(docs, home)
    target = docs / "tax.pdf"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns

    (obj,) = cli("check", "--json", home=home).json_lines()
    assert obj["path"] == "tax.pdf" and obj["change"] == "modified"
    assert obj["suspicious"] is True and obj["fields"] == []
    human = cli("check", home=home)
    assert human.changes() == [("modified", "tax.pdf")]
    assert "SUSPICIOUS" in human.out


def test_plain_edit_is_not_suspicious(docs: Path, home: Path) -> None:
    added(docs, home)
    (docs / "todo.txt").write_text("two\n")  # same size, new mtime
    os.utime(docs / "todo.txt", ns=(1, 10**18))
    (obj,) = cli("check", "--json", home=home).json_lines()
    assert obj["change"] == "modified" and obj["suspicious"] is False
    assert obj["fields"] == ["mtime_ns"]


def test_metadata_change_of_a_folder(docs: Path, home: Path) -> None:
    added(docs, home)
    (docs / "notes").chmod(0o700)
    run = cli("check", home=home)
    assert run.changes() == [("metadata", "notes")]
    assert "mode 0755 -> 0700" in run.out


def test_check_several_folders_prints_full_paths(docs: Path, tmp_path: Path, home: Path) -> None:
    other = make_tree(tmp_path / "other", {"o.txt": "o"})
    added(docs, home)
    added(other, home)
    (other / "o.txt").write_text("oo")
    run = cli("check", home=home)
    assert run.returncode == 1
    assert run.changes() == [("modified", str(other / "o.txt"))]
    assert cli("check", docs, home=home).returncode == 0
    assert cli("check", other, home=home).changes() == [("modified", "o.txt")]


# -- accept ----------------------------------------------------------------------------------


def test_accept_everything(docs: Path, home: Path) -> None:
    added(docs, home)
    (docs / "todo.txt").write_text("changed\n")
    (docs / "keep.txt").unlink()
    run = cli("accept", home=home)
    assert run.returncode == 0 and run.out == ""
    assert "accepted modified todo.txt" in run.err and "accepted removed keep.txt" in run.err
    assert cli("check", home=home).returncode == 0
    again = cli("accept", docs, home=home)
    assert again.returncode == 0 and "nothing to accept" in again.err


def test_accept_file_relative_and_absolute(docs: Path, tmp_path: Path, home: Path) -> None:
    added(docs, home)
    for name in ("todo.txt", "keep.txt", "notes/a.txt", "notes/b.txt"):
        (docs / name).write_text("changed\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # Relative to the watched folder, from a working folder outside it.
    run = cli("accept", "--file", "todo.txt", home=home, cwd=elsewhere)
    assert run.returncode == 0 and "accepted modified todo.txt" in run.err
    # Relative to the working folder, inside the watched one.
    run = cli("accept", docs, "--file", "a.txt", home=home, cwd=docs / "notes")
    assert run.returncode == 0 and "accepted modified notes/a.txt" in run.err
    # Absolute.
    run = cli("accept", "--file", docs / "keep.txt", home=home, cwd=elsewhere)
    assert run.returncode == 0 and "accepted modified keep.txt" in run.err

    assert cli("check", home=home).changes() == [("modified", "notes/b.txt")]

    outside = cli("accept", docs, "--file", tmp_path / "x.txt", home=home)
    assert outside.returncode == 2
    assert len(err_lines(outside)) == 1 and "not inside the watched folder" in outside.err
    # A folder given as --file takes everything under it.
    assert cli("accept", "--file", "notes", home=home, cwd=elsewhere).returncode == 0
    assert cli("check", home=home).returncode == 0


# -- history ---------------------------------------------------------------------------------


def test_history_json_and_limit(docs: Path, home: Path) -> None:
    added(docs, home)
    assert cli("history", home=home).out == ""
    for round_ in range(3):
        (docs / "todo.txt").write_text(f"round {round_}\n")
        assert cli("check", home=home).returncode == 1
        assert cli("accept", home=home).returncode == 0
    (docs / "new.txt").write_text("n")
    assert cli("check", home=home).returncode == 1
    assert cli("check", home=home).returncode == 1  # not new: not in the history twice

    events = cli("history", "--json", home=home).json_lines()
    assert [(e["change"], e["path"]) for e in events] == [
        *[("modified", "todo.txt"), ("accepted", "todo.txt")] * 3,
        ("added", "new.txt"),
    ]
    assert len({e["id"] for e in events}) == 7
    for event in events:
        assert event["folder"] == str(docs)
        assert datetime.fromisoformat(event["time"]).utcoffset() is not None
        assert set(event) >= {"before", "after", "suspicious", "fields"}
    assert [e["after"]["size"] for e in events[:6:2]] == [8, 8, 8]
    accepts = [e for e in events if e["change"] == "accepted"]
    assert [(e["accepted"], e["by"], e["reported"]) for e in accepts] == [
        ("modified", "command line", True)
    ] * 3

    last_two = cli("history", "--json", "--limit", "2", home=home).json_lines()
    assert [e["id"] for e in last_two] == [e["id"] for e in events[-2:]]
    human = cli("history", "--limit", "1", home=home)
    (line,) = human.out.splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  added       " + re.escape(str(docs / "new.txt")), line
    )


# -- monitor ---------------------------------------------------------------------------------


def _reader(stream: IO[bytes], lines: queue.Queue[bytes]) -> None:
    for line in stream:
        lines.put(line)


def _next_line(lines: queue.Queue[bytes], timeout: float) -> dict[str, Any]:
    obj = json.loads(lines.get(timeout=timeout).decode("utf-8"))
    assert isinstance(obj, dict)
    return obj


def test_monitor_prints_each_new_change_once_and_stops_on_sigint(docs: Path, home: Path) -> None:
    added(docs, home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "monitor", "--interval", "1", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(home),
        preexec_fn=ctrl_c_reaches_it,
    )
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        (docs / "todo.txt").write_text("first change\n")
        first = _next_line(lines, timeout=10)
        assert (first["path"], first["change"], first["new"]) == ("todo.txt", "modified", True)

        (docs / "new.txt").write_text("second\n")
        second = _next_line(lines, timeout=10)
        assert (second["path"], second["change"]) == ("new.txt", "added")

        time.sleep(2.5)  # two more polls: nothing is printed again
        assert lines.empty()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "a check every 1 s" in err
    time.sleep(0.1)
    assert lines.empty()


def test_monitor_with_no_folders(home: Path) -> None:
    run = cli("monitor", "--interval", "1", home=home, timeout=10)
    assert run.returncode == 2 and "no folders are watched" in run.err


# -- tray ------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("tray",)])
def test_tray_without_display_points_to_monitor(home: Path, args: tuple[str, ...]) -> None:
    run = cli(*args, home=home, env={"DISPLAY": None, "WAYLAND_DISPLAY": None}, timeout=20)
    assert run.returncode == 2
    assert run.out == ""
    assert "display" in run.err.lower() and "fim-tray monitor" in run.err


@pytest.mark.parametrize("given", [None, "always"])
def test_the_tray_loads_no_opengl_unless_told_to(
    home: Path, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    """GTK would load the system's OpenGL driver into the tray, which never draws in 3D."""
    from fim_tray.app.service import Service
    from fim_tray.cli import main as cli_main
    from fim_tray.tray import app as tray_app

    seen: list[str | None] = []
    monkeypatch.setenv("DISPLAY", ":99")
    if given is None:
        monkeypatch.delenv("GDK_GL", raising=False)
    else:
        monkeypatch.setenv("GDK_GL", given)

    def run_tray(_service: Service) -> int:
        seen.append(os.environ.get("GDK_GL"))
        return 0

    monkeypatch.setattr(tray_app, "run_tray", run_tray)
    assert cli_main.cmd_tray(Service(), argparse.Namespace()) == 0
    assert seen == [given or "disable"]


def test_usage_errors_go_to_stderr(home: Path) -> None:
    run = cli("check", "--bogus", home=home)
    assert run.returncode == 2 and run.out == "" and "usage:" in run.err
    assert cli("history", "--limit", "x", home=home).returncode == 2


WRITER = (
    "import sys, time; f = open(sys.argv[1], 'a'); print('open', flush=True); "
    "f.write('line\\n'); f.flush(); time.sleep(30)"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the hint reads /proc")
def test_monitor_names_a_process_writing_the_file_as_a_hint(docs: Path, home: Path) -> None:
    added(docs, home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "monitor", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(home),
    )  # fmt: skip
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    writer = None
    try:
        assert proc.stderr is not None
        assert b"watching" in proc.stderr.readline()  # file events are on from here
        time.sleep(0.5)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(docs / "todo.txt")], stdout=subprocess.PIPE
        )
        change = _next_line(lines, timeout=10)
        assert (change["path"], change["change"]) == ("todo.txt", "modified")
        assert change["process"] == {"name": change["process"]["name"], "pid": writer.pid,
                                     "hint": True}  # fmt: skip
        writer.kill()
        writer.wait()
        (docs / "todo.txt").chmod(0o600)  # nobody writing it now: nothing is claimed
        later = _next_line(lines, timeout=10)
        assert later["path"] == "todo.txt" and "process" not in later
    finally:
        for child in (proc, writer):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()


def test_one_watcher_per_data_folder(docs: Path, home: Path) -> None:
    added(docs, home)
    first = subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "monitor"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=cli_env(home),
    )  # fmt: skip
    try:
        assert first.stderr is not None and b"watching" in first.stderr.readline()
        second = cli("monitor", home=home, timeout=10)
        assert second.returncode == 1
        assert f"already running (process {first.pid})" in second.err
        assert cli("check", home=home).returncode == 0  # one-shot commands still run beside it
    finally:
        first.kill()
        first.wait()


def test_monitor_of_a_relative_path_gets_file_events(docs: Path, home: Path) -> None:
    added(docs, home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fim_tray", "monitor", "--json", docs.name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(home), cwd=docs.parent,
    )  # fmt: skip
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    try:
        assert proc.stderr is not None and b"watching" in proc.stderr.readline()
        time.sleep(0.5)
        (docs / "todo.txt").write_text("by events, not the 60 s poll\n")
        change = _next_line(lines, timeout=5)  # well before the first poll
        assert change["path"] == "todo.txt"
    finally:
        proc.kill()
        proc.wait()


def test_settings_deleted_while_baselines_remain_is_not_all_clear(docs: Path, home: Path) -> None:
    added(docs, home)
    (home / "config" / "config.json").unlink()
    run = cli("check", home=home)
    assert run.returncode == 2
    assert "settings were deleted or an older copy was put back" in run.err
    assert "1 baseline" in run.err
    assert cli("list", home=home).returncode == 2 and cli("status", home=home).returncode == 2
    assert cli("add", docs, home=home).returncode == 0  # adding it again is the way back
    assert cli("check", home=home).returncode == 0
