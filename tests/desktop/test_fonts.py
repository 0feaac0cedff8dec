"""The windows' hashes, paths and diffs are in a monospace font (Tk's named TkFixedFont)."""

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
