"""Start at login: an XDG autostart entry on Linux, a LaunchAgent on macOS, the per-user ``Run``
registry value on Windows. One small class per OS behind one interface, picked in one function.

The state is read from the OS's own artefact every time; nothing else is stored.
"""

from __future__ import annotations

import os
import plistlib
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol
from xml.parsers.expat import ExpatError

from fim_tray import APP_NAME
from fim_tray.jsonio import atomic_write
from fim_tray.platform.launch import self_command

BUNDLE_ID = "io.github.fim-tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class Autostart(Protocol):
    def enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


def launch_command() -> list[str]:
    """The command that starts exactly this installation's tray."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "tray"]
    python = sys.executable
    if sys.platform == "win32":  # pythonw.exe: no console window at login
        windowed = Path(python).with_name("pythonw.exe")
        python = str(windowed) if windowed.exists() else python
    return [*self_command(python), "tray"]


def _desktop_quote(arg: str) -> str:
    """Quote one argument for a .desktop file's Exec key (Desktop Entry spec, "Exec key")."""
    arg = arg.replace("%", "%%")
    if arg and not re.search(r"""[\s"'\\><~|&;$*?#()`]""", arg):
        return arg
    escaped = re.sub(r'(["`$\\])', r"\\\1", arg)
    return f'"{escaped}"'


def _desktop_string(text: str) -> str:
    """A value of type string: backslashes and control characters escaped (\\\\, \\n, \\t, \\r)."""
    for char, escape in (("\\", "\\\\"), ("\n", "\\n"), ("\t", "\\t"), ("\r", "\\r")):
        text = text.replace(char, escape)
    return text


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/fim-tray.desktop``, which every XDG desktop starts at login."""

    def __init__(
        self, command: Sequence[str], config_home: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        env = os.environ if env is None else env
        base = config_home or Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        self.path = base / "autostart" / f"{APP_NAME}.desktop"
        self.command = list(command)

    def content(self) -> str:
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=fim-tray\n"
            "Comment=File Integrity Monitor in the system tray\n"
            f"Exec={_desktop_string(' '.join(_desktop_quote(a) for a in self.command))}\n"
            f"TryExec={_desktop_string(self.command[0])}\n"  # a plain path, not Exec-quoted
            "Icon=fim-tray\n"
            "Terminal=false\n"
            "Categories=Utility;Security;\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    def enabled(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        lines = {
            re.sub(r"\s*=\s*", "=", line.strip(), count=1).lower() for line in text.splitlines()
        }
        return not ({"hidden=true", "x-gnome-autostart-enabled=false"} & lines)

    def enable(self) -> None:
        atomic_write(self.path, self.content().encode(), mode=0o644)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


class LaunchAgent:
    """``~/Library/LaunchAgents/<bundle id>.plist`` with RunAtLoad: launchd starts it at login."""

    def __init__(self, command: Sequence[str], home: Path | None = None) -> None:
        self.path = (home or Path.home()) / "Library" / "LaunchAgents" / f"{BUNDLE_ID}.plist"
        self.command = list(command)

    def content(self) -> bytes:
        return plistlib.dumps(
            {
                "Label": BUNDLE_ID,
                "ProgramArguments": self.command,  # a list: one string would be one executable
                "RunAtLoad": True,
                "ProcessType": "Interactive",
                "AssociatedBundleIdentifiers": [BUNDLE_ID],
            }
        )

    def enabled(self) -> bool:
        try:
            data = plistlib.loads(self.path.read_bytes())
        except (OSError, ValueError, ExpatError):  # ExpatError: a truncated or malformed XML plist
            return False
        if not isinstance(data, dict):
            return False
        return bool(data.get("RunAtLoad")) and not data.get("Disabled", False)

    def enable(self) -> None:
        atomic_write(self.path, self.content(), mode=0o644)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)


class Registry(Protocol):
    """The few operations on ``HKCU\\...\\Run`` that autostart needs."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class WinRegistry:
    """The real per-user ``Run`` key (imported only on Windows)."""

    def get(self, name: str) -> str | None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except OSError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


class WindowsRun:
    """The ``fim-tray`` value under ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``."""

    def __init__(self, command: Sequence[str], registry: Registry | None = None) -> None:
        self.command = list(command)
        self.registry = registry or WinRegistry()

    def value(self) -> str:
        return subprocess.list2cmdline(self.command)  # quotes a path with spaces

    def enabled(self) -> bool:
        return bool(self.registry.get(APP_NAME))

    def enable(self) -> None:
        self.registry.set(APP_NAME, self.value())

    def disable(self) -> None:
        self.registry.delete(APP_NAME)


def autostart_for_platform(command: Sequence[str] | None = None) -> Autostart:
    """The start-at-login backend of this OS, for ``command`` (this installation by default)."""
    command = list(command or launch_command())
    if sys.platform == "win32":
        return WindowsRun(command)
    if sys.platform == "darwin":
        return LaunchAgent(command)
    return XdgAutostart(command)
