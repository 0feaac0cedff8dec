"""The notifier layer: one place picks the backend, overridable, and text stays text."""

from __future__ import annotations

import logging

import pytest

from fim_tray.platform.notify import (
    DesktopNotifierBackend,
    LogNotifier,
    PlyerNotifier,
    choose_notifier,
    markup_safe,
)


def test_markup_is_escaped_for_daemons_that_render_it() -> None:
    assert markup_safe("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_the_override_picks_the_log(caplog: pytest.LogCaptureFixture) -> None:
    notifier = choose_notifier(env={"FIM_TRAY_NOTIFIER": "log"})
    assert isinstance(notifier, LogNotifier) and not notifier.clickable
    with caplog.at_level(logging.WARNING):
        notifier.send("3 files changed in Documents", "a\nb")
    assert "3 files changed in Documents: a | b" in caplog.text


def test_without_a_session_bus_plyer_is_the_fallback() -> None:
    notifier = choose_notifier(env={})
    assert isinstance(notifier, PlyerNotifier)
    assert not notifier.clickable


def test_with_a_session_bus_desktop_notifier_is_chosen() -> None:
    notifier = choose_notifier(env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
    try:
        assert isinstance(notifier, DesktopNotifierBackend)
        assert notifier.clickable
    finally:
        notifier.close()


def test_a_failed_send_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    bus = "unix:path=/nonexistent"
    notifier = choose_notifier(
        env={"FIM_TRAY_NOTIFIER": "desktop", "DBUS_SESSION_BUS_ADDRESS": bus}
    )
    try:
        with caplog.at_level(logging.WARNING):
            notifier.send("title", "body")  # no bus there: logged, not raised
        assert any(r.levelno >= logging.WARNING for r in caplog.records)  # said, not raised
    finally:
        notifier.close()
