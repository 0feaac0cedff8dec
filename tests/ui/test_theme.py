"""The windows' theme: FIM_TRAY_THEME wins, else the desktop's setting, else light."""

from __future__ import annotations

import sys
import types

import pytest

from fim_tray.ui import theme


def test_the_override_wins_and_anything_else_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    said = types.SimpleNamespace(theme=lambda: "Dark")
    monkeypatch.setitem(sys.modules, "darkdetect", said)
    monkeypatch.setenv("FIM_TRAY_THEME", "light")
    assert theme.desktop_mode() == "light"
    monkeypatch.delenv("FIM_TRAY_THEME")
    assert theme.desktop_mode() == "dark"  # as the desktop says
    said.theme = lambda: None  # it cannot tell
    assert theme.desktop_mode() == "light"
    monkeypatch.setenv("FIM_TRAY_THEME", "purple")
    assert theme.desktop_mode() == "light"
    assert theme.colors("dark")["bad"] != theme.colors("light")["bad"]


def test_a_widget_is_inside_a_frame_by_its_path_name_not_a_name_that_starts_alike() -> None:
    assert theme._inside(".!frame.!frame.!label", ".!frame.!frame")
    assert theme._inside(".!frame.!frame", ".!frame.!frame")
    assert not theme._inside(".!frame.!frame2.!label", ".!frame.!frame")  # a sibling


@pytest.mark.parametrize(
    ("scale", "gdk", "expected"),
    [("2", "", 2.0), ("nan", "", 1.0), ("inf", "", 1.0), ("-inf", "2", 2.0), ("big", "", 1.0),
     ("", "2", 2.0), ("9", "", 4.0), ("0.1", "", 0.5), ("", "", 1.0)],
)  # fmt: skip
def test_the_scale_ignores_what_is_not_a_finite_number(
    monkeypatch: pytest.MonkeyPatch, scale: str, gdk: str, expected: float
) -> None:
    monkeypatch.setenv("FIM_TRAY_SCALE", scale)
    monkeypatch.setenv("GDK_SCALE", gdk)
    assert theme.factor() == expected


def test_tk_is_never_given_a_scaling_that_is_not_a_number(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    root = types.SimpleNamespace(
        winfo_fpixels=lambda _size: 96.0, tk=types.SimpleNamespace(call=lambda *a: calls.append(a))
    )
    for said in ("nan", "inf"):
        monkeypatch.setenv("FIM_TRAY_SCALE", said)
        monkeypatch.delenv("GDK_SCALE", raising=False)
        theme._scale(root)
    assert calls == [("tk", "scaling", 96 / 72)] * 2
