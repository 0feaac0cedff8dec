"""How to start this same fim-tray again (a window, the tray at login): the interpreter with an
import path that the working folder cannot shadow, from a fixed working folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Python 3.10 has no -P: this runs the package as -m would, with the working folder (sys.path[0]
# is "" for -c) taken off the import path first.
_RUN_310 = (
    "import sys; del sys.path[0]; import runpy; "
    "runpy.run_module('fim_tray', run_name='__main__', alter_sys=True)"
)


def self_command(python: str | None = None) -> list[str]:
    """The command that runs this installation's fim-tray: a frozen build is its own executable;
    otherwise ``python -P -m fim_tray``, so a ``fim_tray`` folder in the working folder (or a
    ``fim_tray.py``) is never imported in its place."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    python = python or sys.executable
    if sys.version_info >= (3, 11):
        return [python, "-P", "-m", "fim_tray"]
    return [python, "-c", _RUN_310]


def child_env() -> dict[str, str]:
    """This process's environment for a child, with only absolute folders left in
    ``PYTHONPATH``: an empty or relative entry there would put the working folder back on the
    import path that ``-P`` took it off."""
    env = dict(os.environ)
    entries = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if os.path.isabs(p)]
    if entries:
        env["PYTHONPATH"] = os.pathsep.join(entries)
    else:
        env.pop("PYTHONPATH", None)
    return env


def safe_cwd() -> str:
    """The working folder a child starts in: the home folder (the root if there is none), never
    the folder the tray happened to be started from."""
    home = Path.home()
    return str(home) if home.is_dir() else os.path.abspath(os.sep)


def start_detached(args: list[str], stderr: int | None = None) -> bool:
    """Start this fim-tray with ``args`` in the background, to outlive the caller (a session of
    its own, nothing inherited but the environment and ``stderr``, a file descriptor its
    warnings go to); False when it cannot be started."""
    import subprocess

    detached = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
    try:
        subprocess.Popen(
            [*self_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL if stderr is None else stderr,
            env=child_env(),
            cwd=safe_cwd(),
            start_new_session=sys.platform != "win32",
            creationflags=detached if sys.platform == "win32" else 0,
        )
    except OSError:
        return False
    return True
