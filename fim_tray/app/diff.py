"""What changed inside a file: a unified diff of its saved copy against the file now, or a plain
sentence saying why no diff can be shown."""

from __future__ import annotations

import difflib
import os
import stat
import unicodedata
from dataclasses import dataclass
from typing import Literal

from fim_tray.app import fileops
from fim_tray.app.copy_policy import CopySettings
from fim_tray.app.selection import file_key
from fim_tray.display import escape
from fim_tray.errors import CopyDamagedError, CopyError
from fim_tray.models import Folder
from fim_tray.store.state import Store

MAX_INPUT = 2_000_000  # bytes per side: difflib's matching grows fast with the line count
MAX_LINES = 2000
MAX_BYTES = 200_000

DiffStatus = Literal[
    "diff",  # ``lines`` holds the diff
    "removed",  # the file is gone; ``lines`` shows the baseline as removed lines
    "same",  # the content is as in the baseline (the change is in its metadata)
    "added",  # not in the baseline: nothing to compare with
    "binary",
    "too_big",
    "no_copy",  # copies off, or no copy was kept
    "secret",  # matches a no-copy pattern
    "damaged",  # the saved copy failed its hash check
    "not_a_file",  # a link, folder or other kind of entry, then or now
    "unreadable",
]


@dataclass(frozen=True)
class DiffResult:
    """A diff for people. ``lines`` are ready to show: names escaped as
    :func:`fim_tray.display.escape` does, control characters in the content (other than tab)
    written as ``\\xNN``, no line endings. ``message`` always says what was found."""

    folder: Folder
    path: str
    status: DiffStatus
    message: str
    lines: tuple[str, ...] = ()
    truncated: bool = False  # the diff was cut at the line or byte limit


def _visible(line: str) -> str:
    """A content line that cannot repaint the terminal or reorder text (bidi overrides)."""
    if line.isprintable():
        return line
    out = []
    for char in line:
        if char != "\t" and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _text(data: bytes) -> str | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _lines(text: str) -> list[str]:
    """Lines split on ``\\n`` only (``str.splitlines`` would also split on form feeds and more)."""
    parts = [line + "\n" for line in text.split("\n")]
    parts[-1] = parts[-1][:-1]
    return parts if parts[-1] else parts[:-1]


def unified(
    before: str, after: str | None, name: str, *, max_lines: int, max_bytes: int
) -> tuple[tuple[str, ...], bool]:
    """The display lines of a unified diff (``after`` None: the file is gone), and whether it
    was cut short."""
    shown = escape(name)
    diff = difflib.unified_diff(
        _lines(before),
        _lines(after) if after is not None else [],
        fromfile=f"baseline/{shown}",
        tofile=f"now/{shown}" if after is not None else "now: removed",
    )
    out: list[str] = []
    size = 0
    for raw in diff:
        pieces = [raw[:-1]] if raw.endswith("\n") else [raw, "\\ No newline at end of file"]
        for piece in pieces:
            line = _visible(piece)
            size += len(line.encode("utf-8")) + 1
            if len(out) >= max_lines or size > max_bytes:
                return tuple(out), True
            out.append(line)
    return tuple(out), False


def diff(
    store: Store,
    path: str,
    file: str,
    *,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
) -> DiffResult:
    """The baseline copy of ``file`` (relative to the watched folder ``path``, or absolute)
    against the file as it is now."""
    folder = store.folder(path)
    rel = file_key(folder, file)
    shown = escape(rel)
    settings = CopySettings.from_config(store.config())
    entries = store.load_baseline(folder).entries

    def result(status: DiffStatus, message: str) -> DiffResult:
        return DiffResult(folder, rel, status, message)

    old = entries.get(rel)
    now_type, now_data, now_error = _current(folder.path, rel)
    if old is None:
        if now_type is None:
            return result("added", f"{shown} is neither in the baseline nor in the folder.")
        return result("added", f"{shown} was added after the baseline: nothing to compare with.")
    if old.type != "file" or (now_type not in (None, "file")):
        return result("not_a_file", _not_a_file(shown, old.type, old.target, now_type, rel, folder))
    if old.digest is None:
        return result("unreadable", f"{shown} could not be read when the baseline was recorded.")
    why = settings.why_not(folder, rel, old)
    if settings.secret(rel, folder.path) is not None:
        return result("secret", f"No diff for {shown}: {why}.")
    try:
        before_data = store.copies.read(
            old.digest, folder.algorithm, limit=settings.max_file_bytes, size=old.size
        )
    except CopyDamagedError as exc:
        return result("damaged", f"No diff for {shown}: {exc.message}")
    except CopyError as exc:
        if why is not None and old.size > settings.max_file_bytes:
            return result("too_big", f"No diff for {shown}: {why}.")
        if os.path.lexists(store.copies.path(old.digest, folder.algorithm)):  # there, unusable
            return result("no_copy", f"No diff for {shown}: {exc.message}")
        reason = why or "no copy of its baseline content was kept (it changed before it " \
            "could be copied, or the quota was full)"  # fmt: skip
        return result("no_copy", f"No diff for {shown}: {reason}.")
    if now_error is not None:
        status: DiffStatus = "too_big" if now_error.startswith("is too big") else "unreadable"
        return result(status, f"No diff for {shown}: it {now_error}.")
    if now_data == before_data:
        return result("same", f"The content of {shown} is as in the baseline.")
    if len(before_data) > MAX_INPUT:
        return result("too_big", f"No diff for {shown}: it is too big to compare line by line.")
    before_text = _text(before_data)
    after_text = None if now_data is None else _text(now_data)
    if before_text is None or (now_data is not None and after_text is None):
        return result("binary", f"No diff for {shown}: it is a binary file, not text.")
    lines, cut = unified(before_text, after_text, rel, max_lines=max_lines, max_bytes=max_bytes)
    status = "removed" if now_data is None else "diff"
    message = (
        f"{shown} was removed; its baseline content is shown as removed lines."
        if now_data is None
        else f"What changed in {shown} since the baseline."
    )
    if cut:
        message += f" The diff was cut at {max_lines:,} lines or {max_bytes // 1000:,} KB."
    return DiffResult(folder, rel, status, message, lines, cut)


def _current(root: str, rel: str) -> tuple[str | None, bytes | None, str | None]:
    """(type, content, problem) of the file now; type None when it is gone."""
    try:
        with fileops.parent_dir(root, rel) as (dir_fd, name):
            try:
                st = os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                return None, None, None
            if not stat.S_ISREG(st.st_mode):
                kind = "symlink" if stat.S_ISLNK(st.st_mode) else "folder"
                if not (stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                    kind = "special file"
                return kind, None, None
            try:
                return "file", fileops.read_regular(name, MAX_INPUT, dir_fd=dir_fd), None
            except fileops.TooBig:
                return "file", None, "is too big to compare line by line"
    except fileops.NotAFolder:
        return None, None, None
    except OSError as exc:
        return "file", None, f"cannot be read ({exc.strerror or exc})"


def _not_a_file(
    shown: str, old_type: str, target: str | None, now_type: str | None, rel: str, folder: Folder
) -> str:
    if old_type == "symlink":
        was = f"a link to {escape(target or '')}"
        now = ""
        if now_type == "symlink":
            try:
                with fileops.parent_dir(folder.path, rel) as (dir_fd, name):
                    now = f"; now it links to {escape(os.readlink(name, dir_fd=dir_fd))}"
            except OSError:
                pass
        return f"{shown} was {was} in the baseline{now}: there is no text to compare."
    if old_type != "file":
        return f"{shown} was a {old_type} in the baseline: there is no text to compare."
    return f"{shown} is a {now_type} now, not a file: there is no text to compare."
