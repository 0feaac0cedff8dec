"""Black-box: capabilities, extended attributes and ACLs set on watched files are reported and
named by `check` (quick and full), flagged when a capability is gained, and a baseline recorded
before attributes were takes them in quietly instead of reporting every file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.store.baseline import XATTRS_RECORDED
from fim_tray.store.paths import Paths
from tests.helpers import cli, make_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "setxattr"), reason="Linux extended attributes")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # ./dev.sh test installs them (attr, acl, libcap2-bin)
        pytest.fail(f"{name} is not installed")
    return path


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"{argv[0]} is not permitted here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr


def test_attributes_capabilities_and_acls_are_reported_and_named(
    tmp_path: Path, home: Path
) -> None:
    docs = make_tree(tmp_path / "docs", {"tool": "#!/bin/sh\n", "notes.txt": "n", "x.txt": "x"})
    assert cli("add", docs, home=home).returncode == 0
    _run(_tool("setfattr"), "-n", "user.origin", "-v", "web", str(docs / "notes.txt"))
    _run(_tool("setcap"), "cap_net_raw+ep", str(docs / "tool"))
    _run(_tool("setfacl"), "-m", "u:nobody:r", str(docs / "x.txt"))
    for full in ((), ("--full",)):
        run = cli("check", *full, home=home)
        assert run.returncode == 1, run.err
        lines = {line.split()[3]: line for line in run.out.splitlines()}
        assert "user.origin added" in lines["notes.txt"]
        assert "security.capability: cap_net_raw=ep added" in lines["tool"]
        assert "SUSPICIOUS" in lines["tool"] and "SUSPICIOUS" not in lines["notes.txt"]
        assert "system.posix_acl_access: u::rw-,u:65534:r--,g::r--,m::r--,o::r-- added" in (
            lines["x.txt"]
        )
        by_path = {o["path"]: o for o in cli("check", "--json", *full, home=home).json_lines()}
        assert by_path["tool"]["fields"] == ["xattrs", "caps"] and by_path["tool"]["suspicious"]
        assert by_path["x.txt"]["fields"][-1] == "acl"
        assert by_path["tool"]["after"]["xattrs"] == {"security.capability": "cap_net_raw=ep"}
    assert cli("accept", home=home).returncode == 0
    assert cli("check", "--full", home=home).returncode == 0
    _run(_tool("setfattr"), "-x", "user.origin", str(docs / "notes.txt"))
    run = cli("check", home=home)
    assert run.returncode == 1 and "user.origin removed" in run.out


def test_a_baseline_from_before_attributes_takes_them_in_without_a_flood(
    tmp_path: Path, home: Path
) -> None:
    docs = make_tree(tmp_path / "docs", {f"f{i}.txt": str(i) for i in range(5)})
    for i in range(5):
        os.setxattr(docs / f"f{i}.txt", "user.label", b"kept all along")
    assert cli("add", docs, home=home).returncode == 0
    # Make it a baseline as an earlier version wrote it: no attributes, no mark.
    service = Service(Paths(home / "data", home / "config"))
    folder = service.folder(str(docs))
    with service.store.locked():
        old = service.store.load_baseline(folder)
        entries = {p: e._replace(xattrs=None) for p, e in old.entries.items()}
        signed = service.store.save_baseline(folder, old._replace(entries=entries, extra={}))
        service.store.pending(folder).save({}, old.updated, full=True, baseline=signed)

    assert cli("check", home=home).returncode == 0  # quick: nothing to say
    assert cli("check", "--full", home=home).returncode == 0  # full: taken in, quietly
    upgraded = service.store.load_baseline(folder)
    assert upgraded.extra.get(XATTRS_RECORDED)
    assert all(e.xattrs is not None for p, e in upgraded.entries.items() if p.endswith(".txt"))
    os.setxattr(docs / "f0.txt", "user.label", b"changed")
    run = cli("check", home=home)
    assert run.returncode == 1 and "user.label changed" in run.out
