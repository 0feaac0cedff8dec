"""PyInstaller runtime hook (Linux): the programs fim-tray starts (zenity, kdialog, xdg-open,
notify-send) load the system's libraries, not the ones bundled with fim-tray.

The bootloader puts the bundle first on ``LD_LIBRARY_PATH`` and re-executes itself; the dynamic
loader reads that variable once, at start, so this process keeps finding its bundled libraries
after the variable is put back. Children inherit the value put back: the one from before the
bootloader (which it keeps in ``LD_LIBRARY_PATH_ORIG``), or none. fim-tray's own dialogs are
this same executable, whose bootloader sets the variable again.
"""

import os


def _restore_library_path() -> None:
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


_restore_library_path()
