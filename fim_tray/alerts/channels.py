"""The list of channels, kept in its own file in the settings folder, readable by its owner only
(0600: the URLs hold passwords and tokens), and how one message reaches one channel."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fim_tray import jsonio, logs
from fim_tray.alerts.urls import Channel, ChannelError, parse
from fim_tray.errors import StorageError

log = logs.getLogger(__name__)
VERSION = 1
TIMEOUT = 10.0  # seconds any one connect or read may take
_TOLD: set[str] = set()  # the files whose loose permissions were already logged


class DeliveryError(Exception):
    """A message did not reach its channel; the text says why, with no secret in it."""


def load(path: Path) -> list[Channel]:
    """The channels in ``path`` (none when it does not exist); a damaged file is an error."""
    try:
        data = jsonio.read_own(path, limit=1024 * 1024)
    except FileNotFoundError:
        return []
    except OSError as exc:
        why = exc.strerror or exc
        raise StorageError(f"Cannot read the alert channels {path}: {why}.") from exc
    _keep_private(path)
    try:
        urls = jsonio.loads(data)["channels"]
        if not isinstance(urls, list):
            raise TypeError("channels is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(
            f"The alert channels file {path} is damaged ({type(exc).__name__}); fix or delete it."
        ) from None
    found = []
    for url in urls:
        try:
            channel = parse(str(url), look=False)  # a missing file is told when sending
            if channel.url != url:  # as an earlier version wrote it: its outbox stays its own
                channel = channel._replace(stored=str(url))
            found.append(channel)
        except ChannelError as exc:
            log.warning("skipping an alert channel: %s", exc.message)
    return found


def _keep_private(path: Path) -> None:
    """Make the file readable by its owner only again when someone opened it up (a hand edit,
    a copy), and say so once: the URLs in it hold passwords and tokens."""
    if os.name == "nt":
        return
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
            return
        os.chmod(path, 0o600)
        done = "it is 0600 again"
    except OSError as exc:
        done = f"it could not be made 0600 ({(exc.strerror or str(exc)).lower()})"
        st = None
    if str(path) not in _TOLD:
        _TOLD.add(str(path))
        mode = f"{stat.S_IMODE(st.st_mode):04o}" if st is not None else "?"
        log.warning("the alert channels file %s was readable by others (mode %s): %s; the "
                    "passwords and tokens in it may have been read", path, mode, done)  # fmt: skip


def save(path: Path, channels: Sequence[Channel]) -> None:
    obj = {"version": VERSION, "channels": [c.stored or c.url for c in channels]}
    jsonio.atomic_write(path, jsonio.dumps(obj, pretty=True) + b"\n", mode=0o600)


def deliver(channel: Channel, messages: Sequence[dict[str, Any]], *, host: str,
            timeout: float = TIMEOUT) -> None:  # fmt: skip
    """Hand ``messages`` to ``channel``, in order: ECS events (``{"event", "time"}``) to syslog
    and JSON lines, notices (``{"title", "body"}``) to people. :class:`DeliveryError` when any
    may not have arrived (they are then all sent again)."""
    try:
        if channel.kind == "syslog":
            from fim_tray.alerts import syslog

            frames = [
                syslog.frame(m["event"], host=host, when=_when(m),
                             severity=syslog.WARNING if _suspicious(m) else syslog.NOTICE)
                for m in messages
            ]  # fmt: skip
            syslog.send(channel.transport, channel.host, channel.port, frames, timeout=timeout,
                        ca=channel.ca)  # fmt: skip
        elif channel.kind == "jsonl":
            from fim_tray.alerts import jsonl

            jsonl.append(Path(channel.path), [jsonio.dumps(m["event"]) for m in messages])
        else:
            from fim_tray.alerts import people

            for message in messages:
                people.send(channel.url, str(message["title"]), str(message["body"]),
                            timeout=timeout)  # fmt: skip
    except DeliveryError:
        raise
    except Exception as exc:  # each sender's own error, or a bug: a plain reason, never a trace
        reason = str(exc) or type(exc).__name__
        from fim_tray.alerts.urls import scrub

        raise DeliveryError(scrub(reason, channel.url)) from None


def _when(message: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(message["time"]))
    except (KeyError, ValueError):
        return datetime.now().astimezone()


def _suspicious(message: dict[str, Any]) -> bool:
    event = message.get("event")
    mine = event.get("fim_tray") if isinstance(event, dict) else None
    return bool(isinstance(mine, dict) and mine.get("suspicious"))
