"""The fim-tray command, end to end, against hostile state: links and FIFOs planted in place of its
own files, baselines copied between folders or nested 60,000 deep, a history line nested 100,000
deep, saved copies that lie about their size or are links, and two changes whose fields would join
to the same text."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest

from fim_tray.cli.output import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from fim_tray.store.cache import cache_path
from fim_tray.store.copies import MAGIC, ZLIB
from fim_tray.store.paths import Paths, folder_id
from tests.helpers import Run, cli, is_regular, make_tree, plant_fifo, plant_link

pytestmark = pytest.mark.skipif(os.name == "nt", reason="FIFOs and O_NOFOLLOW are POSIX")

TIMEOUT = 20  # seconds: a command that waits on a FIFO fails the test instead of hanging it
VICTIM_CONTENT = b"a file of someone else's, outside the data folder\n"


class Victim(NamedTuple):
    """A file outside the data folder that a planted link points at."""

    path: Path
    content: bytes
    before: os.stat_result

    def assert_untouched(self) -> None:
        """Same bytes, same inode, not written, and no hard link made to it."""
        assert self.path.read_bytes() == self.content
        now = self.path.stat()
        assert (now.st_ino, now.st_size, now.st_mtime_ns, now.st_nlink) == (
            self.before.st_ino, self.before.st_size, self.before.st_mtime_ns, 1,
        )  # fmt: skip


def make_victim(path: Path, content: bytes = VICTIM_CONTENT) -> Victim:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return Victim(path, content, path.stat())


class State(NamedTuple):
    """Two watched folders, A and B, and where fim-tray keeps its state for them."""

    home: Path
    paths: Paths
    a: Path
    b: Path
    outside: Path

    def baseline(self, root: Path) -> Path:
        return self.paths.baseline_file(folder_id(str(root)))

    def pending(self, root: Path) -> Path:
        return self.paths.pending_file(folder_id(str(root)))

    def run(
        self, *args: str | os.PathLike[str], env: Mapping[str, str | None] | None = None
    ) -> Run:
        """``fim-tray ARGS``, failed (not hung for ever) when it runs past TIMEOUT."""
        return cli(*args, home=self.home, timeout=TIMEOUT, env=env)


@pytest.fixture
def state(tmp_path: Path, home: Path) -> State:
    a = make_tree(tmp_path / "A", {"a.txt": "alpha\n", "sub/x.txt": "x\n"}).resolve()
    b = make_tree(tmp_path / "B", {"b.txt": "beta\n"}).resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    found = State(home, Paths(data_dir=home / "data", config_dir=home / "config"), a, b, outside)
    for root in (a, b):
        added = found.run("add", root)
        assert added.returncode == EXIT_OK, added.err
    assert found.run("check").returncode == EXIT_OK  # every pending file written
    return found





def is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def change_lines(run: Run) -> list[str]:
    """The path of every change line on stdout (any other line fails)."""
    return [path for _kind, path in run.changes()]


# -- links in place of each state file ---------------------------------------------------------

# Where a link is planted: fim-tray's own file, for the folder a command works on (A, or the
# folder C that `add` is about to watch, whose file names are predictable).
WHERE: dict[str, Callable[[State, Path], Path]] = {
    "lock": lambda s, _root: s.paths.lock_file,
    "history": lambda s, _root: s.paths.events_file,
    "pending": lambda s, root: s.pending(root),
    "baseline": lambda s, root: s.baseline(root),
    "cache": lambda s, root: cache_path(s.baseline(root)),
    "config": lambda s, _root: s.paths.config_file,
}
REFUSED, REPLACED, UNUSED = "refused", "replaced", "unused"
# (file, command) -> (exit code, what becomes of the link)
OUTCOME: dict[tuple[str, str], tuple[int, str]] = {
    ("lock", "check"): (EXIT_ERROR, REFUSED),
    ("lock", "accept"): (EXIT_ERROR, REFUSED),
    ("lock", "add"): (EXIT_ERROR, REFUSED),
    ("history", "check"): (EXIT_ERROR, REFUSED),  # the change stays pending, said again next time
    ("history", "accept"): (EXIT_ERROR, REFUSED),  # no accept the history cannot record
    ("history", "add"): (EXIT_OK, UNUSED),
    ("pending", "check"): (EXIT_CHANGES, REPLACED),
    ("pending", "accept"): (EXIT_OK, REPLACED),
    ("pending", "add"): (EXIT_OK, REPLACED),
    ("baseline", "check"): (EXIT_ERROR, REFUSED),
    ("baseline", "accept"): (EXIT_ERROR, REFUSED),
    ("baseline", "add"): (EXIT_OK, REPLACED),
    ("cache", "check"): (EXIT_CHANGES, REPLACED),
    ("cache", "accept"): (EXIT_OK, REPLACED),
    ("cache", "add"): (EXIT_OK, REPLACED),
    ("config", "check"): (EXIT_ERROR, REFUSED),
    ("config", "accept"): (EXIT_ERROR, REFUSED),
    ("config", "add"): (EXIT_ERROR, REFUSED),
}


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-victim", "dangling"])
@pytest.mark.parametrize(("which", "command"), OUTCOME, ids=[f"{w}-{c}" for w, c in OUTCOME])
def test_link_in_place_of_a_state_file(
    state: State, tmp_path: Path, which: str, command: str, dangling: bool
) -> None:
    victim = make_victim(state.outside / "victim.txt")
    target = state.outside / "made-by-fim-tray" if dangling else victim.path
    if command == "add":
        root = make_tree(tmp_path / "C", {"c.txt": "c\n"}).resolve()
        argv: tuple[str | Path, ...] = ("add", root)
    else:
        root = state.a
        (root / "a.txt").write_text("alpha, changed\n")
        argv = (command,)
    link = WHERE[which](state, root)
    plant_link(link, target)

    run = state.run(*argv)

    code, outcome = OUTCOME[which, command]
    assert run.returncode == code, run.err
    victim.assert_untouched()
    assert not os.path.lexists(state.outside / "made-by-fim-tray")
    if outcome == REFUSED:
        assert f"{link}: a link is in its place" in run.err or (
            f"{link} cannot be read: a link is in its place" in run.err
        ), run.err
        assert os.readlink(link) == str(target)  # left as it is, for the person to inspect
    elif outcome == REPLACED:
        assert is_regular(link)
    else:
        assert os.readlink(link) == str(target)
    if (which, command) == ("pending", "check"):
        assert f"the pending list {link} cannot be read (a link is in its place" in run.err
    if command == "check":
        assert run.returncode == EXIT_ERROR or change_lines(run) == [f"{state.a}/a.txt"]
        if which in ("lock", "history"):  # found, not recorded: an error, and still shown
            assert change_lines(run) == [f"{state.a}/a.txt"]
        if which not in ("lock", "config"):  # B, unharmed, is still checked
            assert f"{state.b}: no changes in 1 entry" in run.err
    if outcome == REPLACED:  # and the state it holds now works
        after = state.run("check", root)
        assert after.returncode == (EXIT_CHANGES if command == "check" else EXIT_OK), after.err


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-victim", "dangling"])
def test_link_in_place_of_the_tray_lock(state: State, dangling: bool) -> None:
    victim = make_victim(state.outside / "victim.txt")
    target = state.outside / "made-by-fim-tray" if dangling else victim.path
    lock = state.paths.instance_lock
    plant_link(lock, target)
    tray = state.run("tray", env={"DISPLAY": ":99", "WAYLAND_DISPLAY": None})
    assert tray.returncode == EXIT_ERROR, tray.err
    assert f"Could not open the lock file {lock}: a link is in its place" in tray.err
    (state.a / "a.txt").write_text("alpha, changed\n")
    assert state.run("check").returncode == EXIT_CHANGES  # the tray's lock is the tray's only
    assert state.run("accept").returncode == EXIT_OK
    assert os.readlink(lock) == str(target)
    victim.assert_untouched()
    assert not os.path.lexists(state.outside / "made-by-fim-tray")


def test_history_through_a_link_never_shows_the_target(state: State) -> None:
    victim = make_victim(
        state.outside / "other.jsonl",
        b'{"id":"1","time":"2026-01-01T00:00:00+00:00","folder":"/secret","path":"victim",'
        b'"change":"added"}\n',
    )
    plant_link(state.paths.events_file, victim.path)
    run = state.run("history")
    assert run.returncode == EXIT_ERROR  # a history that cannot be read is an error
    assert "secret" not in run.out and run.out == ""
    assert f"cannot read history {state.paths.events_file}" in run.err
    assert "a link is in its place" in run.err
    victim.assert_untouched()


# -- FIFOs in place of each state file -----------------------------------------------------------

FIFO_WHERE: dict[str, Callable[[State], Path]] = {
    "history": lambda s: s.paths.events_file,
    "pending": lambda s: s.pending(s.a),
    "baseline": lambda s: s.baseline(s.a),
    "cache": lambda s: cache_path(s.baseline(s.a)),
    "config": lambda s: s.paths.config_file,
    "lock": lambda s: s.paths.lock_file,
}


@pytest.mark.parametrize("which", FIFO_WHERE.keys())
def test_fifo_in_place_of_a_state_file_never_hangs_check(state: State, which: str) -> None:
    fifo = FIFO_WHERE[which](state)
    plant_fifo(fifo)
    (state.a / "a.txt").write_text("alpha, changed\n")
    (state.b / "b.txt").write_text("beta, changed\n")

    run = state.run("check")  # no writer ever opens the FIFO: a blocking open never returns

    if which in ("pending", "cache"):  # not to be trusted anyway: replaced by a real file
        assert run.returncode == EXIT_CHANGES, run.err
        assert change_lines(run) == [f"{state.a}/a.txt", f"{state.b}/b.txt"]
        assert is_regular(fifo)
        if which == "pending":
            assert f"the pending list {fifo} cannot be read (a FIFO is in its place" in run.err
        return
    assert run.returncode == EXIT_ERROR, run.err
    assert str(fifo) in run.err and "a FIFO is in its place" in run.err
    assert is_fifo(fifo)  # left for the person to inspect
    if which == "baseline":  # A's error only: B's change is still reported
        assert change_lines(run) == [f"{state.b}/b.txt"]
        assert f"{state.b}: 1 change (1 modified)" in run.err


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.1"])
def test_fifo_in_place_of_the_history_never_hangs_history(state: State, name: str) -> None:
    (state.a / "a.txt").write_text("alpha, changed\n")
    assert state.run("check").returncode == EXIT_CHANGES  # one line in events.jsonl
    fifo = state.paths.events_file.with_name(name)
    plant_fifo(fifo)
    run = state.run("history")
    assert run.returncode == EXIT_ERROR, run.err  # what could be read is shown, then exit 2
    assert f"cannot read history {fifo}" in run.err and "a FIFO is in its place" in run.err
    if name == "events.jsonl.1":  # the rotated file is skipped, the current one still shown
        assert len(run.out.splitlines()) == 1 and run.out.rstrip().endswith(f"{state.a}/a.txt")
    else:
        assert run.out == ""


def test_fifo_in_place_of_a_baseline_never_hangs_accept(state: State) -> None:
    fifo = state.baseline(state.a)
    plant_fifo(fifo)
    (state.a / "a.txt").write_text("alpha, changed\n")
    run = state.run("accept", state.a)
    assert run.returncode == EXIT_ERROR
    assert f"The baseline {fifo} cannot be read: a FIFO is in its place" in run.err
    assert is_fifo(fifo)


# -- two changes whose fields join alike ---------------------------------------------------------

LINK, FILE = "a", "a|symlink|None|T"


@pytest.mark.parametrize("accepted", [LINK, FILE])
def test_colliding_changes_are_reported_and_accepted_apart(state: State, accepted: str) -> None:
    content = b"payload\n"
    digest = hashlib.sha256(content).hexdigest()
    (state.a / FILE).write_bytes(content)
    (state.a / LINK).symlink_to(f"T|file|{digest}|None")
    naive = {
        LINK: "|".join(["added", LINK, "symlink", "None", f"T|file|{digest}|None"]),
        FILE: "|".join(["added", FILE, "file", digest, "None"]),
    }
    assert naive[LINK] == naive[FILE]

    run = state.run("check", "--json", state.a)
    assert run.returncode == EXIT_CHANGES
    objs = {o["path"]: o for o in run.json_lines()}
    assert set(objs) == {LINK, FILE}
    assert objs[LINK]["after"]["target"] == f"T|file|{digest}|None"
    assert objs[FILE]["after"]["digest"] == digest
    assert objs[LINK]["signature"] != objs[FILE]["signature"]
    assert objs[LINK]["new"] and objs[FILE]["new"]

    done = state.run("accept", state.a, "--file", state.a / accepted)
    assert done.returncode == EXIT_OK, done.err
    said = [line for line in done.err.splitlines() if line.startswith("fim-tray: accepted")]
    assert said == [f"fim-tray: accepted added {accepted}"]
    (other,) = {LINK, FILE} - {accepted}

    again = state.run("check", "--json", state.a)
    assert again.returncode == EXIT_CHANGES
    (left,) = again.json_lines()
    assert left["path"] == other
    assert left["signature"] == objs[other]["signature"]
    assert left["new"] is False  # still pending from before, not announced again
    history = state.run("history", "--json").json_lines()
    found = sorted(e["path"] for e in history if e["change"] == "added")
    assert found == sorted([LINK, FILE])  # each logged once
    assert [(e["path"], e["accepted"]) for e in history if e["change"] == "accepted"] == [
        (accepted, "added")
    ]


# -- saved copies that lie ------------------------------------------------------------------------


class Kept(NamedTuple):
    """A watched folder with saved copies, whose one file changed since its baseline."""

    root: Path
    file: Path
    copy: Path
    old: bytes
    new: bytes


@pytest.fixture
def kept(tmp_path: Path, state: State) -> Kept:
    root = make_tree(tmp_path / "K", {"notes.txt": "hello\nworld\n"}).resolve()
    added = state.run("add", root, "--keep-copies")
    assert added.returncode == EXIT_OK, added.err
    old = (root / "notes.txt").read_bytes()
    digest = hashlib.sha256(old).hexdigest()
    copy = state.paths.copies_dir / digest[:2] / digest
    assert is_regular(copy)
    new = b"hello\nthere\n"
    (root / "notes.txt").write_bytes(new)
    return Kept(root, root / "notes.txt", copy, old, new)


def lying_copy(claimed: int, megabytes: int) -> bytes:
    """A copy whose header claims ``claimed`` bytes over a small body: ``megabytes`` MB of
    zeros, compressed."""
    packer = zlib.compressobj(9)
    chunks = (packer.compress(bytes(1 << 20)) for _ in range(megabytes))
    body = b"".join([*chunks, packer.flush()])
    name = b"sha256"
    return MAGIC + bytes([ZLIB, len(name)]) + name + claimed.to_bytes(8, "big") + body


def set_setting(state: State, key: str, value: object) -> None:
    obj = json.loads(state.paths.config_file.read_text())
    obj[key] = value
    state.paths.config_file.write_text(json.dumps(obj))


@pytest.mark.parametrize(
    ("claimed", "megabytes", "max_bytes"),
    [(1 << 40, 32, None), (50_000, 1, 10_000)],
    ids=["1TiB-default-limit", "over-copy_max_file_bytes"],
)
def test_copy_claiming_more_than_the_limit_is_damaged(
    state: State, kept: Kept, claimed: int, megabytes: int, max_bytes: int | None
) -> None:
    if max_bytes is not None:
        set_setting(state, "copy_max_file_bytes", max_bytes)
    blob = lying_copy(claimed, megabytes)
    assert len(blob) < min(100_000, max_bytes or 100_000)  # the header, not the size, tells
    kept.copy.write_bytes(blob)
    diff = state.run("diff", kept.root, "notes.txt")
    assert diff.returncode == EXIT_ERROR
    assert diff.out == ""
    assert "is damaged" in diff.err
    assert not os.path.lexists(kept.copy)  # removed, so a fresh copy is stored next time

    kept.copy.write_bytes(blob)
    restore = state.run("restore", kept.root, "notes.txt")
    assert restore.returncode == EXIT_ERROR
    assert "is damaged" in restore.err and "was left as it is" in restore.err
    assert kept.file.read_bytes() == kept.new


def test_copy_replaced_by_a_link_is_refused(state: State, kept: Kept) -> None:
    # The victim even is the copy itself, moved out: read through the link, it would be used.
    victim = make_victim(state.outside / "copy", kept.copy.read_bytes())
    plant_link(kept.copy, victim.path)
    diff = state.run("diff", kept.root, "notes.txt")
    assert diff.returncode == EXIT_ERROR
    assert diff.out == ""
    restore = state.run("restore", kept.root, "notes.txt")
    assert restore.returncode == EXIT_ERROR
    assert kept.file.read_bytes() == kept.new  # nothing restored from the link's target
    victim.assert_untouched()
    assert os.readlink(kept.copy) == str(victim.path)


# -- baselines of another folder, or hostile -----------------------------------------------------

SIGNED_FOR_ANOTHER = "is signed for another folder"


@pytest.mark.parametrize(
    "suffixes",
    [(".json",), (".json", ".json.cache"), (".json", ".json.cache", ".pending.json")],
    ids=["baseline", "baseline+cache", "baseline+cache+pending"],
)
def test_state_of_another_folder_copied_over(state: State, suffixes: tuple[str, ...]) -> None:
    (state.b / "b.txt").write_text("beta, changed to hide\n")
    a_id, b_id = folder_id(str(state.a)), folder_id(str(state.b))
    for suffix in suffixes:
        source = state.paths.baselines_dir / f"{a_id}{suffix}"
        (state.paths.baselines_dir / f"{b_id}{suffix}").write_bytes(source.read_bytes())

    run = state.run("check")
    assert run.returncode == EXIT_ERROR, run.err
    assert run.out == ""
    assert (
        f"{state.b}: The baseline {state.baseline(state.b)} {SIGNED_FOR_ANOTHER} ({state.a}), "
        f"not {state.b}"
    ) in run.err
    assert f"{state.a}: no changes" in run.err
    assert f"{state.b}: no changes" not in run.err

    alone = state.run("check", state.b)
    assert alone.returncode == EXIT_ERROR
    assert SIGNED_FOR_ANOTHER in alone.err and "no changes" not in alone.err
    listed = state.run("list")
    assert SIGNED_FOR_ANOTHER in listed.out


def with_hmac(good: bytes, mac: str) -> bytes:
    start = good.index(b'"hmac":"') + len(b'"hmac":"')
    return good[:start] + mac.encode() + good[good.index(b'"', start) :]


HOSTILE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "60,000 [": (lambda _good: b"[" * 60_000, "is damaged: it is not valid JSON"),
    "100,000 [": (lambda _good: b"[" * 100_000, "is damaged: it is not valid JSON"),
    "hmac of 64 non-ASCII bytes": (
        lambda good: with_hmac(good, "é" * 32),
        "was changed outside fim-tray: its signature does not match",
    ),
    "hmac of one non-ASCII letter": (
        lambda good: with_hmac(good, "é"),
        "was changed outside fim-tray: its signature does not match",
    ),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
@pytest.mark.parametrize(("make", "said"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_baseline_is_its_folders_error_only(
    state: State, make: Callable[[bytes], bytes], said: str, as_json: bool
) -> None:
    path = state.baseline(state.a)
    hostile = make(path.read_bytes())
    path.write_bytes(hostile)
    (state.b / "b.txt").write_text("beta, a real change\n")

    run = state.run("check", *(["--json"] if as_json else []))

    assert run.returncode == EXIT_ERROR  # an error outranks changes
    assert f"{state.a}: The baseline {path} {said}" in run.err
    if as_json:
        assert [(o["folder"], o["path"]) for o in run.json_lines()] == [(str(state.b), "b.txt")]
    else:
        assert change_lines(run) == [f"{state.b}/b.txt"]
        assert f"{state.b}: 1 change (1 modified)" in run.err
    assert path.read_bytes() == hostile  # left as it is, for the person to inspect


# -- a history line nested too deep ---------------------------------------------------------------


@pytest.mark.parametrize("depth", [60_000, 100_000])
def test_history_line_nested_too_deep_is_skipped(state: State, depth: int) -> None:
    (state.a / "a.txt").write_text("alpha, changed\n")
    assert state.run("check").returncode == EXIT_CHANGES
    with state.paths.events_file.open("ab") as out:
        out.write(b"[" * depth + b"\n")
        out.write(b'{"id":' * (depth // 6) + b"\n")
    (state.b / "b.txt").write_text("beta, changed\n")
    assert state.run("check").returncode == EXIT_CHANGES

    human = state.run("history")
    assert human.returncode == EXIT_ERROR, human.err  # lines not written by fim-tray: not intact
    assert [line.split()[-1] for line in human.out.splitlines()] == [
        f"{state.a}/a.txt",
        f"{state.b}/b.txt",
    ]
    assert "skipping damaged line 2" in human.err and "skipping damaged line 3" in human.err
    as_json = state.run("history", "--json")
    assert as_json.returncode == EXIT_ERROR
    assert [o["path"] for o in as_json.json_lines()] == ["a.txt", "b.txt"]
    assert state.run("history", "--limit", "1").out.rstrip().endswith(f"{state.b}/b.txt")
