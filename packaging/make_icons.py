"""The installers' icon files, drawn from ``fim_tray.tray.icons``: the hicolor PNG set for Linux,
a multi-size ``.ico`` for Windows and an ``.icns`` for macOS (Pillow writes both, so no
platform tool such as ``iconutil`` is needed).

``python packaging/make_icons.py OUTDIR`` writes ``OUTDIR/hicolor/NxN/apps/fim-tray.png``,
``OUTDIR/fim-tray.ico``, ``OUTDIR/fim-tray.icns`` and ``OUTDIR/fim-tray.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from a clone: the package is next door
    sys.path.insert(0, str(REPO))

from fim_tray.tray.icons import icon  # noqa: E402

NAME = "fim-tray"  # the icon name the .desktop files (and the autostart entry) ask for
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)  # what Explorer and the taskbar ask for
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)  # every size an .icns holds (1x and 2x)


def write_hicolor(root: Path) -> list[Path]:
    """``root/NxN/apps/fim-tray.png`` at every standard size, for ``/usr/share/icons/hicolor``."""
    written = []
    for size in HICOLOR_SIZES:
        path = root / f"{size}x{size}" / "apps" / f"{NAME}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        icon("ok", size).save(path, optimize=True)
        written.append(path)
    return written


def write_ico(path: Path) -> Path:
    """A Windows icon holding each size drawn on its own (not scaled down from 256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [icon("ok", size) for size in ICO_SIZES]
    images[-1].save(
        path,
        format="ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=images[:-1],
    )
    return path


def write_icns(path: Path) -> Path:
    """A macOS icon with every size from 16 to 1024 (the 512@2x slot)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [icon("ok", size) for size in ICNS_SIZES]
    images[-1].save(path, format="ICNS", append_images=images[:-1])
    return path


def write_all(out: Path) -> list[Path]:
    """Every icon file the installers use, under ``out``."""
    written = write_hicolor(out / "hicolor")
    written.append(write_ico(out / f"{NAME}.ico"))
    written.append(write_icns(out / f"{NAME}.icns"))
    png = out / f"{NAME}.png"
    icon("ok", 256).save(png, optimize=True)
    written.append(png)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/make_icons.py OUTDIR", file=sys.stderr)
        return 2
    for path in write_all(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
