"""Fixtures for the alert tests: the real servers of servers.py, started per test. Each is
skipped when its program is missing, but fails instead when FIM_TRAY_REQUIRE_DESKTOP=1 (or CI)
is set: there ./dev.sh test installed them, so missing means broken."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.servers import Mailbox, Rsyslog, Webhooks, rsyslogd_path

REQUIRE = os.environ.get("FIM_TRAY_REQUIRE_DESKTOP") == "1" or bool(os.environ.get("CI"))


def need(present: bool, what: str) -> None:
    if present:
        return
    message = f"{what} is missing (./dev.sh test installs it)"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    need(rsyslogd_path() is not None, "rsyslogd (the rsyslog package)")
    server = Rsyslog(tmp_path / "rsyslog").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    need(importlib.util.find_spec("aiosmtpd") is not None, "aiosmtpd")
    server = Mailbox().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    server = Webhooks().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def apprise_installed() -> None:
    installed = importlib.util.find_spec("apprise") is not None
    need(installed, "apprise (pip install 'fim-tray[alerts]')")
