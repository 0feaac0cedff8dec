"""Every kind of bad input, end to end: special files, symlink loops, unreadable and vanishing
files, hostile file names, damaged baselines and settings, missing or unmounted folders, kill -9
and a full disk during a write, and two processes at once."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partialmethod
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.errors import FolderMissingError
from fim_tray.models import Entry
from fim_tray.scan.record import Recorder
from fim_tray.scan.scanner import Scanner
from fim_tray.store import baseline as baseline_store
from fim_tray.store.key import load_or_create
from fim_tray.store.paths import Paths, folder_id
from tests.helpers import NOBODY, REPO, Run, cli, cli_env, err_lines, make_tree, world_tmp

IS_ROOT = os.geteuid() == 0


def paths_of(home: Path) -> Paths:
    return Paths(data_dir=home / "data", config_dir=home / "config")


def baseline_path(home: Path, watched: Path) -> Path:
    return paths_of(home).baseline_file(folder_id(str(watched)))


def load_entries(home: Path, watched: Path) -> Mapping[str, Entry]:
    key = load_or_create(paths_of(home).key_file)
    return baseline_store.load(baseline_path(home, watched), key).entries


def add(watched: Path, home: Path) -> Run:
    run = cli("add", watched, home=home, timeout=15)
    assert run.returncode == 0, run.err
    return run


def one_error(run: Run, *words: str) -> str:
    """Exit 2, nothing on stdout, exactly one plain line on stderr holding every word."""
    assert run.returncode == 2, (run.out, run.err)
    assert run.out == ""
    lines = [line for line in err_lines(run) if not line.startswith("fim-tray: recording ")]
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith("fim-tray: ")
    for word in words:
        assert word in line, (word, line)
    return line


# -- FIFOs, sockets and devices --------------------------------------------------------------


class FifoSpy:
    """A writer blocked opening a FIFO: its open returns as soon as anything opens the FIFO for
    reading (even with O_NONBLOCK), so ``opened`` tells whether the scanner ever opened it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened = threading.Event()
        self._fd: int | None = None
        self._thread = threading.Thread(target=self._wait, name="fifo-spy", daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY)
        self.opened.set()

    def close(self) -> None:
        reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # releases the writer
        self._thread.join(5)
        os.close(reader)
        if self._fd is not None:
            os.close(self._fd)


def make_special(folder: Path, kind: str, name: str) -> None:
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))  # the file stays after the socket is closed
    elif kind == "chardev":
        null = os.stat("/dev/null").st_rdev
        os.mknod(path, 0o666 | stat.S_IFCHR, null)
    else:
        raise AssertionError(kind)


SPECIALS = [
    "fifo",
    "socket",
    pytest.param(
        "chardev",
        marks=pytest.mark.skipif(not IS_ROOT, reason="only root may create a device node"),
    ),
]


@pytest.mark.parametrize("kind", SPECIALS)
def test_special_files_are_recorded_by_type_and_never_opened(
    kind: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world_tmp() as tmp:  # short: a UNIX socket path must fit in 108 bytes
        watched = make_tree(tmp / "w", {"plain.txt": "plain"})
        make_special(watched, kind, "before")
        spy = FifoSpy(watched / "before") if kind == "fifo" else None
        try:
            started = time.monotonic()
            add(watched, home)
            assert load_entries(home, watched)["before"].type == kind
            make_special(watched, kind, "after")
            run = cli("check", "--json", home=home, timeout=10)
            assert time.monotonic() - started < 10
            assert run.returncode == 1, run.err
            (obj,) = run.json_lines()
            assert (obj["path"], obj["change"], obj["after"]["type"]) == ("after", "added", kind)
            assert obj["after"]["size"] == 0 and "digest" not in obj["after"]
            if kind == "chardev":  # /dev/null's numbers, as make_special makes it
                assert obj["after"]["device"] == "1,3"
            accepted = cli("accept", home=home, timeout=10)
            assert accepted.returncode == 0, accepted.err
            assert cli("check", "--full", home=home, timeout=10).returncode == 0
            assert spy is None or not spy.opened.is_set()
        finally:
            if spy is not None:
                spy.close()

        # In process: the only file the scanner opens is the plain one (folders it lists by
        # descriptor are opened with O_DIRECTORY, which a FIFO or device refuses unread).
        opened: list[str] = []
        real_open = os.open

        def spying_open(path: str, flags: int, *args: int, **kwargs: int) -> int:
            if not flags & getattr(os, "O_DIRECTORY", 0):
                opened.append(os.path.basename(os.fsdecode(path)))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", spying_open)
        result = Scanner(str(watched), full=True).run()
        monkeypatch.undo()
        assert opened == ["plain.txt"]
        assert {p: e.type for p, e in result.entries.items()} == {
            "plain.txt": "file",
            "before": kind,
            "after": kind,
        }


# -- symlinks --------------------------------------------------------------------------------


def test_symlinks_are_recorded_by_target_and_never_followed(tmp_path: Path, home: Path) -> None:
    watched = make_tree(tmp_path / "w", {"in.txt": "inside", "sub/deep.txt": "deep"})
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the folder")
    os.mkfifo(tmp_path / "outside.fifo")  # followed, it would hang the scan
    os.symlink("b", watched / "a")
    os.symlink("a", watched / "b")
    os.symlink(".", watched / "self")
    os.symlink("..", watched / "sub" / "up")
    os.symlink(outside, watched / "out")
    os.symlink(tmp_path / "outside.fifo", watched / "pipe")
    os.symlink("nowhere", watched / "dangling")

    add(watched, home)
    entries = load_entries(home, watched)
    links = {p: e.target for p, e in entries.items() if e.type == "symlink"}
    assert links == {
        "a": "b",
        "b": "a",
        "self": ".",
        "sub/up": "..",
        "out": str(outside),
        "pipe": str(tmp_path / "outside.fifo"),
        "dangling": "nowhere",
    }
    assert sorted(entries) == sorted([*links, "in.txt", "sub", "sub/deep.txt"])  # no self/...
    assert all(e.digest is None for e in entries.values() if e.type == "symlink")

    outside.write_text("the outside file changed, and grew")
    clean = cli("check", "--full", home=home, timeout=10)
    assert clean.returncode == 0, clean.out

    other = tmp_path / "other.txt"
    (watched / "out").unlink()
    os.symlink(other, watched / "out")
    run = cli("check", "--json", home=home, timeout=10)
    assert run.returncode == 1
    (obj,) = run.json_lines()
    assert (obj["path"], obj["change"]) == ("out", "modified")
    assert (obj["before"]["target"], obj["after"]["target"]) == (str(outside), str(other))
    human = cli("check", home=home, timeout=10)
    assert human.changes() == [("modified", "out")]
    assert f"link target {outside} -> {other}" in human.out


# -- unreadable files and folders ------------------------------------------------------------


# Root without the capabilities that let it read and search everything: for it, as for any
# user, a file with mode 000 cannot be read, yet the repository stays reachable wherever it is.
WITHOUT_DAC = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


def _nobody_can_run(home: Path, cwd: Path) -> bool:
    """Whether user nobody can run this checkout's python (not when it lies under a private
    folder, as a fresh clone in a 0700 temporary folder does)."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import fim_tray.cli.main, orjson, platformdirs"],
            capture_output=True,
            text=True,
            env=cli_env(home),
            cwd=cwd,
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return probe.returncode == 0


def _without_dac_works(home: Path, cwd: Path) -> None:
    """The fallback must really take root's power to read everything away: prove it."""
    locked = cwd / "probe-locked"
    locked.write_text("x")
    locked.chmod(0)
    probe = subprocess.run(
        [*WITHOUT_DAC, sys.executable, "-c", f"open({str(locked)!r}).read()"],
        capture_output=True, text=True, env=cli_env(home), cwd=cwd, timeout=30, check=False,
    )  # fmt: skip
    locked.unlink()
    if probe.returncode == 0 or "PermissionError" not in probe.stderr:
        pytest.fail(
            f"cannot test unreadable files here: user nobody cannot run {sys.executable} from "
            f"{REPO}, and {' '.join(WITHOUT_DAC)} did not stop root from reading a mode-000 "
            f"file ({probe.stderr.strip()[-300:]})"
        )


@dataclass(frozen=True)
class Unprivileged:
    """A world-traversable tree, a home, and ``run`` for fim-tray as a user who is not root
    (nobody when the tests run as root, who reads everything; else the tests' own user)."""

    tmp: Path
    home: Path
    user: int | None
    wrap: tuple[str, ...] = ()

    def run(self, *args: str | Path) -> Run:
        return cli(*args, home=self.home, cwd=self.tmp, user=self.user, wrap=self.wrap, timeout=15)

    def tree(self, files: dict[str, str | bytes]) -> Path:
        watched = make_tree(self.tmp / "w", files)
        for root, dirs, names in os.walk(watched):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)  # noqa: S103 - nobody must read it
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)
        return watched


@pytest.fixture
def unprivileged() -> Iterator[Unprivileged]:
    with world_tmp() as tmp:
        home = tmp / "home"
        home.mkdir()
        user: int | None = None
        wrap: tuple[str, ...] = ()
        if IS_ROOT:
            os.chown(home, NOBODY, NOBODY)
            if _nobody_can_run(home, tmp):
                user = NOBODY
            else:  # the checkout is private to root: stay root, without reading everything
                os.chown(home, 0, 0)
                _without_dac_works(home, tmp)
                wrap = WITHOUT_DAC
        yield Unprivileged(tmp, home, user, wrap)


def test_unreadable_file_and_folder_are_reported_and_the_scan_goes_on(
    unprivileged: Unprivileged,
) -> None:
    run = unprivileged.run
    watched = unprivileged.tree(
        {
            "open.txt": "open",
            "secret.txt": "secret",
            "edited.txt": "edited",
            "locked/inner.txt": "inner",
            "locked/deeper/x.txt": "x",
        }
    )
    assert run("add", watched).returncode == 0
    (watched / "secret.txt").chmod(0)
    (watched / "locked").chmod(0)
    (watched / "edited.txt").write_text("edited again")
    (watched / "new.txt").write_text("new")

    check = run("check")
    assert check.returncode == 1, check.err
    assert sorted(check.changes()) == [
        ("added", "new.txt"),
        ("modified", "edited.txt"),
        ("unreadable", "locked"),
        ("unreadable", "secret.txt"),
    ]  # and nothing under locked/ is "removed"
    assert "secret.txt: cannot be read: permission denied" in check.err
    assert "locked: cannot list folder: permission denied" in check.err
    objs = {o["path"]: o for o in run("check", "--json").json_lines()}
    assert objs["secret.txt"]["after"]["error"] == "permission denied"
    assert objs["locked"]["after"]["error"] == "permission denied"

    assert run("accept").returncode == 0
    quiet = run("check")
    assert quiet.returncode == 0, quiet.out  # known unreadable: not a new change
    assert "secret.txt: cannot be read" in quiet.err  # but still said

    (watched / "secret.txt").chmod(0o644)
    (watched / "locked").chmod(0o755)
    back = run("check", "--json")
    assert back.returncode == 1
    objs = {o["path"]: o for o in back.json_lines()}
    assert set(objs) == {"locked", "secret.txt"}  # nothing under locked/ changed
    assert objs["locked"]["change"] == "metadata"
    assert objs["secret.txt"]["after"]["digest"] == hashlib.sha256(b"secret").hexdigest()
    assert objs["secret.txt"]["suspicious"] is False  # its content was unknown, not changed


def test_unreadable_when_added_is_said_and_recorded(unprivileged: Unprivileged) -> None:
    watched = unprivileged.tree({"secret.txt": "s", "ok.txt": "o", "shut/in.txt": "i"})
    (watched / "secret.txt").chmod(0)
    (watched / "shut").chmod(0)
    added = unprivileged.run("add", watched)
    assert added.returncode == 0
    assert "2 could not be read and are recorded without a hash" in added.err
    assert "shut: cannot list folder: permission denied" in added.err
    check = unprivileged.run("check")
    assert check.returncode == 0 and check.out == ""
    assert "secret.txt: cannot be read: permission denied" in check.err
    (watched / "shut").chmod(0o755)
    (watched / "ok.txt").write_text("changed")
    later = unprivileged.run("check")
    assert later.returncode == 1
    assert sorted(later.changes()) == [
        ("added", "shut/in.txt"),
        ("metadata", "shut"),
        ("modified", "ok.txt"),
    ]


# -- files and folders that vanish or change type mid-scan ----------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "w",
        {"a.txt": "a", "b.txt": "b", "c.txt": "c", "sub/d.txt": "d", "sub/e.txt": "e"},
    )


def scan_with(tree: Path, when: str, victim: str, action: Callable[[Path], None]) -> Scanner:
    """A Scanner that does ``action`` to ``victim`` just before it ``stat``s (when="stat"),
    opens (when="open") or lists (when="list") it."""

    class Sabotaged(Recorder):
        def record_entry(self, child: os.DirEntry[str], rel: str) -> bool:
            if when == "stat" and rel == victim:
                action(tree / rel)
            descend = super().record_entry(child, rel)
            if when == "list" and rel == victim:
                action(tree / rel)
            return descend

        def file_entry(self, path: str, rel: str, st: os.stat_result) -> Entry | None:
            if when == "open" and rel == victim:
                action(tree / rel)
            return super().file_entry(path, rel, st)

    return Scanner(str(tree), recorder=Sabotaged)


def _fifo_in_place(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _link_in_place(path: Path) -> None:
    path.unlink()
    os.symlink("/etc/passwd", path)


@pytest.mark.parametrize(
    ("when", "victim", "action", "message"),
    [
        ("stat", "b.txt", Path.unlink, "vanished during the scan"),
        ("open", "b.txt", Path.unlink, "vanished during the scan"),
        ("list", "sub", shutil.rmtree, "vanished during the scan"),
        ("open", "b.txt", _fifo_in_place, "was replaced during the scan"),
        ("open", "b.txt", _link_in_place, "was replaced during the scan"),
    ],
)
def test_vanished_or_replaced_mid_scan_is_reported_and_the_scan_goes_on(
    tree: Path, when: str, victim: str, action: Callable[[Path], None], message: str
) -> None:
    result = scan_with(tree, when, victim, action).run()
    assert [(p.path, p.message) for p in result.problems] == [(victim, message)]
    assert victim not in result.entries
    assert not any(path.startswith(victim + "/") for path in result.entries)
    expected = {"a.txt", "b.txt", "c.txt", "sub", "sub/d.txt", "sub/e.txt"} - {victim}
    if victim == "sub":
        expected -= {"sub/d.txt", "sub/e.txt"}
    assert set(result.entries) == expected
    assert all(result.entries[p].digest for p in expected if p.endswith(".txt"))


def test_vanished_during_a_check_is_a_problem_not_a_crash(
    tree: Path, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.watch(str(tree))
    (tree / "c.txt").write_text("changed")

    class Vanishing(Recorder):
        def file_entry(self, name: str, rel: str, st: os.stat_result) -> Entry | None:
            if rel == "sub/d.txt":
                os.unlink(tree / rel)
            return super().file_entry(name, rel, st)

    monkeypatch.setattr(Scanner, "__init__", partialmethod(Scanner.__init__, recorder=Vanishing))
    (tree / "sub" / "d.txt").write_text("touched, so it is re-hashed")
    (report,) = service.check(full=True)
    assert report.error is None
    assert [(p.path, p.message) for p in report.problems] == [
        ("sub/d.txt", "vanished during the scan")
    ]
    assert {(c.kind, c.path) for c in report.changes} == {
        ("modified", "c.txt"),
        ("removed", "sub/d.txt"),
    }


# -- file names that are not UTF-8, or hold newlines, markup and terminal escapes -----------

HOSTILE = [
    b"bad\xff\xfe",
    b"new\nline",
    b"carriage\rreturn",
    b"<b>x</b>",  # a folder "<b>x<" holding "b>"
    b"\x1b[31mred\x1b[0m",
    b"tab\tand\\backslash",
]


def test_hostile_names_round_trip_and_never_forge_output(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    raw_root = os.fsencode(root)
    for name in HOSTILE:
        path = raw_root + b"/" + name
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(b"before")
    os.symlink(b"target\xff", raw_root + b"/link")

    add(root, home)
    names = {os.fsencode(p) for p in load_entries(home, root)}
    assert names == {*HOSTILE, b"<b>x<", b"link"}
    assert load_entries(home, root)["link"].target == os.fsdecode(b"target\xff")
    clean = cli("check", home=home)
    assert clean.returncode == 0 and clean.out == "", clean.out

    for name in HOSTILE:
        with open(raw_root + b"/" + name, "ab") as out:
            out.write(b" and after")
    human = cli("check", home=home)
    assert human.returncode == 1
    assert b"\x1b" not in human.out_bytes + human.err_bytes
    assert b"\r" not in human.out_bytes + human.err_bytes
    shown = {path for _kind, path in human.changes()}  # one well-formed line per change
    assert shown == {
        "bad\\xff\\xfe",
        "new\\nline",
        "carriage\\rreturn",
        "<b>x</b>",
        "\\x1b[31mred\\x1b[0m",
        "tab\\tand\\\\backslash",
    }

    objs = cli("check", "--json", home=home).json_lines()  # strict UTF-8, one object a line
    found = set()
    for obj in objs:
        if "path_b64" in obj:
            assert "path" not in obj
            found.add(base64.b64decode(obj["path_b64"]))
        else:
            found.add(obj["path"].encode())
    assert found == set(HOSTILE)

    history = cli("history", "--json", home=home)
    assert history.returncode == 0
    assert len(history.json_lines()) == len(HOSTILE)
    shown_history = cli("history", home=home)
    assert len(shown_history.out.splitlines()) == len(HOSTILE)
    assert b"\x1b" not in shown_history.out_bytes

    assert cli("accept", home=home).returncode == 0
    assert cli("check", home=home).returncode == 0


def test_watched_folder_with_an_undecodable_name(tmp_path: Path, home: Path) -> None:
    folder = os.fsencode(tmp_path) + b"/dir\xff\n"
    os.mkdir(folder)
    with open(folder + b"/f.txt", "wb") as out:
        out.write(b"x")
    assert cli("add", folder, home=home).returncode == 0
    listing = cli("list", home=home)
    assert listing.out.splitlines()[0].startswith(f"{tmp_path}/dir\\xff\\n  ok  1 entry")
    (obj,) = cli("list", "--json", home=home).json_lines()
    assert obj["files"] == 1
    with open(folder + b"/f.txt", "ab") as out:
        out.write(b"y")
    (change,) = cli("check", "--json", home=home).json_lines()
    assert change["path"] == "f.txt"
    assert len(cli("history", "--json", home=home).json_lines()) == 1
    assert cli("accept", folder, home=home).returncode == 0
    assert cli("remove", folder, home=home).returncode == 0


# -- damaged baselines -----------------------------------------------------------------------


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _schema(data: bytes) -> bytes:
    assert b'"schema":1,' in data
    return data.replace(b'"schema":1,', b'"schema":99,', 1)


def _hide_change(home: Path, watched: Path, data: bytes) -> bytes:
    """What an intruder would do: edit the recorded digest to match the altered file."""
    doc = json.loads(data)
    for entry in doc["body"]["entries"]:
        if entry.get("path") == "todo.txt":
            entry["digest"] = hashlib.sha256((watched / "todo.txt").read_bytes()).hexdigest()
            entry["size"] = (watched / "todo.txt").stat().st_size
    return json.dumps(doc).encode()


Damage = Callable[[Path, Path, bytes], bytes]
DAMAGE: dict[str, tuple[Damage, str]] = {
    "truncated": (lambda home, watched, data: _truncate(data), "not valid JSON"),
    "empty": (lambda home, watched, data: b"", "not valid JSON"),
    "not json": (lambda home, watched, data: b"hello, I am not JSON\n", "not valid JSON"),
    "other schema": (lambda home, watched, data: _schema(data), "schema version 99"),
    "not a baseline": (lambda home, watched, data: b'{"entries": []}\n', "not a fim-tray"),
    "tampered": (_hide_change, "signature does not match"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_baseline_is_reported_and_never_overwritten(
    damage: str, tmp_path: Path, home: Path
) -> None:
    watched = make_tree(tmp_path / "w", {"todo.txt": "one\n", "other.txt": "x"})
    add(watched, home)
    (watched / "todo.txt").write_text("one, altered\n")
    target = baseline_path(home, watched)
    how, words = DAMAGE[damage]
    damaged = how(home, watched, target.read_bytes())
    target.write_bytes(damaged)
    backup = target.with_name(target.name + ".bak")
    backup_before = backup.read_bytes() if backup.exists() else None

    for args in (("check",), ("check", "--json"), ("check", watched), ("accept",)):
        run = cli(*args, home=home)
        one_error(run, words)
        assert target.read_bytes() == damaged, args
    accepted = cli("accept", watched, "--file", "todo.txt", home=home)
    one_error(accepted, words)
    readd = cli("add", watched, home=home)
    assert readd.returncode == 0 and "already watched" in readd.err
    (status,) = cli("list", "--json", home=home).json_lines()
    assert status["state"] == "error" and words in status["error"]
    assert target.read_bytes() == damaged
    assert (backup.read_bytes() if backup.exists() else None) == backup_before
    # The way out the message gives: remove and add again.
    assert cli("remove", watched, home=home).returncode == 0
    add(watched, home)
    assert cli("check", home=home).returncode == 0


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (os.urandom(32).hex() + "\n", "signature does not match"),
        ("this is not hex\n", "install key"),
        ("", "install key"),
        ("ab" * 40 + "\n", "install key"),
    ],
    ids=["other key", "not hex", "empty", "too long"],
)
def test_replaced_install_key_is_reported(key: str, words: str, tmp_path: Path, home: Path) -> None:
    watched = make_tree(tmp_path / "w", {"todo.txt": "one\n"})
    add(watched, home)
    target = baseline_path(home, watched)
    before = target.read_bytes()
    key_file = paths_of(home).key_file
    key_file.write_text(key)
    for args in (("check",), ("accept",)):
        one_error(cli(*args, home=home), words)
        assert target.read_bytes() == before
        assert key_file.read_text() == key
    # Never a new baseline signed with a bad key either; with another well-formed key, the
    # record of saved generations (signed with the key it replaced) no longer verifies.
    other = make_tree(tmp_path / "other", {"o.txt": "o"})
    well_formed = key.strip() and len(key.strip()) == 64
    one_error(cli("add", other, home=home), "saved generations" if well_formed else words)
    assert not baseline_path(home, other).exists()


def test_damaged_install_key_is_never_created_half_written(home: Path) -> None:
    """Two processes creating the key at once: none may read it while it is still empty."""
    key_file = paths_of(home).key_file
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from fim_tray.store.key import load_or_create
        key = load_or_create(Path({str(key_file)!r}))
        print(key.hex())
        """
    )
    for _round in range(5):
        with contextlib.suppress(FileNotFoundError):
            key_file.unlink()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=cli_env(home),
            )
            for _ in range(4)
        ]
        keys = {proc.communicate(timeout=30)[0].strip() for proc in procs}
        assert len(keys) == 1 and len(next(iter(keys))) == 64, keys


# -- corrupt settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"folders": [', "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"folders": 5}', "folders"),
        (b'{"folders": [{"path": 5}]}', "path"),
        (b'{"interval": "often"}', "interval"),
        (b'{"interval": 0.01}', "interval"),
        (b'{"excludes": "*.tmp"}', "excludes"),
        (b'{"algorithm": "md5"}', "md5"),
        (b'{"schema": 7}', "schema 7"),
    ],
    ids=lambda value: value.decode(errors="replace") if isinstance(value, bytes) else None,
)
def test_corrupt_config_is_a_clear_error_and_left_alone(
    content: bytes, words: str, tmp_path: Path, home: Path
) -> None:
    watched = make_tree(tmp_path / "w", {"f.txt": "f"})
    config = paths_of(home).config_file
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    for args in (
        ("check",),
        ("list",),
        ("accept",),
        ("add", watched),
        ("remove", watched),
        ("monitor", "--interval", "1"),
    ):
        one_error(cli(*args, home=home, timeout=15), str(config), words)
        assert config.read_bytes() == content
    assert not paths_of(home).baselines_dir.exists()


# -- watched folders that are gone, replaced, or unmounted -----------------------------------


def _many_files(folder: Path, count: int) -> None:
    for number in range(count):
        (folder / f"f{number:04d}.txt").write_text(str(number))


@pytest.mark.parametrize("how", ["deleted", "replaced by a file", "replaced by a symlink"])
def test_missing_watched_folder_is_one_error_not_a_flood(
    how: str, tmp_path: Path, home: Path
) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    _many_files(watched, 50)
    safe = make_tree(tmp_path / "safe", {"s.txt": "s"})
    add(watched, home)
    add(safe, home)
    before = baseline_path(home, watched).read_bytes()
    shutil.rmtree(watched)
    if how == "replaced by a file":
        watched.write_text("I am a file now")
    elif how == "replaced by a symlink":
        watched.symlink_to(safe)

    one_error(cli("check", watched, home=home), str(watched))
    one_error(cli("check", watched, "--json", home=home), str(watched))
    one_error(cli("accept", watched, home=home), str(watched))
    every = cli("check", home=home)  # the other folder is still checked
    assert every.returncode == 2 and every.out == ""
    assert f"{safe}: no changes" in every.err
    assert "removed" not in every.out + every.err
    assert baseline_path(home, watched).read_bytes() == before
    (status,) = [s for s in cli("list", "--json", home=home).json_lines() if s["state"] == "error"]
    assert status["folder"] == str(watched)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[None]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"mount failed as root: {done.stderr}"
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@pytest.mark.skipif(not IS_ROOT, reason="mounting a disk needs root")
def test_unmounted_disk_is_one_error_not_a_flood(tmp_path: Path, home: Path) -> None:
    disk = tmp_path / "disk"
    with tmpfs(disk, "4m"):
        _many_files(disk, 100)
        add(disk, home)
        assert cli("check", home=home).returncode == 0
        subprocess.run(["umount", str(disk)], check=True)
        (disk / "left-on-the-parent-disk.txt").write_text("x")
        one_error(cli("check", home=home), str(disk), "different disk")
        one_error(cli("accept", home=home), str(disk), "different disk")
        assert len(load_entries(home, disk)) == 100


# -- kill -9 in the middle of a write --------------------------------------------------------

SAVER = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from fim_tray.store import baseline
from fim_tray.models import Entry

path, key_file = Path(sys.argv[1]), Path(sys.argv[2])
from fim_tray.store.key import load_or_create
key = load_or_create(key_file)
now = datetime.now(timezone.utc)

def version(tag):
    entries = {
        f"dir{n // 100}/file-{n:05d}-{tag}.txt": Entry("file", n, n, n, n, 0o644, 0, 0, tag * 64)
        for n in range(6000)
    }
    return baseline.Baseline("/watched", "sha256", entries, now, now, root_dev=1)

versions = [version("a"), version("b")]
print("ready", flush=True)
while True:
    for record in versions:
        baseline.save(path, record, key)
"""


def test_kill_9_during_baseline_writes_leaves_old_or_new(tmp_path: Path, home: Path) -> None:
    target = paths_of(home).baseline_file("0123456789abcdef")
    key_file = paths_of(home).key_file
    key = load_or_create(key_file)
    rng = random.Random(1234)
    for _round in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(target), str(key_file)],
            stdout=subprocess.PIPE,
            env=cli_env(home),
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        for path in (target, target.with_name(target.name + ".bak")):
            if not path.exists():
                continue
            loaded = baseline_store.load(path, key)
            tags = {entry.digest for entry in loaded.entries.values()}
            assert tags in ({"a" * 64}, {"b" * 64}), path
            assert len(loaded.entries) == 6000
    assert target.exists()
    # Leftover temporary files never get in the way of the next save or load.
    record = baseline_store.load(target, key)
    record = record._replace(entries={})
    baseline_store.save(target, record, key)
    assert baseline_store.load(target, key).entries == {}


def test_kill_9_during_cli_accept_leaves_a_usable_baseline(tmp_path: Path, home: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    _many_files(watched, 1500)
    add(watched, home)
    rng = random.Random(99)
    for round_ in range(4):
        for number in range(0, 1500, 7):
            (watched / f"f{number:04d}.txt").write_text(f"round {round_}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "fim_tray", "accept"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=cli_env(home),
        )
        time.sleep(rng.uniform(0.1, 0.5))
        proc.kill()
        proc.wait(timeout=10)
        entries = load_entries(home, watched)  # old or new, never half
        assert len(entries) == 1500
    run = cli("accept", home=home)
    assert run.returncode == 0, run.err
    assert cli("check", home=home).returncode == 0


# -- a full disk -----------------------------------------------------------------------------


def _ignore_sigxfsz_and_limit(limit: int) -> Callable[[], None]:
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return setup


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("tmpfs", marks=pytest.mark.skipif(not IS_ROOT, reason="mount needs root")),
        "rlimit",
    ],
)
def test_full_disk_during_accept_keeps_the_old_baseline(
    how: str, tmp_path: Path, home: Path
) -> None:
    watched = make_tree(tmp_path / "w", {"small.txt": "small"})
    data = home / "data"
    with tmpfs(data, "256k") if how == "tmpfs" else contextlib.nullcontext():
        add(watched, home)
        target = baseline_path(home, watched)
        before = target.read_bytes()
        _many_files(watched, 2500)  # a baseline of some 600 kB: more than fits

        if how == "tmpfs":
            run = cli("accept", home=home)
        else:
            done = subprocess.run(
                [sys.executable, "-m", "fim_tray", "accept"],
                capture_output=True,
                env=cli_env(home),
                preexec_fn=_ignore_sigxfsz_and_limit(64 * 1024),
                timeout=30,
                check=False,
            )
            run = Run(done.returncode, done.stdout, done.stderr)
            assert b"Traceback" not in run.err_bytes
        one_error(run, "disk is full")
        assert target.read_bytes() == before
        assert set(load_entries(home, watched)) == {"small.txt"}  # still verifies
        assert not list(target.parent.glob("*.tmp"))  # the half-written file was removed

        if how == "tmpfs":  # a check that cannot save its history is an error, not a crash
            check = cli("check", home=home)
            assert check.returncode in (1, 2), check.err
            events = data / "events.jsonl"
            for line in events.read_bytes().splitlines() if events.exists() else []:
                json.loads(line)  # whole lines only, even on a full disk
            assert target.read_bytes() == before


# -- two processes at once -------------------------------------------------------------------


def test_parallel_accept_and_check_never_corrupt(tmp_path: Path, home: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    _many_files(watched, 300)
    add(watched, home)
    commands = ("accept", "check", "accept", "check", "check", "accept")
    for round_ in range(3):
        for number in range(round_, 300, 5):
            (watched / f"f{number:04d}.txt").write_text(f"round {round_}")
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "fim_tray", command],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=cli_env(home),
            )
            for command in commands
        ]
        for command, proc in zip(commands, procs, strict=True):
            _out, err = proc.communicate(timeout=60)
            assert b"Traceback" not in err and b"unexpected" not in err, err
            assert proc.returncode in ((0,) if command == "accept" else (0, 1)), err
        assert len(load_entries(home, watched)) == 300
        events = home / "data" / "events.jsonl"
        for line in events.read_bytes().splitlines() if events.exists() else []:
            json.loads(line)
    assert cli("accept", home=home).returncode == 0
    assert cli("check", home=home).returncode == 0


HOLDER = """
import sys, time
from pathlib import Path
from fim_tray.store.lock import data_lock
with data_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(home: Path, seconds: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(paths_of(home).lock_file), str(seconds)],
        stdout=subprocess.PIPE,
        env=cli_env(home),
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    return proc


def test_a_held_lock_makes_writes_wait_then_fail_busy(tmp_path: Path, home: Path) -> None:
    watched = make_tree(tmp_path / "w", {"f.txt": "f"})
    add(watched, home)
    (watched / "f.txt").write_text("changed")
    before = baseline_path(home, watched).read_bytes()

    holder = _hold_lock(home, 30)
    try:
        started = time.monotonic()
        run = cli("accept", home=home, env={"FIM_TRAY_LOCK_TIMEOUT": "0.5"})
        took = time.monotonic() - started
        one_error(run, "busy", f"process {holder.pid}")
        assert 0.5 <= took < 10
        assert baseline_path(home, watched).read_bytes() == before
        check = cli("check", home=home, env={"FIM_TRAY_LOCK_TIMEOUT": "0.5"})
        assert check.returncode == 2  # not recorded: an error, but the change is still shown
        assert "f.txt" in check.out and "busy" in check.err
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()

    # With a longer timeout the write waits for the lock, then goes through.
    holder = _hold_lock(home, 1.0)
    try:
        started = time.monotonic()
        run = cli("accept", home=home, env={"FIM_TRAY_LOCK_TIMEOUT": "20"})
        assert run.returncode == 0, run.err
        assert time.monotonic() - started >= 0.5
    finally:
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert cli("check", home=home).returncode == 0


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_bad_lock_timeout_setting_is_a_clear_error(value: str, home: Path) -> None:
    one_error(cli("list", home=home, env={"FIM_TRAY_LOCK_TIMEOUT": value}), "FIM_TRAY_LOCK_TIMEOUT")


def test_scanner_refuses_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FolderMissingError, match="cannot be opened"):
        Scanner(str(tmp_path / "missing")).run()


def test_a_user_who_is_not_root_refuses_state_another_user_planted(
    unprivileged: Unprivileged,
) -> None:
    if not IS_ROOT:
        pytest.skip("planting a file of another user needs root (these tests run as one user)")
    run = unprivileged.run
    watched = unprivileged.tree({"a.txt": "a"})
    assert run("add", watched).returncode == 0
    baselines = unprivileged.home / "data" / "baselines"
    [planted] = [p for p in baselines.glob("*.json") if ".pending." not in p.name]
    # Someone else's for the user running fim-tray: root's when that is nobody; nobody's when
    # it is root stripped of its power to read everything.
    other, name = (0, "root (uid 0)") if unprivileged.user == NOBODY else (NOBODY, "uid 65534")
    os.chown(planted, other, other)
    planted.chmod(0o644)  # and readable, as a planted file would be
    check = run("check")
    assert check.returncode == 2, check.err
    assert str(planted) in check.err and name in check.err
    assert "not to the user running fim-tray" in check.err
