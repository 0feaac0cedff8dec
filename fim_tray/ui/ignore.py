"""The details window's "Ignore..." chooser: the four ways to quiet a noisy file (this file,
this folder, files like ``*.log`` here, files like ``*.log`` everywhere in the watched folder)
as ignore patterns, and the small dialog that offers them."""

from __future__ import annotations

import posixpath
from typing import Any

from fim_tray.app.ignore import anchored
from fim_tray.store.names import name_from
from fim_tray.ui import theme


def glob_escape(text: str) -> str:
    """``text`` matched as itself by a glob pattern."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def choices(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, pattern) for each way to ignore the item's file, narrowest first, each anchored
    at the watched folder (see :func:`~fim_tray.app.ignore.anchored`); a trailing ``/`` names
    a folder."""
    rel = (name_from(item, "path") or "").strip("/")
    if not rel or rel == ".":
        return []
    parent, name = posixpath.split(rel)
    found = [(f"This file: {rel}", anchored(glob_escape(rel)))]
    if parent:
        found.append((f"This folder: {parent}/ and all in it", anchored(glob_escape(parent) + "/")))
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext and " " not in ext:
        like = "*." + glob_escape(ext)
        here = anchored(f"{glob_escape(parent)}/{like}" if parent else like)
        found.append((f"Files like {like} in {parent or 'the top folder'}", here))
        found.append((f"Files like {like} everywhere in this watched folder", like))
    return found


def _setter(variable: Any, value: str) -> Any:
    def handler(_event: object) -> None:
        variable.set(value)

    return handler


def ask(parent: Any, item: dict[str, Any]) -> str | None:
    """A small modal dialog: pick one of :func:`choices`; the pattern, or None (cancelled)."""
    import tkinter as tk
    from tkinter import ttk

    options = choices(item)
    if not options:
        return None
    top = tk.Toplevel(parent)
    top.title("fim-tray: ignore")
    top.transient(parent)
    outer = ttk.Frame(top, padding=16)
    outer.pack(fill="both", expand=True)
    answer: list[str] = []
    picked = tk.StringVar(top, value=options[0][1])

    def done(ok: bool) -> None:
        if ok:
            answer.append(picked.get())
        top.destroy()

    # The buttons and the note first, at the bottom: a short screen never cuts them off.
    row = ttk.Frame(outer)
    row.pack(side="bottom", fill="x")
    ttk.Button(row, text="Cancel", command=lambda: done(False)).pack(side="right")
    ttk.Button(row, text="Ignore", style="Accent.TButton", command=lambda: done(True)).pack(
        side="right", padx=(0, 6)
    )
    # Long paths wrap: the dialog is never wider than the screen.
    room = int(top.winfo_screenwidth() * 0.9) - theme.px(top, 2 * 16 + 40)
    note = ttk.Label(outer, text="The pending changes it covers are dropped; Undo puts them back.",
                     wraplength=min(room, theme.px(top, 420)))  # fmt: skip
    note.pack(side="bottom", anchor="w", pady=(8, 8))
    frame = ttk.Frame(outer)
    frame.pack(side="top", fill="both", expand=True)
    heading = ttk.Label(frame, text="Ignore from now on:", font=("TkDefaultFont", 11, "bold"),
                        wraplength=room)  # fmt: skip
    heading.grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 8))
    for number, (label, pattern) in enumerate(options, start=1):
        button = ttk.Radiobutton(frame, text=f"{number}.", value=pattern, variable=picked)
        button.grid(row=number, column=0, sticky="nw", pady=2)
        said = ttk.Label(frame, text=label, wraplength=room)
        said.grid(row=number, column=1, sticky="w", pady=2)
        said.bind("<Button-1>", _setter(picked, pattern))  # a click on the words picks it too
        top.bind(str(number), _setter(picked, pattern))
    frame.columnconfigure(1, weight=1)
    top.update_idletasks()
    screen_w, screen_h = top.winfo_screenwidth(), top.winfo_screenheight()
    w = min(top.winfo_reqwidth(), int(screen_w * 0.95))
    h = min(top.winfo_reqheight(), int(screen_h * 0.95))
    top.geometry(f"{w}x{h}+{max((screen_w - w) // 2, 0)}+{max((screen_h - h) // 3, 0)}")
    top.bind("<Return>", lambda _e: done(True))
    top.bind("<Escape>", lambda _e: done(False))
    top.protocol("WM_DELETE_WINDOW", lambda: done(False))
    top.wait_visibility()
    top.grab_set()
    top.focus_force()
    parent.wait_window(top)
    return answer[0] if answer else None
