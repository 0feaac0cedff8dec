"""The saved-copies commands end to end: add --keep-copies, keep-copies, diff, restore, prune,
status; exit codes 0 done and 2 error with one line on stderr, never a traceback."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Run, cli, cli_env, err_lines, make_tree


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "docs",
        {"todo.txt": "one\ntwo\n", "photo.jpg": b"\xff\xd8\xff\0binary", ".env": "KEY=secret\n"},
    )


@pytest.fixture
def kept(docs: Path, home: Path) -> Path:
    run = cli("add", "--keep-copies", docs, home=home)
    assert run.returncode == 0, run.err
    assert "keeping copies: 2 of 3 files (1 secret, 0 too big)" in run.err
    return docs


def one_error(run: Run, *words: str) -> None:
    lines = err_lines(run)
    assert len(lines) == 1, lines
    assert lines[0].startswith("fim-tray: ")
    for word in words:
        assert word in lines[0], lines[0]


def test_diff_restore_and_check(kept: Path, home: Path) -> None:
    (kept / "todo.txt").write_text("one\n2\n")
    run = cli("diff", kept, "todo.txt", home=home)
    assert run.returncode == 0, run.err
    assert run.out.splitlines() == [
        "--- baseline/todo.txt", "+++ now/todo.txt", "@@ -1,2 +1,2 @@", " one", "-two", "+2",
    ]  # fmt: skip
    assert run.err == ""

    run = cli("restore", kept, "todo.txt", home=home)
    assert run.returncode == 0, run.err
    assert run.out == ""
    assert "todo.txt is back as in the baseline" in run.err
    assert (kept / "todo.txt").read_text() == "one\ntwo\n"
    assert cli("check", kept, home=home).returncode == 0

    run = cli("restore", kept, "todo.txt", "--undo", home=home)
    assert run.returncode == 0, run.err
    assert (kept / "todo.txt").read_text() == "one\n2\n"


def test_file_relative_to_the_current_folder(kept: Path, home: Path) -> None:
    (kept / "sub").mkdir()
    (kept / "todo.txt").write_text("changed\n")
    run = cli("restore", kept, "../todo.txt", home=home, cwd=kept / "sub")
    assert run.returncode == 0, run.err
    assert (kept / "todo.txt").read_text() == "one\ntwo\n"


def test_if_unchanged_with_the_signature_from_check(kept: Path, home: Path) -> None:
    (kept / "todo.txt").write_text("seen\n")
    check = cli("check", kept, "--json", home=home)
    assert check.returncode == 1
    [change] = check.json_lines()
    signature = change["signature"]
    (kept / "todo.txt").write_text("not seen\n")
    run = cli("restore", kept, "todo.txt", "--if-unchanged", signature, home=home)
    assert run.returncode == 2
    one_error(run, "changed again", "--force")
    assert (kept / "todo.txt").read_text() == "not seen\n"
    cli("check", kept, home=home)
    signature = cli("check", kept, "--json", home=home).json_lines()[0]["signature"]
    run = cli("restore", kept, "todo.txt", "--if-unchanged", signature, home=home)
    assert run.returncode == 0, run.err


@pytest.mark.parametrize(
    ("name", "words"),
    [("photo.jpg", ("binary",)), (".env", ("no-copy pattern .env",))],
)
def test_diff_explanations(kept: Path, home: Path, name: str, words: tuple[str, ...]) -> None:
    (kept / name).write_bytes(b"\0changed")
    run = cli("diff", kept, name, home=home)
    assert run.returncode == 2 and run.out == ""
    one_error(run, *words)


def test_without_copies(docs: Path, home: Path) -> None:
    assert cli("add", docs, home=home).returncode == 0
    (docs / "todo.txt").write_text("changed\n")
    run = cli("diff", docs, "todo.txt", home=home)
    assert run.returncode == 2
    one_error(run, "copies are off")
    run = cli("restore", docs, "todo.txt", home=home)
    assert run.returncode == 2
    one_error(run, "copies are off")
    run = cli("keep-copies", docs, "on", home=home)
    assert run.returncode == 0, run.err
    assert "1 stored now" in run.err  # photo.jpg; todo.txt changed since the baseline
    assert "todo.txt: no copy kept: it changed after it was hashed" in run.err


def test_errors_are_one_line(kept: Path, home: Path, tmp_path: Path) -> None:
    run = cli("restore", tmp_path, "todo.txt", home=home)
    assert run.returncode == 2
    one_error(run, "not a watched folder")
    run = cli("restore", kept, "nothing.txt", home=home)
    assert run.returncode == 2
    one_error(run, "not in the baseline")
    run = cli("restore", kept, "todo.txt", "--undo", home=home)
    assert run.returncode == 2
    one_error(run, "nothing to undo")
    run = cli("diff", kept, "../outside", home=home)
    assert run.returncode == 2
    one_error(run, "inside")


def test_nothing_to_restore(kept: Path, home: Path) -> None:
    run = cli("restore", kept, "todo.txt", home=home)
    assert run.returncode == 0
    assert "already as in the baseline" in run.err


def test_status_shows_the_store_and_the_no_copy_patterns(kept: Path, home: Path) -> None:
    run = cli("status", home=home)
    assert run.returncode == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].startswith(f"{kept}  ok  copies on: 2 of 3 files kept (1 secret, 0 too big)")
    assert lines[1].startswith("saved copies: 2 (")
    assert lines[2] == "copy limits: 10.0 MB per file, 1,000.0 MB per folder"
    assert lines[3].startswith("no-copy patterns: *.key, *.pem, id_*, .env,")
    obj = json.loads(cli("status", "--json", home=home).out)
    assert obj["count"] == 2 and ".env" in obj["no_copy"]
    assert obj["folders"][0]["keep_copies"] is True and obj["folders"][0]["kept"] == 2


def test_keep_copies_off_and_prune(kept: Path, home: Path) -> None:
    run = cli("keep-copies", kept, "off", home=home)
    assert run.returncode == 0, run.err
    assert "copies off" in run.err
    assert json.loads(cli("status", "--json", home=home).out)["count"] == 0
    run = cli("prune", home=home)
    assert run.returncode == 0, run.err
    assert "removed 0 saved copies" in run.err


def test_a_damaged_copy_is_one_clear_error(kept: Path, home: Path) -> None:
    blobs = [p for p in (home / "data" / "snapshots").rglob("*") if p.is_file()]
    for blob in blobs:
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0x55
        blob.write_bytes(bytes(data))
    (kept / "todo.txt").write_text("changed\n")
    run = cli("restore", kept, "todo.txt", home=home)
    assert run.returncode == 2
    one_error(run, "damaged", "was left as it is")
    assert (kept / "todo.txt").read_text() == "changed\n"


def test_the_undo_hint_is_the_whole_command(kept: Path, home: Path) -> None:
    (kept / "my notes.txt").write_text("v1\n")
    assert cli("accept", kept, home=home).returncode == 0
    (kept / "my notes.txt").write_text("v2\n")
    run = cli("restore", kept, "my notes.txt", home=home)
    assert run.returncode == 0, run.err
    assert f"`fim-tray restore --undo {kept} 'my notes.txt'` puts it back" in run.err
    run = cli("restore", kept, "--undo", "my notes.txt", home=home)
    assert run.returncode == 0, run.err
    assert "--undo" not in run.err
    assert (kept / "my notes.txt").read_text() == "v2\n"


def test_status_json_marks_a_folder_name_that_is_not_utf8(tmp_path: Path, home: Path) -> None:
    folder = make_tree(tmp_path / "d\udcefr", {"a.txt": "alpha\n"})
    assert cli("add", "--keep-copies", folder, home=home).returncode == 0
    [row] = json.loads(cli("status", "--json", home=home).out)["folders"]
    assert "folder" not in row and base64.b64decode(row["folder_b64"]) == os.fsencode(folder)


@pytest.mark.parametrize("name", ["caf\udce9 \\ it's.txt", "tab\there.txt", "café.txt"])
def test_the_undo_hint_pasted_in_a_shell_undoes_that_file(
    name: str, kept: Path, home: Path
) -> None:
    (kept / name).write_text("v1\n")
    assert cli("accept", kept, home=home).returncode == 0
    (kept / name).write_text("v2\n")
    run = cli("restore", kept, name, home=home)
    assert run.returncode == 0, run.err
    hint = run.err.split("`")[1]
    assert hint.startswith("fim-tray restore --undo ")
    pasted = subprocess.run(
        ["bash", "-c", f'fim-tray() {{ "{sys.executable}" -m fim_tray "$@"; }}\n{hint}'],
        env=cli_env(home), capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert pasted.returncode == 0, pasted.stderr
    assert (kept / name).read_text() == "v2\n"
