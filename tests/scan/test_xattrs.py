"""Extended attributes: capabilities and ACLs in words, other values as digests, read without
following links, compared into named fields, and a capability or set-id bit gained flagged."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fim_tray.display import describe
from fim_tray.models import Entry, escape_xattr_name, xattr_kinds, xattr_map
from fim_tray.scan import xattrs
from fim_tray.scan.compare import compare_entry
from fim_tray.scan.scanner import Scanner

linux_only = pytest.mark.skipif(not hasattr(os, "setxattr"), reason="Linux extended attributes")
NET_RAW_EP = bytes.fromhex("0100000200200000000000000000000000000000")  # what setcap writes
ACL = bytes.fromhex(
    "02000000" "01000600ffffffff" "02000400feff0000" "04000400ffffffff"
    "10000400ffffffff" "20000400ffffffff"
)  # fmt: skip


def test_capabilities_read_as_getcap_writes_them() -> None:
    assert xattrs.caps_text(NET_RAW_EP) == "cap_net_raw=ep"
    both = bytearray(NET_RAW_EP)
    both[4:8] = ((1 << 13) | (1 << 10)).to_bytes(4, "little")  # + net_bind_service
    both[8:12] = (1 << 21).to_bytes(4, "little")  # sys_admin inheritable only
    assert xattrs.caps_text(bytes(both)) == "cap_net_bind_service,cap_net_raw=ep cap_sys_admin=ei"
    assert xattrs.caps_text(b"\x01") is None
    assert xattrs.caps_text(b"\x00\x00\x00\x09" + bytes(16)) is None  # unknown revision


def test_an_acl_reads_as_getfacl_lists_it() -> None:
    assert xattrs.acl_text(ACL) == "u::rw-,u:65534:r--,g::r--,m::r--,o::r--"
    assert xattrs.acl_text(ACL[:-3]) is None
    assert xattrs.acl_text(b"\x03\x00\x00\x00") is None


def test_other_values_are_kept_only_as_digests() -> None:
    kept = xattrs.summary("user.password", b"hunter2")
    assert kept.startswith("sha256:") and "hunter2" not in kept and len(kept) == 7 + 16
    assert xattrs.summary("security.selinux", b"user_u:object_r:user_home_t:s0\x00") == (
        "user_u:object_r:user_home_t:s0"
    )


def _entry(kept: str | None, mode: int = 0o755) -> Entry:
    return Entry("file", 3, 1, 1, 1, mode, 0, 0, "a" * 64, xattrs=kept)


def test_a_capability_gained_is_a_suspicious_metadata_change_that_names_it() -> None:
    change = compare_entry("tool", _entry(None), _entry("security.capability=cap_net_raw=ep"))
    assert change is not None and change.kind == "metadata" and change.suspicious
    assert change.fields == ("xattrs", "caps")
    text = describe(change)
    assert "security.capability: cap_net_raw=ep added" in text
    assert "SUSPICIOUS" in text and "a capability" in text


def test_a_set_uid_bit_gained_is_suspicious() -> None:
    change = compare_entry("tool", _entry(None, 0o755), _entry(None, 0o4755))
    assert change is not None and change.suspicious and change.fields == ("mode",)
    assert "set-uid gained" in describe(change)
    lost = compare_entry("tool", _entry(None, 0o4755), _entry(None, 0o755))
    assert lost is not None and not lost.suspicious


def test_user_attributes_and_acls_are_named() -> None:
    acl = "system.posix_acl_access=u::rw-,u:65534:r--,g::r--,m::r--,o::r--"
    change = compare_entry("f", _entry("user.a=sha256:1"), _entry(f"{acl}\nuser.b=sha256:2"))
    assert change is not None and not change.suspicious
    assert change.fields == ("xattrs", "acl")
    assert describe(change) == (
        "system.posix_acl_access: u::rw-,u:65534:r--,g::r--,m::r--,o::r-- added, "
        "user.a removed, user.b added"
    )
    assert xattr_kinds("user.a=sha256:1", "user.a=sha256:2") == ()
    changed = compare_entry("f", _entry("user.a=sha256:1"), _entry("user.a=sha256:2"))
    assert changed is not None and describe(changed) == "user.a changed"


def test_names_that_would_break_the_format_are_escaped() -> None:
    name = "user.a=b\nc%"
    kept = f"{escape_xattr_name(name)}=sha256:00"
    assert xattr_map(kept) == {name: "sha256:00"}


@linux_only
def test_a_scan_records_them_for_files_folders_and_links_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "w"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "link").symlink_to("a.txt")
    os.setxattr(root / "a.txt", "user.origin", b"https://example.org/")
    os.setxattr(root / "sub", "user.tag", b"x")
    entries = Scanner(str(root), excludes=()).run().entries
    assert xattr_map(entries["a.txt"].xattrs).keys() == {"user.origin"}
    assert xattr_map(entries["sub"].xattrs).keys() == {"user.tag"}
    assert entries["link"].xattrs is None  # the link's own: its target's are not read


@linux_only
@pytest.mark.parametrize("full", [False, True])
def test_quick_and_full_checks_see_a_new_attribute(tmp_path: Path, full: bool) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    baseline = Scanner(str(root), excludes=()).run().entries
    os.setxattr(root / "a.txt", "user.origin", b"web")
    now = Scanner(str(root), excludes=(), previous=baseline, full=full).run().entries
    change = compare_entry("a.txt", baseline["a.txt"], now["a.txt"])
    assert change is not None and change.fields == ("xattrs",)
    assert compare_entry("b.txt", baseline["b.txt"], now["b.txt"]) is None


@pytest.mark.skipif(shutil.which("setcap") is None, reason="setcap (libcap2-bin) is not installed")
def test_setcap_is_read_back_in_words(tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.write_bytes(b"\x7fELF")
    done = subprocess.run(["setcap", "cap_net_raw+ep", str(tool)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"setcap needs CAP_SETFCAP here: {done.stderr.decode().strip()}")
    assert xattrs.read(str(tool)) == "security.capability=cap_net_raw=ep"


@linux_only
def test_a_name_that_is_not_utf8_is_kept_and_checking_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (root / "shared").write_text("s")
    (root / "important").write_text("i")
    baseline = Scanner(str(root), excludes=()).run().entries
    os.setxattr(os.fsencode(root / "shared"), b"user.\xff", b"1")
    (root / "important").write_text("tampered")
    now = Scanner(str(root), excludes=()).run().entries
    assert list(xattr_map(now["shared"].xattrs)) == ["user.\udcff"]
    change = compare_entry("shared", baseline["shared"], now["shared"])
    assert change is not None and "user.\\xff added" in describe(change)
    from fim_tray import jsonio
    from fim_tray.store.history import entry_json

    jsonio.dumps(entry_json(now["shared"]))  # valid JSON: the history can hold it
    assert compare_entry("important", baseline["important"], now["important"]) is not None
