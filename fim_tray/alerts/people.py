"""Messages for people (email, SMS, ntfy, Telegram, Slack, Matrix, Pushover, webhooks) through
apprise, an optional library imported only here and only when a channel needs it: never on the
path of a check. Its errors come back as one plain reason with the URL's secrets masked."""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

from fim_tray.alerts.urls import INSTALL, ChannelError, mask, scrub

_EMAIL = ("mailto", "mailtos")


class PeopleError(Exception):
    """A message was not delivered; the text says why, for a person (no secret in it)."""


def available() -> bool:
    """Whether apprise is installed (found without importing it)."""
    return importlib.util.find_spec("apprise") is not None


def _apprise() -> Any:
    if not available():
        how = (  # a frozen build cannot take a pip install: it was built without apprise
            "this build of fim-tray was made without it; install fim-tray with pip instead: "
            if getattr(sys, "frozen", False)
            else ""
        )
        raise ChannelError(
            "sending to people (email, SMS, ntfy, chat, webhooks) needs the apprise library: "
            f"{how}{INSTALL}"
        )
    _Capture.install()  # before the import, which logs already
    import apprise

    return apprise


def check(url: str) -> None:
    """:class:`ChannelError` unless apprise is there and understands ``url``."""
    apprise = _apprise()
    with _captured() as said:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is not None:
        return
    plugins: Any = importlib.import_module("apprise.manager_plugins").NotificationManager()
    scheme = url.partition("://")[0].lower()
    if scheme in plugins.schemas():
        warnings = [
            line.partition(" ")[2].rstrip(".") for line in said if line.startswith("WARNING")
        ]  # fmt: skip
        why = f" ({scrub(warnings[0], url)})" if warnings else ""
        raise ChannelError(
            f"{mask(url)!r} is not a {scheme}:// URL apprise can use{why}: see apprise's page "
            f"for {scheme}:// for how to write it."
        )
    raise ChannelError(
        f"{mask(url)!r} is not a channel fim-tray knows: use syslog+tcp://, syslog+udp://, "
        "syslog+tls://, jsonl:/// or an apprise URL (mailto://, ntfy://, tgram://, twilio://, "
        "slack://, json://, ...)."
    )


def send(url: str, title: str, body: str, *, timeout: float = 10.0) -> None:
    """Deliver one message; :class:`PeopleError` with the reason when it was not."""
    try:
        apprise = _apprise()
    except ChannelError as exc:
        raise PeopleError(exc.message) from None
    target = url
    if url.partition("://")[0].lower() in _EMAIL and "format=" not in url:
        target += ("&" if "?" in url else "?") + "format=text"  # keeps the body's lines apart
    # Sent by the plugin itself, in this thread (not apprise's pool), so that what it logs is
    # this message's, and a slow server holds up this channel's sender only.
    with _captured() as said:
        plugin = apprise.Apprise.instantiate(target, suppress_exceptions=True)
        if plugin is None:
            raise PeopleError("apprise does not understand this URL")
        # Never wait long on a silent server: each connect and each read is bounded.
        plugin.socket_connect_timeout = timeout
        plugin.socket_read_timeout = timeout
        try:
            ok = plugin.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        except Exception as exc:  # a plugin's own bug: a reason, never a traceback
            raise PeopleError(scrub(f"{type(exc).__name__}: {exc}", url)) from None
    if not ok:
        raise PeopleError(scrub(_reason("\n".join(said)), url))


class _Capture:
    """apprise's log lines, kept per thread (several channels send at once) and never passed on
    to fim-tray's own log: its debug lines (and those of the HTTP library under it) hold
    payloads and URLs."""

    local = threading.local()
    installed = False
    lock = threading.Lock()

    @classmethod
    def install(cls) -> None:
        with cls.lock:
            if cls.installed:
                return
            import logging

            class Handler(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    lines = getattr(_Capture.local, "lines", None)
                    if lines is not None:
                        lines.append(f"{record.levelname} {record.getMessage()}")

            logger = logging.getLogger("apprise")
            logger.addHandler(Handler(logging.DEBUG))
            logger.setLevel(logging.DEBUG)
            for name in ("apprise", "urllib3", "requests"):  # their debug lines hold URLs
                logging.getLogger(name).propagate = False
            cls.installed = True


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    _Capture.install()
    lines: list[str] = []
    _Capture.local.lines = lines
    try:
        yield lines
    finally:
        _Capture.local.lines = None


def _reason(log: str) -> str:
    """What apprise logged about the failure, in one line: its last warning, and the cause
    its debug lines name (``connection refused``, ``timed out``)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    warnings = [line.partition(" ")[2] for line in lines if line.startswith(("WARNING", "ERROR"))]
    said = warnings[-1].rstrip(".") if warnings else "the server did not accept it"
    causes = [line.partition(" ")[2] for line in lines if "Exception" in line.split(":")[0]]
    if causes:
        found = _ERRNO.search(causes[-1])
        cause = found[1] if found else causes[-1].partition(":")[2]
        cause = cause.strip().strip("'\")(").lower()
        if cause and cause not in said.lower():
            said += f": {cause}"
    return said[:300]


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")
