"""The windows' look: the Sun Valley ttk theme, light or dark as the desktop is (or as
``FIM_TRAY_THEME`` says), HiDPI scaling, a readable monospace font, and sizes that fit the
screen."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

log = logging.getLogger(__name__)

THEME_ENV = "FIM_TRAY_THEME"  # light or dark; unset: the desktop's setting, else light
SCALE_ENV = "FIM_TRAY_SCALE"  # a factor on top of what the screen's DPI gives (1.5, 2)
MONO = ("DejaVu Sans Mono", "Cascadia Mono", "Consolas", "Menlo", "Liberation Mono")

# Text colours that read on both themes (the status line, suspicious rows).
COLORS = {
    "light": {"bad": "#b71c1c", "good": "#1b5e20", "quiet": "#5f6368", "done": "#80868b"},
    "dark": {"bad": "#ff8a80", "good": "#9ccc65", "quiet": "#bdc1c6", "done": "#9aa0a6"},
}


def desktop_mode() -> str:
    """``light`` or ``dark``: the override, else what the desktop says (where it can tell)."""
    wanted = os.environ.get(THEME_ENV, "").strip().lower()
    if wanted in ("light", "dark"):
        return wanted
    try:
        import darkdetect

        said = darkdetect.theme()
    except Exception:  # no way to tell here: light
        log.debug("cannot tell the desktop's theme", exc_info=True)
        said = None
    return "dark" if isinstance(said, str) and said.lower() == "dark" else "light"


def before_tk() -> None:
    """What must happen before the first Tk window: on Windows, ask for sharp text at any
    DPI (else the system stretches a blurred bitmap)."""
    if sys.platform == "win32":
        try:
            import ctypes

            ctypes.windll.shcore.SetProcessDpiAwareness(1)
        except (AttributeError, OSError):
            log.debug("no per-monitor DPI awareness", exc_info=True)


def apply(root: Any) -> str:
    """Theme ``root`` (a ``tkinter.Tk``): scaling, fonts and colours. Returns the mode."""
    mode = desktop_mode()
    _scale(root)
    try:
        import sv_ttk

        sv_ttk.set_theme(mode, root)
    except Exception:  # the plain ttk look still works: never fail a window over its looks
        log.warning("the Sun Valley theme could not load", exc_info=True)
    _fonts(root)
    return mode


def colors(mode: str) -> dict[str, str]:
    return COLORS.get(mode, COLORS["light"])


def mono_family(root: Any) -> str:
    """The first readable monospace font installed, else Tk's own fixed font."""
    from tkinter import font

    families = set(font.families(root))
    return next((name for name in MONO if name in families), "TkFixedFont")


def _fonts(root: Any) -> None:
    from tkinter import font

    fixed = font.nametofont("TkFixedFont", root)
    family = mono_family(root)
    if family != "TkFixedFont":
        fixed.configure(family=family)
    size = font.nametofont("TkDefaultFont", root).cget("size")
    fixed.configure(size=size if isinstance(size, int) and size != 0 else 10)


def _scale(root: Any) -> None:
    """Tk's points-to-pixels scaling from the screen's DPI, times ``FIM_TRAY_SCALE`` or the
    desktop's integer scale (``GDK_SCALE``), so a HiDPI screen gets text of a readable size."""
    try:
        factor = float(os.environ.get(SCALE_ENV) or os.environ.get("GDK_SCALE") or 1)
    except ValueError:
        factor = 1.0
    factor = min(max(factor, 0.5), 4.0)
    dpi = float(root.winfo_fpixels("1i"))
    root.tk.call("tk", "scaling", max(dpi, 72.0) / 72.0 * factor)


def fit(root: Any, width: int, height: int, *, min_width: int = 480, min_height: int = 320) -> None:
    """Size ``root`` to what its content asks (at least ``width`` x ``height`` in points
    scaled), never beyond 90% of the screen, and centre it."""
    root.update_idletasks()
    scale = float(root.tk.call("tk", "scaling")) / (96 / 72)
    screen_w, screen_h = root.winfo_screenwidth(), root.winfo_screenheight()
    want_w = max(int(width * scale), root.winfo_reqwidth())
    want_h = max(int(height * scale), root.winfo_reqheight())
    w, h = min(want_w, int(screen_w * 0.9)), min(want_h, int(screen_h * 0.9))
    root.minsize(min(int(min_width * scale), w), min(int(min_height * scale), h))
    root.geometry(f"{w}x{h}+{max((screen_w - w) // 2, 0)}+{max((screen_h - h) // 3, 0)}")
