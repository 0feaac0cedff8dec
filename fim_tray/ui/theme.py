"""The windows' look: the Sun Valley ttk theme, light or dark as the desktop is (or as
``FIM_TRAY_THEME`` says), HiDPI scaling (of every font, those sized in pixels too), a readable
monospace font, and sizes that fit the screen: content that does not fit scrolls, rows of
buttons wrap, and long labels wrap to the window's width."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)

THEME_ENV = "FIM_TRAY_THEME"  # light or dark; unset: the desktop's setting, else light
SCALE_ENV = "FIM_TRAY_SCALE"  # a factor on top of what the screen's DPI gives (1.5, 2)
POLL_MS = 250  # how often a scrolled frame looks whether its content's height changed
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


def px(root: Any, pixels: float) -> int:
    """``pixels`` as meant on a 96 DPI screen at scale 1, in this screen's pixels."""
    return round(pixels * float(root.tk.call("tk", "scaling")) * 72 / 96)


def _fonts(root: Any) -> None:
    from tkinter import font, ttk

    # Fonts sized in pixels (the Sun Valley theme's) ignore Tk's scaling: scale them here, so
    # a HiDPI screen or FIM_TRAY_SCALE grows every text, not only the ones sized in points.
    for name in font.names(root):
        named = font.nametofont(name, root)
        size = named.cget("size")
        if isinstance(size, int) and size < 0:
            named.configure(size=-max(px(root, -size), 1))
    names = font.names(root)
    body = font.nametofont("SunValleyBodyFont" if "SunValleyBodyFont" in names else "TkDefaultFont",
                           root)  # fmt: skip
    ttk.Style(root).configure("Treeview", rowheight=int(body.metrics("linespace")) + px(root, 3))
    fixed = font.nametofont("TkFixedFont", root)
    family = mono_family(root)
    if family != "TkFixedFont":
        fixed.configure(family=family)
    size = font.nametofont("TkDefaultFont", root).cget("size")
    fixed.configure(size=size if isinstance(size, int) and size != 0 else 10)


def _scale(root: Any) -> None:
    """Tk's points-to-pixels scaling from the screen's DPI, times ``FIM_TRAY_SCALE`` or the
    desktop's integer scale (``GDK_SCALE``), so a HiDPI screen gets text of a readable size."""
    dpi = float(root.winfo_fpixels("1i"))
    root.tk.call("tk", "scaling", max(dpi, 72.0) / 72.0 * factor())


def factor() -> float:
    """``FIM_TRAY_SCALE``, else ``GDK_SCALE``, else 1, within 0.5 to 4 (what is not a finite
    number is ignored)."""
    for name in (SCALE_ENV, "GDK_SCALE"):
        try:
            said = float(os.environ.get(name) or "x")
        except ValueError:
            continue
        if math.isfinite(said):
            return min(max(said, 0.5), 4.0)
    return 1.0


def bring_forward(root: Any) -> None:
    """Bring the window to the front and give it the keys (the tray asks when a person opens
    a window there is one of at most, and it is open already)."""
    root.deiconify()
    root.lift()
    root.attributes("-topmost", True)
    root.after(300, lambda: root.attributes("-topmost", False))
    root.focus_force()
    print("status: raised", file=sys.stderr, flush=True)


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


def fit_column(
    tree: Any, column: str, texts: Iterable[str], *, least: int, cap: int, grow: bool = False
) -> None:
    """Make ``column`` of the list ``tree`` as wide as its longest text (``texts`` and its
    heading) in the list's font, at least ``least`` and at most ``cap`` points at scale 1 (a
    longer text is cut, and shows in full elsewhere). ``grow``: never narrower than now."""
    from tkinter import font, ttk

    named = ttk.Style(tree).lookup("Treeview", "font") or "TkDefaultFont"
    try:
        measure = font.Font(root=tree, font=named).measure
    except Exception:  # a font Tk does not know by that description: the default one
        measure = font.nametofont("TkDefaultFont", tree).measure
    heading = str(tree.heading(column, "text"))
    need = max((int(measure(text)) for text in (heading, *texts)), default=0) + px(tree, 24)
    width = min(max(need, px(tree, least)), px(tree, cap))
    if grow:
        width = max(width, int(tree.column(column, "width")))
    tree.column(column, width=width)


def wrap(label: Any) -> None:
    """Wrap ``label``'s text to its width (it must be packed or gridded to fill it)."""

    def follow(event: Any) -> None:
        width = max(int(event.width), 40)
        if label.cget("wraplength") != width:
            label.configure(wraplength=width)

    label.bind("<Configure>", follow, add="+")


def flow(frame: Any, left: Sequence[Any], right: Sequence[Any] = (), *, gap: int = 6) -> None:
    """Lay ``left`` then ``right`` (children of ``frame``, which fills its width) out in rows:
    as many as fit in a row, the rest in the next, so a narrow window never cuts a button off.
    ``right`` go to the right of the last row."""
    from tkinter import ttk

    rows: list[Any] = []
    shown: list[list[int]] = []
    widgets = [*left, *right]

    def layout(width: int) -> None:
        lines: list[list[int]] = [[]]
        used = 0
        for index, widget in enumerate(widgets):
            need = int(widget.winfo_reqwidth()) + gap
            if lines[-1] and used + need > width:
                lines.append([])
                used = 0
            lines[-1].append(index)
            used += need
        if lines == shown:
            return
        shown[:] = lines
        while len(rows) < len(lines):
            rows.append(ttk.Frame(frame))
        for number, row in enumerate(rows):
            if number < len(lines):
                row.pack(fill="x", side="top", pady=(0 if number == 0 else gap // 2, 0))
            else:
                row.pack_forget()
        for number, line in enumerate(lines):
            for index in line:
                widget = widgets[index]
                on_right = index >= len(left)
                widget.pack_forget()
                widget.pack(
                    in_=rows[number], side="right" if on_right else "left",
                    padx=(gap, 0) if on_right else (0, gap),
                )  # fmt: skip
                widget.lift(rows[number])

    def follow(event: Any) -> None:
        if int(event.width) > 1:
            layout(int(event.width))

    layout(10**6)  # one row until the frame has a width
    frame.bind("<Configure>", follow, add="+")


class Scrolled:
    """A frame (:attr:`inner`) inside :attr:`outer` that scrolls up and down when its content
    is taller than the room it has; it takes the width it is given, and the whole room when
    there is more than it needs (so what fills or expands in it still does)."""

    def __init__(self, parent: Any) -> None:
        import tkinter as tk
        from tkinter import ttk

        self.outer = ttk.Frame(parent)
        background = ttk.Style(parent).lookup("TFrame", "background") or None
        self.canvas = tk.Canvas(self.outer, highlightthickness=0, borderwidth=0)
        if background:
            self.canvas.configure(background=background)
        self.bar = ttk.Scrollbar(self.outer, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self.bar.set)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.bar.grid(row=0, column=1, sticky="ns")
        self.bar.grid_remove()
        self.outer.rowconfigure(0, weight=1)
        self.outer.columnconfigure(0, weight=1)
        self.inner = ttk.Frame(self.canvas)
        self.item = self.canvas.create_window(0, 0, window=self.inner, anchor="nw")
        self.inner.bind("<Configure>", lambda _e: self._fit(), add="+")
        self.canvas.bind("<Configure>", lambda _e: self._fit(), add="+")
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            self.outer.bind_all(sequence, self._wheel, add="+")
        self.outer.bind_all("<FocusIn>", self._focused, add="+")  # Tab to a field: it shows
        self._fitting = False
        self._fitted: tuple[int, int, int] = (0, 0, 0)
        self.outer.after(POLL_MS, self._watch)

    def _watch(self) -> None:
        """Fit again when the content asks for another height (which no event tells)."""
        placed = self.inner.winfo_width() == self._fitted[1] or not self.canvas.winfo_ismapped()
        if not placed or (self.inner.winfo_reqheight(), *self._room()) != self._fitted:
            self._fit(anew=not placed)
        self.outer.after(POLL_MS, self._watch)

    def _room(self) -> tuple[int, int]:
        have_w, have_h = self.canvas.winfo_width(), self.canvas.winfo_height()
        if have_w <= 1:  # not shown yet: the width asked for (the content's own width would
            # have what wraps in it chase it)
            return int(self.canvas.cget("width")), int(self.canvas.cget("height"))
        return have_w, have_h

    def _fit(self, *, anew: bool = False) -> None:
        if self._fitting:
            return
        self._fitting = True
        try:
            want_h = self.inner.winfo_reqheight()
            have_w, have_h = self._room()
            self._fitted = (want_h, have_w, have_h)
            height = max(want_h, have_h)
            self.canvas.itemconfigure(self.item, width=have_w, height=height)
            if anew:
                # Tk leaves a window item placed while its canvas was hidden (a notebook's
                # other tab) at that size: place it anew
                self.canvas.delete(self.item)
                self.item = self.canvas.create_window(
                    0, 0, window=self.inner, anchor="nw", width=have_w, height=height
                )
            self.canvas.configure(scrollregion=(0, 0, have_w, height))
            if want_h > have_h:
                self.bar.grid()
            else:
                self.bar.grid_remove()
                self.canvas.yview_moveto(0)
        finally:
            self._fitting = False

    def request(self) -> None:
        """Ask for the room the content wants (once, before the window is sized: asking on
        every change would make the content's width and the window's chase each other)."""
        self.inner.update_idletasks()
        self.canvas.configure(
            width=self.inner.winfo_reqwidth(), height=self.inner.winfo_reqheight()
        )

    def fits(self) -> bool:
        return self.inner.winfo_reqheight() <= self.canvas.winfo_height()

    def _wheel(self, event: Any) -> None:
        """The wheel scrolls this frame when the pointer is over it, except over a list or
        text of its own that has more than it shows (it scrolls itself)."""
        widget = event.widget
        if isinstance(widget, str):
            return
        lists = ("Treeview", "Text", "Listbox")
        if widget.winfo_class() in lists and tuple(widget.yview()) != (0.0, 1.0):
            return  # a list with more than it shows scrolls itself
        if self.fits() or not _inside(widget, self.outer):
            return
        delta = getattr(event, "delta", 0)
        step = -1 if getattr(event, "num", 0) == 4 or delta > 0 else 1
        self.canvas.yview_scroll(step, "units")

    def _focused(self, event: Any) -> None:
        widget = event.widget
        if not isinstance(widget, str) and _inside(widget, self.inner):
            self.see(widget)

    def see(self, widget: Any) -> None:
        """Scroll so that ``widget`` (inside :attr:`inner`) shows."""
        if self.fits():
            return
        top = widget.winfo_rooty() - self.inner.winfo_rooty()
        bottom = top + widget.winfo_height()
        height = max(self.inner.winfo_height(), 1)
        shown_top, shown_bottom = (float(f) * height for f in self.canvas.yview())
        if top < shown_top:
            self.canvas.yview_moveto(top / height)
        elif bottom > shown_bottom:
            self.canvas.yview_moveto((bottom - (shown_bottom - shown_top)) / height)


def _inside(widget: Any, frame: Any) -> bool:
    """Whether ``widget`` is ``frame`` or inside it (Tk's path names say so)."""
    name, outer = str(widget), str(frame)
    return name == outer or name.startswith(outer + ".")
