"""Helpers for the end-to-end tests: run the real command with raw bytes, parse its output."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fim_tray.models import Entry
from fim_tray.store.baseline import Baseline

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534
# `2026-01-02 10:11:12  modified    notes/todo.txt  (content, ...)`
LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})  (added|removed|modified|metadata|unreadable) *"
    r"  (\S.*?)(?:  \((.*)\))?$"
)


@dataclass(frozen=True)
class Run:
    """One finished run of ``fim-tray``: exit code, and stdout / stderr as strict UTF-8."""

    returncode: int
    out_bytes: bytes
    err_bytes: bytes

    @property
    def out(self) -> str:
        return self.out_bytes.decode("utf-8")

    @property
    def err(self) -> str:
        return self.err_bytes.decode("utf-8")

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stdout line parsed as JSON (each must be valid UTF-8 and one object)."""
        objs = []
        for raw in self.out_bytes.splitlines():
            obj = json.loads(raw.decode("utf-8"))
            assert isinstance(obj, dict), raw
            objs.append(obj)
        return objs

    def changes(self) -> list[tuple[str, str]]:
        """``(kind, path)`` of every human change line on stdout; any other line fails."""
        found = []
        for line in self.out.splitlines():
            match = LINE.match(line)
            assert match, f"not a change line: {line!r}"
            found.append((match[2], match[3]))
        return found


def cli_env(home: Path, env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a run: ours, with its own home; a None value unsets a variable."""
    full = {
        **os.environ,
        "FIM_TRAY_HOME": str(home),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name, value in (env or {}).items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    return full


def cli(
    *args: str | bytes | os.PathLike[str],
    home: Path,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | str | None = None,
    timeout: float = 30,
    user: int | None = None,
    wrap: Sequence[str] = (),
) -> Run:
    """Run ``python -m fim_tray ARGS`` (optionally as another user, or under ``wrap``, a
    command that runs the rest); never a traceback."""
    argv: list[str | bytes] = [*wrap, sys.executable, "-m", "fim_tray"]
    argv += [a if isinstance(a, str | bytes) else os.fspath(a) for a in args]
    ids: dict[str, Any] = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    done = subprocess.run(
        argv,
        capture_output=True,
        timeout=timeout,
        env=cli_env(home, env),
        cwd=cwd,
        check=False,
        **ids,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert b"unexpected error" not in done.stderr, done.stderr.decode(errors="replace")
    return Run(done.returncode, done.stdout, done.stderr)


def err_lines(run: Run) -> list[str]:
    return [line for line in run.err.splitlines() if line.strip()]


@contextmanager
def world_tmp(prefix: str = "fimt-") -> Iterator[Path]:
    """A short folder in /tmp that every user may traverse (pytest's own are 0700), removed
    afterwards even when a test left unreadable things in it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for root, dirs, _files in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)  # noqa: S103 - to remove it
        shutil.rmtree(folder, ignore_errors=True)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> content) under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    return root


# A moment with microseconds and a zone that is not UTC: what a baseline must keep exactly.
WHEN = datetime(2026, 1, 2, 10, 11, 12, 345678, tzinfo=timezone(timedelta(hours=2)))


def sample_baseline(entries: dict[str, Entry], **extra: object) -> Baseline:
    """A baseline of ``entries`` for a folder whose name is not UTF-8, with ``extra`` keys."""
    return Baseline(
        folder="/home/ann/Doc\udcffuments",
        algorithm="sha256",
        entries=entries,
        created=WHEN,
        updated=WHEN + timedelta(days=1),
        root_dev=2049,
        extra=dict(extra),
    )


def plant_link(where: Path, target: Path) -> None:
    """``where`` becomes a symlink to ``target``, whatever was there before."""
    where.parent.mkdir(parents=True, exist_ok=True)
    if where.is_symlink() or where.exists():
        where.unlink()
    where.symlink_to(target)


def plant_fifo(where: Path) -> None:
    """``where`` becomes a FIFO, whatever was there before."""
    where.parent.mkdir(parents=True, exist_ok=True)
    if where.is_symlink() or where.exists():
        where.unlink()
    os.mkfifo(where)


def is_regular(path: Path) -> bool:
    return stat.S_ISREG(os.lstat(path).st_mode)


def targeted_tree(root: Path) -> Path:
    """The small tree of the targeted-scan tests: files at three depths and an excluded one."""
    for rel in ("a.txt", "docs/b.txt", "docs/deep/c.txt", "other/d.txt", "x.swp"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


def remove_chain(root: Path, name: str = "d") -> None:
    """Remove a chain ``root/name/name/...`` too deep for ``shutil.rmtree`` (which recurses once
    per level), one level at a time: the top of the chain is lifted out and emptied of files."""
    top = root / name
    lifted = root / f".{name}.lifted"
    while top.is_dir():
        for entry in top.iterdir():
            if entry.name != name:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        child = top / name
        if child.is_dir():
            os.rename(child, lifted)
            top.rmdir()
            os.rename(lifted, top)
        else:
            top.rmdir()


def ctrl_c_reaches_it() -> None:
    """A ``preexec_fn`` for a child sent SIGINT: a suite started in the background inherits
    SIGINT ignored (as a shell leaves it for a job started with ``&``), and a Python started
    so never raises KeyboardInterrupt; a person's Ctrl-C reaches it as usual."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
