"""The test desktop: Xvfb, a private D-Bus session bus, dunst and a StatusNotifierWatcher.

Each piece is a real program started here and stopped by exactly the PIDs started; nothing
touches a person's own display or bus. ``missing()`` names the programs that are not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
PROGRAMS = (
    "Xvfb", "dbus-daemon", "dbus-send", "dunst", "dunstctl", "xdotool", "zenity", "import",
    "xdpyinfo", "trayer",
)  # fmt: skip


def missing() -> list[str]:
    """Programs of the test desktop not found on PATH, plus Python modules it needs."""
    absent = [p for p in PROGRAMS if shutil.which(p) is None]
    for module in ("gi", "jeepney"):
        try:
            __import__(module)
        except ImportError:
            absent.append(f"python module {module}")
    return absent


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``predicate`` every 50 ms until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Desktop:
    """A running test desktop; ``env`` is what a program needs to live on it."""

    def __init__(self, screen: str = "1280x800x24", *, panel: bool = False) -> None:
        """``panel=True`` starts a visible XEmbed tray (trayer) instead of the SNI watcher, so
        the icon and its menu show on screen, for screenshots."""
        self.panel = panel
        self.run_dir = Path(tempfile.mkdtemp(prefix="fim-tray-desktop-"))
        self.screen = screen
        self.env: dict[str, str] = {}
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _start(
        self,
        name: str,
        argv: list[str],
        stdout: IO[str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ) -> subprocess.Popen[bytes]:
        log = (self.run_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv,
            stdout=stdout or log,
            stderr=log,
            env={**os.environ, **self.env},
            pass_fds=pass_fds,
        )
        self._procs.append((name, proc))
        return proc

    def start(self) -> Desktop:
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self) -> None:
        # Xvfb picks a free display number itself (-displayfd): safe beside other runs.
        read_fd, write_fd = os.pipe()
        self._start(
            "xvfb",
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", self.screen, "-nolisten", "tcp",
             "-noreset", "+extension", "RANDR"],
            pass_fds=(write_fd,),
        )  # fmt: skip
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError(f"Xvfb did not start; see {self.run_dir / 'xvfb.log'}")
        xdg = self.run_dir / "xdg"
        xdg.mkdir(mode=0o700)
        self.env.update(
            DISPLAY=f":{number}",
            XDG_RUNTIME_DIR=str(xdg),
            NO_AT_BRIDGE="1",
            GDK_BACKEND="x11",
        )
        wait_for(lambda: self.run(["xdpyinfo"]).returncode == 0, 10, "the X server")

        # A private session bus with no service directory: nothing is auto-activated.
        address_file = self.run_dir / "bus-address"
        with address_file.open("w") as out:
            self._start(
                "dbus",
                ["dbus-daemon", f"--config-file={HERE / 'dbus-session.conf'}", "--nofork",
                 "--nopidfile", f"--address=unix:path={self.run_dir / 'bus'}", "--print-address=1"],
                stdout=out,
            )  # fmt: skip
        address = wait_for(lambda: address_file.read_text().strip(), 10, "the session bus")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = str(address).splitlines()[0]

        self._start("dunst", ["dunst", "-config", str(HERE / "dunstrc")])
        wait_for(lambda: self.name_owned("org.freedesktop.Notifications"), 10, "dunst")
        if self.panel:
            self._start(
                "trayer",
                ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                 "--height", "32", "--SetDockType", "false", "--transparent", "false",
                 "--tint", "0xdddddd", "--monitor", "primary"],
            )  # fmt: skip
            wait_for(self._tray_owned, 10, "the tray host")
        else:
            self._start("sni-watcher", [sys.executable, str(HERE / "sni_watcher.py")])
            wait_for(
                lambda: self.name_owned("org.kde.StatusNotifierWatcher"), 10, "the SNI watcher"
            )

    def _tray_owned(self) -> bool:
        """True once a tray host owns the XEmbed system tray selection."""
        script = (
            "import ctypes, ctypes.util, sys\n"
            "x = ctypes.CDLL(ctypes.util.find_library('X11'))\n"
            "x.XOpenDisplay.restype = ctypes.c_void_p\n"
            "x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]\n"
            "x.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]\n"
            "x.XGetSelectionOwner.restype = ctypes.c_ulong\n"
            "d = x.XOpenDisplay(None)\n"
            "a = x.XInternAtom(d, b'_NET_SYSTEM_TRAY_S0', 0)\n"
            "sys.exit(0 if x.XGetSelectionOwner(d, a) else 1)"
        )
        return self.run([sys.executable, "-c", script]).returncode == 0

    def run(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a program on this desktop and wait for it."""
        return subprocess.run(
            argv, env={**os.environ, **self.env}, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    def name_owned(self, name: str) -> bool:
        result = self.run(
            ["dbus-send", "--session", "--print-reply=literal", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"]
        )  # fmt: skip
        return "true" in result.stdout

    def screenshot(self, path: Path, box: tuple[int, int, int, int] | None = None) -> Path:
        """The whole screen as PNG, or only ``box`` (left, top, right, bottom) of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        result = self.run(["import", "-window", "root", str(path)])
        if result.returncode != 0:
            raise RuntimeError(f"screenshot failed: {result.stderr}")
        if box is not None:
            from PIL import Image

            with Image.open(path) as image:
                cropped = image.crop(box)
            cropped.save(path)
        return path

    def stop(self) -> None:
        """Stop every program started here, newest first: TERM, then KILL after 3 s."""
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for _name, proc in reversed(self._procs):
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3)
        self._procs.clear()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.run_dir)
