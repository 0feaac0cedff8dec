"""Reading the extended attributes of one file or folder into the short string an entry keeps
(each name with a digest of its value; capabilities, ACLs and SELinux labels in words).

The string, sorted by name, one ``name=summary`` per line, is what an entry keeps (``None`` when
there are none, as for most files): small, comparable with ``==``, and the same in the baseline,
its cache and the history. Linux reads every namespace the process may (``user.``, ``security.``
with capabilities and the SELinux label, ``system.posix_acl_*``, ``trusted.`` as root); macOS
through the ``xattr`` package when it is installed; elsewhere nothing is read.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

from fim_tray.models import ACLS, CAPS, escape_xattr_name

SELINUX = "security.selinux"
MAX_WORDS = 200  # a value shown in words is cut here (a label, an ACL); longer ones get a digest

_CAP_NAMES = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]
_ACL_TAGS = {0x01: "u::", 0x02: "u:{}:", 0x04: "g::", 0x08: "g:{}:", 0x10: "m::", 0x20: "o::"}

Source = int | str  # an open descriptor, or a path (never followed when it is a link)


def _linux_reader() -> tuple[Callable[[Source], list[str]], Callable[[Source, str], bytes]]:
    def names(source: Source) -> list[str]:
        if isinstance(source, int):
            return os.listxattr(source)
        return os.listxattr(source, follow_symlinks=False)

    def value(source: Source, name: str) -> bytes:
        if isinstance(source, int):
            return os.getxattr(source, name)
        return os.getxattr(source, name, follow_symlinks=False)

    return names, value


def _mac_reader() -> tuple[Callable[[Source], list[str]], Callable[[Source, str], bytes]] | None:
    try:
        import xattr  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    nofollow: int = getattr(xattr, "XATTR_NOFOLLOW", 0)

    def names(source: Source) -> list[str]:
        return list(xattr.listxattr(source, 0 if isinstance(source, int) else nofollow))

    def value(source: Source, name: str) -> bytes:
        return bytes(xattr.getxattr(source, name, 0 if isinstance(source, int) else nofollow))

    return names, value


_reader: Any = None  # (names, value) once chosen; False where nothing can be read


def _choose() -> Any:
    global _reader
    if _reader is None:
        if hasattr(os, "listxattr"):
            _reader = _linux_reader()
        elif sys.platform == "darwin":
            _reader = _mac_reader() or False
        else:
            _reader = False
    return _reader


def supported() -> bool:
    """Whether extended attributes can be read here at all."""
    return bool(_choose())


def read(source: Source) -> str | None:
    """The attributes of the file open as ``source`` (or at the path ``source``, a link itself
    and not what it points to), as the string an entry keeps; None when it has none, or none
    can be read (a file system without them, one that vanished, one it may not read)."""
    reader = _choose()
    if not reader:
        return None
    list_names, get_value = reader
    try:
        found = list_names(source)
    except OSError:
        return None
    if not found:
        return None
    lines = []
    for name in sorted(found):
        try:
            data = get_value(source, name)
        except OSError:
            continue  # removed since it was listed, or not ours to read: left out
        lines.append(f"{escape_xattr_name(name)}={summary(name, data)}")
    return sys.intern("\n".join(lines)) if lines else None  # one object for a label shared by all


def summary(name: str, data: bytes) -> str:
    """A value as kept: capabilities and ACLs in words, a SELinux label as it reads, any other
    value as ``sha256:`` and 16 hex digits (values may be private: never kept as they are)."""
    words: str | None = None
    if name == CAPS:
        words = caps_text(data)
    elif name in ACLS:
        words = acl_text(data)
    elif name == SELINUX:
        text = data.rstrip(b"\0").decode("ascii", "replace")
        words = text if text.isprintable() and len(text) <= MAX_WORDS else None
    if words is not None:
        return words.replace("\n", " ")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def caps_text(data: bytes) -> str | None:
    """A file capability set as ``getcap`` writes it (``cap_net_raw=ep``); None if malformed."""
    if len(data) < 4:
        return None
    (magic,) = struct.unpack_from("<I", data)
    revision, effective = magic & 0xFF000000, bool(magic & 1)
    sets = {0x01000000: 1, 0x02000000: 2, 0x03000000: 2}.get(revision)
    if sets is None or len(data) < 4 + 8 * sets:
        return None
    permitted = inheritable = 0
    for index in range(sets):
        p, i = struct.unpack_from("<II", data, 4 + 8 * index)
        permitted |= p << (32 * index)
        inheritable |= i << (32 * index)
    groups: dict[str, list[str]] = {}
    for bit in range(64):
        p, i = permitted >> bit & 1, inheritable >> bit & 1
        if not (p or i):
            continue
        flags = ("e" if effective else "") + ("i" if i else "") + ("p" if p else "")
        name = f"cap_{_CAP_NAMES[bit]}" if bit < len(_CAP_NAMES) else f"cap_{bit}"
        groups.setdefault(flags, []).append(name)
    text = " ".join(f"{','.join(names)}={flags}" for flags, names in groups.items()) or "none"
    if revision == 0x03000000 and len(data) >= 24:
        (rootid,) = struct.unpack_from("<I", data, 20)
        text += f" [rootid={rootid}]" if rootid else ""
    return text


def acl_text(data: bytes) -> str | None:
    """A POSIX ACL as ``getfacl -c`` would list it, on one line (``u::rw-,u:1000:r--,...``)."""
    if len(data) < 4 or (len(data) - 4) % 8 or struct.unpack_from("<I", data)[0] != 2:
        return None
    parts = []
    for offset in range(4, len(data), 8):
        tag, perm, ident = struct.unpack_from("<HHI", data, offset)
        head = _ACL_TAGS.get(tag)
        if head is None:
            return None
        rwx = "".join(c if perm & bit else "-" for c, bit in (("r", 4), ("w", 2), ("x", 1)))
        parts.append(head.format(ident) + rwx)
    text = ",".join(parts)
    return text if len(text) <= MAX_WORDS else None
