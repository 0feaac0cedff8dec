"""The fim-tray command against links one step further: hard links to a victim in place of the
files it appends to or locks, symbolic links in place of its folders (data, baselines, copies,
icons, settings), a socket for a lock, copies that outgrow a lowered limit or lie about their
size, a restore line with a hostile signature, and a watched folder that is itself a secret."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fim_tray.store.paths import Paths
from tests.helpers import Run, cli, make_tree

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX links")
VICTIM = b"someone else's file\n"


def _paths(home: Path) -> Paths:
    return Paths(data_dir=home / "data", config_dir=home / "config")


def _run(home: Path, *args: str | Path) -> Run:
    return cli(*args, home=home, timeout=20)


@pytest.fixture
def watched(tmp_path: Path, home: Path) -> Path:
    docs = make_tree(tmp_path / "docs", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    assert _run(home, "add", docs, "--keep-copies").returncode == 0
    return docs


@pytest.mark.parametrize("name", ["lock", "events.jsonl"])
def test_a_hard_link_to_a_victim_is_never_written(
    tmp_path: Path, home: Path, watched: Path, name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    target = home / "data" / name
    target.unlink(missing_ok=True)
    os.link(victim, target)
    (watched / "a.txt").write_text("changed\n")
    run = _run(home, "check")
    assert run.returncode == 2 and "hard links" in run.err and name in run.err, run.err
    assert victim.read_bytes() == VICTIM


@pytest.mark.parametrize(
    ("folder", "command"),
    [
        ("data/baselines", ("add", "other")),
        ("data/snapshots", ("add", "other", "--keep-copies")),
        ("data", ("check",)),
        ("config", ("add", "other")),
    ],
)
def test_a_state_folder_that_is_a_link_is_refused_and_nothing_lands_where_it_points(
    tmp_path: Path, home: Path, watched: Path, folder: str, command: tuple[str, ...]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "config.json").write_bytes(VICTIM)
    real = home / folder
    real.rename(tmp_path / "moved-away")
    real.symlink_to(elsewhere)
    make_tree(tmp_path / "other", {"o.txt": "o\n"})
    args = [tmp_path / "other" if a == "other" else a for a in command]
    run = _run(home, *args)
    assert run.returncode == 2 and "a link is in its place" in run.err, run.err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["config.json"]
    assert (elsewhere / "config.json").read_bytes() == VICTIM


def test_prune_never_deletes_through_a_linked_copy_folder(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kept = elsewhere / ("ab" * 32)
    kept.write_bytes(VICTIM)
    (elsewhere / ".draft.tmp").write_bytes(VICTIM)
    os.utime(elsewhere / ".draft.tmp", (0, 0))  # old enough to look like a killed write
    (home / "data" / "snapshots" / "zz").symlink_to(elsewhere)
    assert _run(home, "prune").returncode == 0
    assert kept.read_bytes() == VICTIM and (elsewhere / ".draft.tmp").exists()


def test_a_socket_in_place_of_the_lock_is_named_as_such(home: Path, watched: Path) -> None:
    lock = home / "data" / "lock"
    lock.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.bind(str(lock))
        except OSError as exc:  # a path too long for a socket: no socket to plant here
            pytest.skip(f"cannot bind a socket at {lock}: {exc}")
        run = _run(home, "check")
    assert run.returncode == 2 and "a socket is in its place" in run.err, run.err


def _copy_of(home: Path) -> Path:
    [copy] = [p for p in (home / "data" / "snapshots").rglob("*") if p.is_file()]
    return copy


def test_a_copy_bigger_than_a_lowered_limit_is_kept_not_called_damaged(
    tmp_path: Path, home: Path
) -> None:
    docs = make_tree(tmp_path / "docs", {"big.txt": "line\n" * 4000})
    assert _run(home, "add", docs, "--keep-copies").returncode == 0
    copy = _copy_of(home)
    config = home / "config" / "config.json"
    original = config.read_text()
    config.write_text(original.replace('"schema"', '"copy_max_file_bytes": 1000, "schema"', 1))
    (docs / "big.txt").write_text("other\n")
    run = _run(home, "diff", docs, "big.txt")
    assert "damaged" not in run.out + run.err and copy.exists(), run.err
    config.write_text(original)
    run = _run(home, "diff", docs, "big.txt")
    assert run.returncode in (0, 1) and "-line" in run.out, run.err


def test_a_copy_that_claims_another_size_than_the_baseline_is_damaged(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    copies = sorted(p for p in (home / "data" / "snapshots").rglob("*") if p.is_file())
    for copy in copies:  # claim one byte more than the content (the header's last 8 bytes)
        blob = bytearray(copy.read_bytes())
        at = blob.index(b"sha256") + len(b"sha256")
        size = int.from_bytes(blob[at : at + 8], "big")
        blob[at : at + 8] = (size + 1).to_bytes(8, "big")
        copy.write_bytes(bytes(blob))
    (watched / "a.txt").write_text("new\n")
    run = _run(home, "diff", watched, "a.txt")
    assert "damaged" in run.out + run.err, run.out + run.err


def test_a_restore_line_with_a_non_ascii_signature_is_refused_plainly(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    (watched / "a.txt").write_text("changed\n")
    assert _run(home, "restore", watched, "a.txt").returncode == 0
    events = home / "data" / "events.jsonl"
    lines = events.read_text().splitlines()
    last = lines[-1]
    at = last.index('"hmac":"') + len('"hmac":"')
    lines[-1] = last[:at] + "\u00e9" + last[at + 1 :]
    events.write_text("\n".join(lines) + "\n")
    run = _run(home, "restore", watched, "a.txt", "--undo")
    assert run.returncode == 2 and "cannot be undone" in run.err, run.err


@pytest.mark.parametrize(("folder", "name"), [(".aws", "credentials"), (".ssh", "github")])
def test_watching_a_secrets_own_folder_copies_none_of_it(
    tmp_path: Path, home: Path, folder: str, name: str
) -> None:
    secrets = make_tree(tmp_path / folder, {name: "SECRET-MARK\n"})
    assert _run(home, "add", secrets, "--keep-copies").returncode == 0
    stored = [p for p in (home / "data" / "snapshots").rglob("*") if p.is_file()]
    assert all(b"SECRET-MARK" not in p.read_bytes() for p in stored)
    assert stored == []


def test_a_copy_folder_that_is_a_link_is_never_read(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    snapshots = home / "data" / "snapshots"
    for sub in [p for p in snapshots.iterdir() if p.is_dir()]:
        moved = tmp_path / f"moved-{sub.name}"
        sub.rename(moved)
        sub.symlink_to(moved)
    (watched / "a.txt").write_text("changed\n")
    run = _run(home, "diff", watched, "a.txt")
    assert "a link is in its place" in run.out + run.err, run.out + run.err
    assert _run(home, "restore", watched, "a.txt").returncode == 2


def test_a_data_folder_swapped_for_a_link_while_running_is_refused_at_the_next_write(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    from fim_tray.errors import StorageError
    from fim_tray.store.state import Store

    store = Store(_paths(home))
    store.config()  # the folders checked once, as a running tray has
    elsewhere = tmp_path / "elsewhere"
    (home / "data").rename(elsewhere)
    (home / "data").symlink_to(elsewhere)
    refused = pytest.raises(StorageError, match="data cannot be used: a link is in its place")
    with refused, store.locked():
        pass
    with pytest.raises(StorageError, match="a link is in its place"):
        store.icon_file("x.png", lambda: b"png")
    assert not (elsewhere / "icons").exists()


def test_an_icon_folder_that_is_a_link_is_refused(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    from fim_tray.errors import StorageError
    from fim_tray.store.state import Store

    elsewhere = tmp_path / "icons"
    elsewhere.mkdir()
    (elsewhere / "x.png").write_bytes(VICTIM)
    (home / "data" / "icons").symlink_to(elsewhere)
    with pytest.raises(StorageError, match="icons cannot be used: a link is in its place"):
        Store(_paths(home)).icon_file("x.png", lambda: b"png")
    assert (elsewhere / "x.png").read_bytes() == VICTIM


def test_an_accept_that_cannot_update_its_pending_list_says_it_was_accepted(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    (watched / "a.txt").write_text("changed\n")
    assert _run(home, "check").returncode == 1
    [pending] = (home / "data" / "baselines").glob("*.pending.json")
    pending.unlink()
    pending.mkdir()  # a folder in its place: the pending list cannot be written
    run = _run(home, "accept")
    assert run.returncode == 2 and "The changes were accepted" in run.err, run.err
    pending.rmdir()
    assert _run(home, "check").returncode == 0  # and so they were


def test_an_accept_never_deletes_through_a_linked_copy_folder(
    tmp_path: Path, home: Path, watched: Path
) -> None:
    snapshots = home / "data" / "snapshots"
    kept = []
    for sub in [p for p in snapshots.iterdir() if p.is_dir()]:
        moved = tmp_path / f"moved-{sub.name}"
        sub.rename(moved)
        sub.symlink_to(moved)
        kept += list(moved.iterdir())
    (watched / "b.txt").write_text("changed\n")
    _run(home, "accept")
    assert kept and all(p.exists() for p in kept)


def test_a_state_home_of_another_user_is_refused(tmp_path: Path, home: Path, watched: Path) -> None:
    if not (hasattr(os, "geteuid") and os.geteuid() == 0):
        pytest.skip("giving a folder to another user needs root")
    os.chown(home, 65534, 65534)
    run = _run(home, "check")
    assert run.returncode == 2 and f"The folder {home}" in run.err and "uid 65534" in run.err
