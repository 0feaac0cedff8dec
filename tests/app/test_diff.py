"""Diff through the service: small changes, removed files, explanations, links, control
characters and the size and line limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from fim_tray.app import diff
from fim_tray.app.service import Service


def test_diff_of_a_small_change(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("one\nTWO\nthree\n")
    result = service.diff(str(kept), "notes.txt")
    assert result.status == "diff" and not result.truncated
    assert result.lines == (
        "--- baseline/notes.txt",
        "+++ now/notes.txt",
        "@@ -1,3 +1,3 @@",
        " one",
        "-two",
        "+TWO",
        " three",
    )


def test_diff_of_a_removed_text_file(service: Service, kept: Path) -> None:
    (kept / "notes.txt").unlink()
    result = service.diff(str(kept), "notes.txt")
    assert result.status == "removed"
    assert result.lines[2:] == ("@@ -1,3 +0,0 @@", "-one", "-two", "-three")


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("image.bin", "binary", "binary file"),
        (".env", "secret", "no-copy pattern .env"),
    ],
)
def test_diff_explanations(
    service: Service, kept: Path, name: str, status: str, words: str
) -> None:
    (kept / name).write_bytes(b"\0changed")
    result = service.diff(str(kept), name)
    assert (result.status, result.lines) == (status, ())
    assert words in result.message


def test_diff_without_copies(service: Service, docs: Path) -> None:
    service.watch(str(docs))
    (docs / "notes.txt").write_text("changed\n")
    result = service.diff(str(docs), "notes.txt")
    assert result.status == "no_copy" and "copies are off" in result.message


def test_diff_of_a_link_and_of_an_added_file(service: Service, kept: Path) -> None:
    (kept / "link").unlink()
    (kept / "link").symlink_to("image.bin")
    result = service.diff(str(kept), "link")
    assert result.status == "not_a_file" and "now it links to image.bin" in result.message
    (kept / "new.txt").write_text("new\n")
    assert service.diff(str(kept), "new.txt").status == "added"


def test_diff_same_content_and_trailing_newline(service: Service, kept: Path) -> None:
    (kept / "notes.txt").chmod(0o600)
    assert service.diff(str(kept), "notes.txt").status == "same"
    (kept / "notes.txt").write_text("one\ntwo\nthree")
    assert service.diff(str(kept), "notes.txt").lines[-3:] == (
        "-three",
        "+three",
        "\\ No newline at end of file",
    )


def test_diff_escapes_control_characters(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("one\n\x1b[2Jtwo\u202e\nthree\n")
    lines = service.diff(str(kept), "notes.txt").lines
    assert "+\\x1b[2Jtwo\\u202e" in lines
    assert all(line.isprintable() for line in lines)


def test_diff_is_cut_at_the_limits(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("".join(f"line {i}\n" for i in range(5000)))
    result = diff.diff(service.store, str(kept), "notes.txt", max_lines=100)
    assert result.truncated and len(result.lines) == 100 and "cut" in result.message
    result = diff.diff(service.store, str(kept), "notes.txt", max_bytes=1000)
    assert result.truncated and sum(len(line) + 1 for line in result.lines) <= 1000


def test_diff_of_a_file_too_big_to_compare(service: Service, kept: Path) -> None:
    (kept / "notes.txt").write_text("x\n" * (diff.MAX_INPUT // 2 + 10))
    result = service.diff(str(kept), "notes.txt")
    assert result.status == "too_big" and result.lines == ()
