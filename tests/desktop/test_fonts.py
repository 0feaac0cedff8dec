"""The windows show their text whole and plain: hashes, paths and diffs in a monospace font,
list columns as wide as their text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fim_tray.app.service import Service
from fim_tray.ui.details import DetailsWindow
from tests.desktop.harness import Desktop

pytestmark = pytest.mark.desktop


def _monospace(widget: Any) -> tuple[str, object]:
    from tkinter import font

    used = font.Font(root=widget, font=widget.cget("font"))
    return used.actual("family"), used.metrics("fixed")


def test_hashes_paths_and_the_diff_are_monospace(
    desktop: Desktop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    monkeypatch.setenv("FIM_TRAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIM_TRAY_THEME", "light")
    window = DetailsWindow("1 change", [], lambda _folder: None, Service())
    try:
        _caption, before, after = window.cells["digest"]
        for widget in (window.full_path, window.diff, before, after):
            family, fixed = _monospace(widget)
            assert fixed == 1, f"{widget}: {family} is not monospace"
    finally:
        window.root.destroy()


def test_the_change_column_is_as_wide_as_its_longest_text(
    desktop: Desktop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tkinter import font, ttk

    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    monkeypatch.setenv("FIM_TRAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIM_TRAY_SCALE", "2")
    items = [{"change": "modified", "path": "a.txt", "folder": str(tmp_path), "signature": "s"}]
    window = DetailsWindow("1 change", items, lambda _folder: None, Service())
    try:
        said = "changed again (modified): see Recent changes"
        window._mark(0, said, ())
        named = ttk.Style(window.root).lookup("Treeview", "font") or "TkDefaultFont"
        need = font.Font(root=window.root, font=named).measure(said)
        assert int(window.tree.column("change", "width")) >= need
    finally:
        window.root.destroy()


def test_an_empty_alerts_list_says_what_to_do_in_one_line_across_it(
    desktop: Desktop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fim_tray.app.alerting import Alerting
    from fim_tray.ui.alerts import EMPTY, AlertsWindow

    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    monkeypatch.setenv("FIM_TRAY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIM_TRAY_SCALE", "2")
    window = AlertsWindow(Alerting(Service().paths))
    try:
        window.root.update()
        assert window.listbox.get_children() == ()  # no row cut into the columns
        assert window.empty.winfo_ismapped() and window.empty.cget("text") == EMPTY
        assert window.empty.winfo_width() > window.listbox.winfo_width() // 2  # across the list
    finally:
        window.root.destroy()


def test_the_ignore_chooser_wraps_a_long_path_to_the_screen(
    desktop: Desktop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tkinter as tk

    from fim_tray.ui import ignore, theme

    monkeypatch.setenv("DISPLAY", desktop.env["DISPLAY"])
    monkeypatch.setenv("FIM_TRAY_SCALE", "2")
    root = tk.Tk()
    theme.apply(root)
    seen: list[tuple[int, int]] = []

    def look() -> None:
        tops = [w for w in root.winfo_children() if isinstance(w, tk.Toplevel)]
        if not tops or not tops[0].winfo_ismapped():
            root.after(100, look)
            return
        tops[0].update_idletasks()
        seen.append((tops[0].winfo_reqwidth(), tops[0].winfo_screenwidth()))
        tops[0].event_generate("<Escape>")

    path = "/".join(["a-folder-with-a-long-name"] * 6) + "/report.log"
    try:
        root.after(200, look)
        assert ignore.ask(root, {"path": path}) is None  # cancelled
        width, screen = seen[0]
        assert width <= screen, (width, screen)
    finally:
        root.destroy()
