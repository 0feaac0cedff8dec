"""Shared fixtures: an isolated FIM_TRAY_HOME per test and a way to run the real command."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.store.paths import Paths

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """All of fim-tray's state for one test, under its own folder."""
    state = tmp_path / "state"
    monkeypatch.setenv("FIM_TRAY_HOME", str(state))
    yield state


@pytest.fixture
def service(home: Path) -> Service:
    return Service(Paths.default(), lock_timeout=5.0)


def run_cli(
    *args: str | os.PathLike[str],
    home: Path,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fim_tray ARGS`` as a separate process, as a person would."""
    full_env = {**os.environ, "FIM_TRAY_HOME": str(home), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "fim_tray", *map(str, args)],
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(autouse=True)
def _no_thread_left_running() -> Iterator[None]:
    """Fail any test that leaves a thread it started (daemon or not) still running."""
    before = set(threading.enumerate())
    yield
    started = [t for t in threading.enumerate() if t not in before]
    deadline = time.monotonic() + 1.0
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in started if t.is_alive()]
    if alive:
        pytest.fail(f"the test left threads running: {', '.join(alive)}")
