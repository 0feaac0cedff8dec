"""A JSON lines file of ECS events, for the shippers that read files (Filebeat, Elastic Agent,
Fluent Bit, Wazuh's localfile, Splunk's forwarder): lines appended whole, in one write, and the
file rotated by size as logrotate would (``events.jsonl.1`` the newest of the older ones)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
KEEP = 5
_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class JsonlError(Exception):
    """The lines could not be written; the text says why, for a person."""


def append(
    path: Path, lines: Sequence[bytes], *, max_bytes: int = MAX_BYTES, keep: int = KEEP
) -> None:
    """Append ``lines`` (each one JSON object, without its newline) to ``path`` in one write,
    rotating first when the file is full. Nothing is written when anything fails."""
    if not lines:
        return
    data = b"".join(line + b"\n" for line in lines)
    try:
        if not path.parent.is_dir():  # made for it, private, as a log folder would be
            os.makedirs(path.parent, mode=0o700, exist_ok=True)
        _rotate_if_needed(path, max_bytes, keep)
        fd = os.open(path, _FLAGS, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise JsonlError(f"{path} is not a regular file")
            start = os.fstat(fd).st_size
            if start and os.pread(fd, 1, start - 1) != b"\n":
                data = b"\n" + data  # a line cut short by a crash: never glue onto it
            if os.write(fd, data) != len(data):
                os.ftruncate(fd, start)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)  # on disk before the outbox counts it delivered
        finally:
            os.close(fd)
    except OSError as exc:
        raise JsonlError(f"cannot write {path}: {(exc.strerror or str(exc)).lower()}") from None


def problem(path: Path) -> str | None:
    """Why lines could not be written to ``path`` (None: they can, as far as can be told
    without writing): a folder, a link, a device, a file not writable, or no folder where it
    could be made."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # made when first written, and its folders
        folder = path.parent
        while not os.path.lexists(folder) and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            return f"cannot create {path}: {folder} is not a folder"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot create {path}: the folder {folder} is not writable"
        return None
    except OSError as exc:
        return f"cannot reach {path}: {(exc.strerror or str(exc)).lower()}"
    if stat.S_ISDIR(st.st_mode):
        return f"{path} is a folder, not a file"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link: name the file itself"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file (a device, a pipe or a socket)"
    if not os.access(path, os.W_OK):
        return f"cannot write {path}: permission denied"
    return None


def _rotate_if_needed(path: Path, max_bytes: int, keep: int) -> None:
    try:
        if os.lstat(path).st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    for index in range(keep, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        newer = path.with_name(f"{path.name}.{index - 1}") if index > 1 else path
        with contextlib.suppress(FileNotFoundError):
            os.replace(newer, older)
