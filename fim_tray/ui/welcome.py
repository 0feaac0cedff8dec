"""The first-run welcome (a child process of the tray, shown when no settings exist yet): what
fim-tray does, and "Watch a folder..." with the Documents folder preselected."""

from __future__ import annotations

import os
import queue
import sys
from typing import Any

from fim_tray.ui import theme
from fim_tray.ui.wire import hear_the_tray, listen, send

TEXT = (
    "fim-tray keeps a trusted record of the folders you choose and tells you when a file in "
    "them is added, removed, altered or given new permissions. Nothing is watched yet."
)


def documents_folder() -> str:
    """The person's Documents folder when there is one, else their home."""
    try:
        import platformdirs

        found = platformdirs.user_documents_dir()
    except Exception:  # no such notion here: the home folder
        found = ""
    home = os.path.expanduser("~")
    for candidate in (found, os.path.join(home, "Documents")):
        if candidate and os.path.isdir(candidate):
            return candidate
    return home


class WelcomeWindow:
    def __init__(self, tray: queue.Queue[dict[str, Any] | None] | None = None) -> None:
        import tkinter as tk
        from tkinter import ttk

        self.tray = tray
        theme.before_tk()
        self.root = tk.Tk(className="fim-tray")
        theme.apply(self.root)
        self.root.title("fim-tray: Welcome")
        frame = ttk.Frame(self.root, padding=20)
        frame.pack(fill="both", expand=True)
        heading = ttk.Label(frame, text="Welcome to fim-tray", font=("TkDefaultFont", 14, "bold"))
        heading.pack(anchor="w", fill="x")
        theme.wrap(heading)
        # as wide as asked at first (else the window would take the whole line), then the
        # window's width
        room = int(self.root.winfo_screenwidth() * 0.9) - 2 * 20  # the widest it can be
        intro = ttk.Label(frame, text=TEXT, justify="left",
                          wraplength=min(theme.px(self.root, 460), room))  # fmt: skip
        intro.pack(anchor="w", fill="x", pady=(8, 12))
        theme.wrap(intro)  # to the window's width, whatever the screen and the scale
        ttk.Label(frame, text="Watch a folder:", underline=0).pack(anchor="w")
        self.folder = tk.StringVar(self.root, documents_folder())
        entry = ttk.Entry(frame, textvariable=self.folder, width=30, font="TkFixedFont")
        entry.pack(fill="x", pady=(4, 12))
        self.root.bind("<Alt-w>", lambda _e: entry.focus_set())
        row = ttk.Frame(frame)  # at the bottom, first to get its room: never cut off
        row.pack(fill="x", side="bottom", before=heading)
        self.buttons = {
            "watch": ttk.Button(row, text="Watch this folder", style="Accent.TButton",
                                command=self.watch),
            "choose": ttk.Button(row, text="Choose another...", command=self.choose),
            "later": ttk.Button(row, text="Not now", command=self.root.destroy),
        }  # fmt: skip
        # a narrow window (a small screen, a large scale) puts them in more rows
        theme.flow(row, [self.buttons["watch"], self.buttons["choose"]], [self.buttons["later"]])
        self.root.bind("<Return>", lambda _e: self.watch())
        self.root.bind("<Escape>", lambda _e: self.root.destroy())
        theme.fit(self.root, 520, 200, min_width=420, min_height=200)
        self.root.update()  # the buttons flow into rows at this width: room for them too
        theme.fit(self.root, 520, 200, min_width=420, min_height=200)
        if tray is not None:
            hear_the_tray(self.root, tray)

    def watch(self) -> None:
        """The tray watches the folder (its first baseline shows in the icon); this closes."""
        path = os.path.expanduser(self.folder.get().strip())
        if path:
            send({"action": "watch-path", "path": path})
            self.root.destroy()

    def choose(self) -> None:
        send({"action": "watch"})  # the tray's folder chooser
        self.root.destroy()

    def run(self) -> None:
        self.root.mainloop()


def main() -> int:
    tray = listen() if not sys.stdin.isatty() else None
    try:
        window = WelcomeWindow(tray)
    except Exception as exc:  # no display, no Tk: say so, plainly
        print(f"cannot open the welcome window: {exc}", file=sys.stderr)
        return 2
    window.run()
    return 0
