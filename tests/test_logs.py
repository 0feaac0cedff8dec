"""A one-shot command starts without logging, dataclasses or orjson, logs all the same when it
must, and ends at once with its whole output and exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fim_tray.store.paths import folder_id
from tests.helpers import cli, cli_env

HEAVY = ("logging", "dataclasses", "orjson", "shutil", "inspect")


def _python(code: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=30,
        check=False,
    )


def test_a_check_with_nothing_to_say_imports_none_of_the_heavy_modules(
    tmp_path: Path, home: Path
) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.txt").write_text("a")
    assert cli("add", tmp_path / "w", home=home).returncode == 0
    # What the interpreter's own start-up loaded (site, a .pth file of the machine's) is not
    # the check's doing: only what the check adds counts.
    code = (
        "import sys\nstarted = set(sys.modules)\nfrom fim_tray.cli import main as cli\n"
        f"code = cli.main(['check', {str(tmp_path / 'w')!r}])\n"
        f"print(code, [m for m in {HEAVY!r} if m in sys.modules and m not in started])"
    )
    done = _python(code, home)
    assert done.stdout == "0 []\n", done.stderr


def test_a_warning_is_still_shown_as_the_command_line_shows_it(tmp_path: Path, home: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a.txt").write_text("a")
    assert cli("add", tmp_path / "w", home=home).returncode == 0
    cache = home / "data" / "baselines" / f"{folder_id(str(tmp_path / 'w'))}.json.cache"
    cache.unlink()
    cache.mkdir()  # the load cache cannot be written again: a warning, and the check goes on
    run = cli("check", tmp_path / "w", home=home)
    assert run.returncode == 0
    assert run.err.startswith("fim-tray: WARNING: could not write the baseline cache "), run.err


def test_debug_messages_are_dropped_unseen_unless_asked_for(home: Path) -> None:
    code = (
        "import sys\nfrom fim_tray import logs\n"
        "logs.configure({debug}, now=False)\n"
        "logs.getLogger('fim_tray.x').debug('detail %s', 1)\n"
        "print('logging' in sys.modules)"
    )
    quiet = _python(code.format(debug=False), home)
    assert (quiet.stdout, quiet.stderr) == ("False\n", "")
    loud = _python(code.format(debug=True), home)
    assert (loud.stdout, loud.stderr) == ("True\n", "fim-tray: DEBUG: detail 1\n")


def test_a_quick_exit_keeps_all_the_output_and_the_exit_code(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    assert cli("add", folder, home=home).returncode == 0
    for i in range(3000):  # far more than a pipe holds
        (folder / f"new-{i:04d}.txt").write_text(str(i))
    run = cli("check", "--json", folder, home=home)
    assert run.returncode == 1
    lines = run.out.splitlines()
    assert len(lines) == 3000
    assert {json.loads(line)["path"] for line in lines} == {f"new-{i:04d}.txt" for i in range(3000)}
