"""The tray's own windows as commands (child processes the tray starts, never offered to a
person): ``_settings``, ``_welcome``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fim_tray.app.service import Service


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def cmd_settings(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.ui import settings

    return settings.main()


def cmd_welcome(service: Service, args: argparse.Namespace) -> int:
    from fim_tray.ui import welcome

    return welcome.main()


PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "_settings": ("", _no_arguments),  # the Settings window, run by the tray
    "_welcome": ("", _no_arguments),  # the first-run welcome, run by the tray
}
COMMANDS = {"_settings": cmd_settings, "_welcome": cmd_welcome}
WINDOWS = frozenset(COMMANDS)  # they end the usual way, as the tray's other windows
