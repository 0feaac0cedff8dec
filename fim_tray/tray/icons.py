"""The tray icons, drawn with Pillow for each state: a shield in the state's colour with a glyph.

Icons are drawn at 4x and scaled down, so they stay crisp from 16 to 256 px; a dark outline and
a light inner rim keep them visible on light and dark panels alike. ``python -m
fim_tray.tray.icons DIR`` writes the PNG set kept in ``assets/``.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw

State = Literal["ok", "pending", "scanning", "paused", "error"]
STATES: tuple[State, ...] = ("ok", "pending", "scanning", "paused", "error")
SIZES = (16, 22, 24, 32, 48, 64, 128, 256)

_COLOURS: dict[State, str] = {
    "ok": "#2e7d32",  # green: all clear
    "pending": "#ef6c00",  # orange: changes to review
    "scanning": "#1565c0",  # blue: recording or checking
    "paused": "#616161",  # grey: not watching
    "error": "#c62828",  # red: something is wrong
}
_OUTLINE = "#1a1a1a"
_RIM = "#ffffff"
_SCALE = 4


def _shield(size: int) -> list[tuple[float, float]]:
    """A shield outline in a square of ``size``: flat top, curved sides, pointed bottom."""
    s = size
    points = [(0.14 * s, 0.12 * s), (0.5 * s, 0.04 * s), (0.86 * s, 0.12 * s)]
    steps = 12
    for i in range(steps + 1):  # right side down to the point
        t = i / steps
        points.append((0.86 * s - 0.36 * s * t**2, 0.12 * s + 0.84 * s * t))
    for i in range(steps, -1, -1):  # left side back up
        t = i / steps
        points.append((0.14 * s + 0.36 * s * t**2, 0.12 * s + 0.84 * s * t))
    return points


def _glyph(draw: ImageDraw.ImageDraw, state: State, s: int) -> None:
    w = max(2, round(0.1 * s))
    white = "#ffffff"
    if state == "ok":
        draw.line([(0.3 * s, 0.5 * s), (0.45 * s, 0.65 * s), (0.72 * s, 0.34 * s)], white, w)
    elif state == "pending":
        draw.line([(0.5 * s, 0.24 * s), (0.5 * s, 0.56 * s)], white, w)
        r = w * 0.65
        draw.ellipse([0.5 * s - r, 0.7 * s - r, 0.5 * s + r, 0.7 * s + r], white)
    elif state == "scanning":
        box = [0.28 * s, 0.24 * s, 0.72 * s, 0.68 * s]
        draw.arc(box, 200, 520, white, w)
        draw.polygon([(0.66 * s, 0.2 * s), (0.78 * s, 0.33 * s), (0.6 * s, 0.36 * s)], white)
    elif state == "paused":
        for x in (0.39, 0.61):
            draw.line([(x * s, 0.3 * s), (x * s, 0.64 * s)], white, w)
    else:  # error
        draw.line([(0.33 * s, 0.3 * s), (0.67 * s, 0.64 * s)], white, w)
        draw.line([(0.67 * s, 0.3 * s), (0.33 * s, 0.64 * s)], white, w)


@lru_cache(maxsize=64)
def icon(state: State, size: int = 64) -> Image.Image:
    """The icon for ``state`` at ``size`` x ``size`` pixels, RGBA with a transparent background."""
    big = size * _SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    outline = _shield(big)
    draw.polygon(outline, fill=_OUTLINE)
    inset = max(_SCALE, round(big * 0.045))
    inner = [(x + (big / 2 - x) * inset / (big / 2), y + (big / 2 - y) * inset / (big / 2))
             for x, y in outline]  # fmt: skip
    draw.polygon(inner, fill=_RIM)
    inset2 = inset * 2
    core = [(x + (big / 2 - x) * inset2 / (big / 2), y + (big / 2 - y) * inset2 / (big / 2))
            for x, y in outline]  # fmt: skip
    draw.polygon(core, fill=_COLOURS[state])
    _glyph(draw, state, big)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_assets(folder: Path) -> list[Path]:
    """Write every state at every size, plus the application icon, as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for state in STATES:
        for size in SIZES:
            path = folder / f"fim-tray-{state}-{size}.png"
            icon(state, size).save(path, optimize=True)
            written.append(path)
    app = folder / "fim-tray.png"
    icon("ok", 256).save(app, optimize=True)
    written.append(app)
    return written


if __name__ == "__main__":
    for path in write_assets(Path(sys.argv[1] if len(sys.argv) > 1 else "assets")):
        print(path)
