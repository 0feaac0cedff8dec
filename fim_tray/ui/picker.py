"""The folder chooser dialog: the platform's own, run in a child process of the tray.

Prints ``{"path": "..."}`` and exits 0 when a folder was picked, exits 1 when cancelled and 2
when no chooser exists here. ``FIM_TRAY_CHOOSER`` names a command to use instead (its first line
of output is the folder), for scripted use.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

TITLE = "fim-tray: choose a folder to watch"
PICKED, CANCELLED, NO_CHOOSER = 0, 1, 2


def chooser_command(start: str, env: dict[str, str] | None = None) -> list[str] | None:
    """The command line of the chooser to run here, or None for Tk (Windows, or nothing else)."""
    env = dict(os.environ) if env is None else env
    if env.get("FIM_TRAY_CHOOSER"):
        return shlex.split(env["FIM_TRAY_CHOOSER"])
    if sys.platform == "darwin":
        return ["osascript", "-e", f'POSIX path of (choose folder with prompt "{TITLE}")']
    if sys.platform == "win32":
        return None
    kde = "KDE" in env.get("XDG_CURRENT_DESKTOP", "").upper()
    if kde and shutil.which("kdialog"):
        return ["kdialog", "--getexistingdirectory", start, "--title", TITLE]
    if shutil.which("zenity"):
        return [
            "zenity",
            "--file-selection",
            "--directory",
            f"--title={TITLE}",
            f"--filename={start}/",
        ]
    if shutil.which("kdialog"):
        return ["kdialog", "--getexistingdirectory", start, "--title", TITLE]
    return None


def _tk_choose(start: str) -> str | None:
    """Tk's askdirectory: the native folder dialog on Windows. Only ever in this child process."""
    try:
        import tkinter
        from tkinter import filedialog
    except ImportError:
        return None
    from fim_tray.ui import theme

    theme.before_tk()  # sharp at any DPI on Windows
    root = tkinter.Tk()
    theme.apply(root)
    root.withdraw()
    root.attributes("-topmost", True)
    try:
        return filedialog.askdirectory(title=TITLE, initialdir=start, mustexist=True) or ""
    finally:
        root.destroy()


def main(start: str | None = None) -> int:
    start = start or os.path.expanduser("~")
    command = chooser_command(start)
    if command is None:
        if sys.platform.startswith("linux"):
            print("no folder chooser found: install zenity or kdialog", file=sys.stderr)
            return NO_CHOOSER
        chosen = _tk_choose(start)
        if chosen is None:
            return NO_CHOOSER
    else:
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError as exc:
            print(f"cannot start the folder chooser {command[0]}: {exc}", file=sys.stderr)
            return NO_CHOOSER
        lines = result.stdout.splitlines()
        chosen = lines[0].strip() if result.returncode == 0 and lines else ""
    if not chosen:
        return CANCELLED
    print(json.dumps({"path": os.path.abspath(chosen)}))
    return PICKED
