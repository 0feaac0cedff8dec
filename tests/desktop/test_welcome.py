"""The first run: no settings yet, so a short welcome offers to watch the Documents folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.desktop.conftest import Tray
from tests.desktop.harness import Desktop, wait_for
from tests.desktop.shots import window_shot
from tests.desktop.test_details import _details_window, _key

pytestmark = pytest.mark.desktop
StartTray = Callable[..., Tray]


def test_the_first_run_welcome_watches_documents_in_one_keypress(
    start_tray: StartTray, desktop: Desktop, tmp_path: Path
) -> None:
    person = tmp_path / "ann"
    documents = person / "Documents"
    documents.mkdir(parents=True)
    (documents / "letter.txt").write_text("Dear Bob\n")
    home = tmp_path / "state"
    env = {"HOME": str(person), "XDG_CONFIG_HOME": str(person / ".config")}
    tray = start_tray(home=home, env=env)
    window = _details_window(desktop, "fim-tray: Welcome")
    window_shot(desktop, window, "welcome.png")
    said = desktop.run(["xdotool", "getwindowgeometry", window]).stdout
    width = int(said.split("Geometry: ")[1].split("x")[0])
    assert width < 800, said  # its words wrap: not as wide as the screen (1280)
    _key(desktop, window, "Return")  # Watch this folder: Documents, preselected
    wait_for(lambda: tray.menu.status() == "All clear: 1 folder watched", 20, "Documents watched")
    config = json.loads((home / "config" / "config.json").read_text())
    assert [f["path"] for f in config["folders"]] == [str(documents)]
