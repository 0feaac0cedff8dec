"""Desktop notifications: desktop-notifier (clickable), plyer (display only) or the log.

``choose_notifier`` is the one place a backend is picked; ``FIM_TRAY_NOTIFIER`` (``desktop``,
``plyer`` or ``log``) overrides it. A failed send logs a warning and never takes the app down.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

ENV = "FIM_TRAY_NOTIFIER"
Clicked = Callable[[], None]


def markup_safe(text: str) -> str:
    """Freedesktop daemons may render body markup: a file named ``<b>x</b>`` must stay text."""
    return html.escape(text, quote=False)


class Notifier(Protocol):
    name: str
    clickable: bool

    def send(self, title: str, body: str, on_clicked: Clicked | None = None) -> bool:
        """Show it; False when it could not be shown (the service did not answer)."""

    def close(self) -> None: ...


class LogNotifier:
    """For headless use and as the last resort: the notification goes to the log."""

    name = "log"
    clickable = False

    def send(self, title: str, body: str, on_clicked: Clicked | None = None) -> bool:
        log.warning("%s: %s", title, body.replace("\n", " | "))
        return True

    def close(self) -> None:
        pass


class DesktopNotifierBackend:
    """desktop-notifier on its own asyncio loop thread, which its click callbacks need."""

    name = "desktop-notifier"
    clickable = True

    def __init__(self, app_name: str, icon: Path | None = None) -> None:
        from desktop_notifier import DesktopNotifier, Icon

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fim-tray-notify", daemon=True
        )
        self._thread.start()
        kwargs: dict[str, Any] = {"app_name": app_name}
        if icon is not None:
            kwargs["app_icon"] = Icon(path=icon)
        self._notifier = DesktopNotifier(**kwargs)

    def send(self, title: str, body: str, on_clicked: Clicked | None = None) -> bool:
        if sys.platform.startswith("linux"):
            title, body = markup_safe(title), markup_safe(body)
        future = asyncio.run_coroutine_threadsafe(
            self._notifier.send(title=title, message=body, on_clicked=on_clicked), self._loop
        )
        try:
            future.result(timeout=10)
        except Exception:
            log.warning("desktop notification failed: %s", title, exc_info=True)
            return False
        return True

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


class PlyerNotifier:
    """plyer: shows a notification everywhere it can, but a click reaches nobody."""

    name = "plyer"
    clickable = False

    def __init__(self, app_name: str, icon: Path | None = None) -> None:
        from plyer import notification

        self._notification = notification
        self._app_name = app_name
        self._icon = str(icon) if icon is not None else ""

    def send(self, title: str, body: str, on_clicked: Clicked | None = None) -> bool:
        if sys.platform.startswith("linux"):
            title, body = markup_safe(title), markup_safe(body)
        try:
            self._notification.notify(
                title=title, message=body, app_name=self._app_name, app_icon=self._icon, timeout=10
            )
        except Exception:
            log.warning("plyer notification failed: %s", title, exc_info=True)
            return False
        return True

    def close(self) -> None:
        pass


def _desktop_notifier_works(env: Mapping[str, str]) -> bool:
    """desktop-notifier needs a session bus on Linux and an app bundle on macOS."""
    if sys.platform.startswith("linux"):
        bus = env.get("DBUS_SESSION_BUS_ADDRESS")
        runtime = env.get("XDG_RUNTIME_DIR")
        return bool(bus) or bool(runtime and os.path.exists(os.path.join(runtime, "bus")))
    if sys.platform == "darwin":
        return ".app/Contents/" in sys.executable
    return sys.platform == "win32"


def choose_notifier(
    app_name: str = "fim-tray", icon: Path | None = None, env: Mapping[str, str] | None = None
) -> Notifier:
    """The best backend that works here, or the one ``FIM_TRAY_NOTIFIER`` names."""
    env = os.environ if env is None else env
    wanted = env.get(ENV, "").strip().lower()
    if wanted not in ("", "log", "desktop", "desktop-notifier", "plyer"):
        log.warning("%s=%s is not desktop, plyer or log: chosen as if unset", ENV, wanted)
        wanted = ""
    if wanted == "log":
        return LogNotifier()
    if wanted in ("", "desktop", "desktop-notifier") and (wanted or _desktop_notifier_works(env)):
        try:
            return DesktopNotifierBackend(app_name, icon)
        except Exception:
            log.warning("desktop-notifier is not usable here", exc_info=True)
    if wanted in ("", "plyer", "desktop", "desktop-notifier"):
        try:
            return PlyerNotifier(app_name, icon)
        except Exception:
            log.warning("plyer is not usable here", exc_info=True)
    return LogNotifier()
