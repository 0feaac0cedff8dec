"""Text for people: escaped file names, local timestamps and one-line change descriptions."""

from __future__ import annotations

import os
import stat
import unicodedata
from datetime import datetime

from fim_tray.models import Change, Entry, xattr_kinds, xattr_map

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escape(text: str) -> str:
    """A name made safe for one line of a terminal or a notification.

    Control characters (newline, carriage return, ESC, ...), invisible format characters (such as
    right-to-left overrides that can disguise ``exe.txt``) and bytes that were not UTF-8 are
    written as visible escapes, so a file name can never forge a line or repaint the terminal.
    """
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in _NAMED:
            out.append(_NAMED[char])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            else:  # \U and 8 digits above the BMP: "\ue0041" would read as U+E004 and "1"
                out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def timestamp(when: datetime) -> str:
    """Local time to the second, the way every alert line starts: ``2026-01-02 10:11:12``."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def device_numbers(rdev: int) -> str:
    """``1,3``: major and minor, as ``ls -l`` shows a device node."""
    major = getattr(os, "major", None)
    minor = getattr(os, "minor", None)
    if major is None or minor is None:  # no device nodes on Windows: the raw number
        return str(rdev)
    return f"{major(rdev)},{minor(rdev)}"


def _mode(entry: Entry) -> str:
    return f"{entry.mode:04o}"


def describe(change: Change, *, brief: bool = False) -> str:
    """What changed, in a few words: ``mode 0644 -> 0600``, ``content, size 10 -> 12``.

    ``brief`` leaves out size and mtime, for a notification's few lines.
    """
    before, after = change.before, change.after
    if change.kind == "added" and after is not None:
        if after.rdev is not None:
            return f"{after.type} {device_numbers(after.rdev)}"
        if after.type != "file":
            return after.type
        return f"{after.size:,} byte{'' if after.size == 1 else 's'}"
    if change.kind == "removed" or before is None or after is None:
        return ""
    if change.kind == "unreadable":
        return f"cannot be read now: {after.error}"
    parts = []
    if "type" in change.fields:
        parts.append(f"was a {before.type}, now a {after.type}")
    elif change.kind == "modified" and brief and change.suspicious:
        pass  # the warning below says it all
    elif change.kind == "modified":
        if after.type == "symlink":
            parts.append(
                f"link target {escape(before.target or '')} -> {escape(after.target or '')}"
            )
        else:
            parts.append("content")
    for name in change.fields:
        if brief and name in ("size", "mtime_ns") and len(change.fields) > 1:
            continue  # (a touch alone still says what: its time)
        if name == "mode":
            parts.append(f"mode {_mode(before)} -> {_mode(after)}")
        elif name in ("uid", "gid"):
            label = "owner" if name == "uid" else "group"
            parts.append(f"{label} {getattr(before, name)} -> {getattr(after, name)}")
        elif name == "size":
            parts.append(f"size {before.size} -> {after.size}")
        elif name == "xattrs":
            parts.extend(_xattrs(before.xattrs, after.xattrs))
        elif name == "rdev":
            parts.append(f"device {device_numbers(before.size)} -> {device_numbers(after.size)}")
        elif name == "mtime_ns":
            parts.append(
                "mtime " + _short_time(before.mtime_ns) + " -> " + _short_time(after.mtime_ns)
            )
    if change.suspicious and change.kind == "metadata":
        parts.append(f"SUSPICIOUS: {_gained(before, after)}")
    elif change.suspicious:
        parts.append(
            "SUSPICIOUS: new content, same size and mtime"
            if brief
            else "SUSPICIOUS: content changed but size and mtime did not"
        )
    return ", ".join(parts)


def notice_detail(change: Change) -> str:
    """What a notification says of a change beside its name, in a few words ("" when its kind
    says it all: content speaks for itself): ``mode 0644 -> 0600``."""
    told = change.kind == "metadata" or change.suspicious
    return describe(change, brief=True) if told else ""


def _xattrs(before: str | None, after: str | None) -> list[str]:
    """Each attribute that differs, in words: ``security.capability: cap_net_raw=ep added``,
    ``user.origin added``, ``system.posix_acl_access: u::rw-,... -> u::rw-,...``."""
    old, new = xattr_map(before), xattr_map(after)
    parts = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        shown = escape(name)  # no control character, no byte that is not UTF-8, passes as is
        worded = not ((now or was or "").startswith("sha256:"))
        if was is None:
            parts.append(f"{shown}: {now} added" if worded else f"{shown} added")
        elif now is None:
            parts.append(f"{shown} removed")
        elif worded:
            parts.append(f"{shown}: {was} -> {now}")
        else:
            parts.append(f"{shown} changed")
    return parts


def _gained(before: Entry, after: Entry) -> str:
    """What a suspicious metadata change gave the file: a set-id bit, a capability."""
    gained = [
        label
        for bit, label in ((stat.S_ISUID, "set-uid"), (stat.S_ISGID, "set-gid"))
        if after.mode & bit and not before.mode & bit
    ]
    if "caps" in _xattr_kinds(before, after):
        gained.append("a capability")
    return "it can now run with more privileges (" + ", ".join(gained or ["?"]) + " gained)"


def _xattr_kinds(before: Entry, after: Entry) -> tuple[str, ...]:
    return xattr_kinds(before.xattrs, after.xattrs) if before.xattrs != after.xattrs else ()


def _short_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def change_line(change: Change, when: datetime, name: str | None = None) -> str:
    """``2026-01-02 10:11:12  modified  notes/todo.txt  (content, size 10 -> 12)``."""
    detail = describe(change)
    line = f"{timestamp(when)}  {change.kind:<10}  {escape(name or change.path)}"
    return f"{line}  ({detail})" if detail else line
