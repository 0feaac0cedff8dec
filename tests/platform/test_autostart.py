"""Unit tests of fim_tray.platform.autostart: the XDG entry, the LaunchAgent, the Run value.

Every writer runs here, on any OS, against a temporary home or an in-memory registry.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fim_tray.platform import autostart
from fim_tray.platform.autostart import (
    BUNDLE_ID,
    LaunchAgent,
    WindowsRun,
    XdgAutostart,
    autostart_for_platform,
    launch_command,
)
from fim_tray.platform.launch import self_command

RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")  # Desktop Entry spec, "The Exec key"
ODD_ARGS = [
    "/opt/my apps/bin/python3",
    "-m",
    "fim_tray",
    "tray",
    'say "hi"',
    "it's",
    "$HOME",
    "100%",
    "%f",
    "back\\slash",
    "C:\\Program Files\\x",
    "tick`s",
    "semi;colon",
    "tab\there",
    "new\nline",
    "ünïcødé",
    "",
]


# -- a reader of desktop entries, written from the spec ------------------------------------------


def string_unescape(raw: str) -> str:
    """Undo the escapes of a value of type string: \\s \\n \\t \\r \\\\ (any other is invalid)."""
    out, i = [], 0
    while i < len(raw):
        char = raw[i]
        if char != "\\":
            assert char >= " ", f"a raw control character in a value: {raw!r}"
            out.append(char)
            i += 1
            continue
        assert i + 1 < len(raw), f"a trailing backslash: {raw!r}"
        nxt = raw[i + 1]
        mapping = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
        assert nxt in mapping, f"an invalid escape \\{nxt} in {raw!r}"
        out.append(mapping[nxt])
        i += 2
    return "".join(out)


def expand_field_codes(arg: str) -> str:
    """Only ``%%`` (a literal percent) may appear: fim-tray is started with no file arguments."""
    out, i = [], 0
    while i < len(arg):
        if arg[i] == "%":
            assert arg[i + 1 : i + 2] == "%", f"a field code or lone % in {arg!r}"
            out.append("%")
            i += 2
        else:
            out.append(arg[i])
            i += 1
    return "".join(out)


def exec_unquote(value: str) -> list[str]:
    """Split an Exec value (already string-unescaped) into arguments, per the spec."""
    args: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        if value[i] == '"':
            i += 1
            buf = []
            while True:
                assert i < len(value), f"an unterminated quote in {value!r}"
                char = value[i]
                if char == "\\":
                    nxt = value[i + 1 : i + 2]
                    assert nxt and nxt in '"`$\\', f"an invalid quoted escape in {value!r}"
                    buf.append(nxt)
                    i += 2
                elif char == '"':
                    i += 1
                    break
                else:
                    assert char not in "`$", f"an unescaped {char} inside quotes: {value!r}"
                    buf.append(char)
                    i += 1
            assert i == len(value) or value[i] == " ", f"text right after a quote: {value!r}"
            args.append(expand_field_codes("".join(buf)))
        else:
            end = value.find(" ", i)
            end = len(value) if end < 0 else end
            word = value[i:end]
            assert not (set(word) & RESERVED), f"reserved characters unquoted: {word!r}"
            args.append(expand_field_codes(word))
            i = end
    return args


def read_entry(path: Path) -> dict[str, str]:
    """The raw (still escaped) keys of the ``[Desktop Entry]`` group."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    keys: dict[str, str] = {}
    for line in lines[1:]:
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("["), "fim-tray writes one group"
        key, sep, raw = line.partition("=")
        assert sep, line
        assert key.strip() not in keys, f"duplicate key {key}"
        keys[key.strip()] = raw.strip()
    return keys


def validate(path: Path) -> None:
    """``desktop-file-validate`` when installed; required when FIM_TRAY_REQUIRE_DESKTOP=1."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        if os.environ.get("FIM_TRAY_REQUIRE_DESKTOP") == "1":
            pytest.fail("desktop-file-validate is not installed (apt install desktop-file-utils)")
        pytest.skip("desktop-file-validate is not installed")
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in done.stdout.splitlines() if "error:" in line]
    assert done.returncode == 0 and not errors, done.stdout + done.stderr


# -- XDG ----------------------------------------------------------------------------------------


def test_xdg_enable_writes_the_entry_for_this_installation(tmp_path: Path) -> None:
    command = launch_command()
    entry = XdgAutostart(command, config_home=tmp_path / "config")
    assert not entry.enabled()
    entry.enable()
    path = tmp_path / "config" / "autostart" / "fim-tray.desktop"
    assert entry.path == path
    keys = read_entry(path)
    assert keys["Type"] == "Application"
    assert keys["Terminal"] == "false"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert "Hidden" not in keys
    argv = exec_unquote(string_unescape(keys["Exec"]))
    assert argv == [*self_command(), "tray"]
    assert os.path.isabs(argv[0])
    try_exec = string_unescape(keys["TryExec"])
    assert try_exec == sys.executable
    assert os.access(try_exec, os.X_OK)
    assert entry.enabled()
    assert path.stat().st_mode & 0o777 == 0o644


def test_xdg_exec_runs_this_checkout_of_fim_tray(tmp_path: Path) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.enable()
    argv = exec_unquote(string_unescape(read_entry(entry.path)["Exec"]))
    assert argv[:-1] == self_command() and argv[-1] == "tray"
    probe = [argv[0], "-c", "import fim_tray; print(fim_tray.__file__)"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as at login
    done = subprocess.run(
        probe, capture_output=True, text=True, cwd=tmp_path, env=env, check=True, timeout=30
    )
    import fim_tray

    assert Path(done.stdout.strip()).resolve() == Path(fim_tray.__file__).resolve()


def test_xdg_entry_passes_desktop_file_validate(tmp_path: Path) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.enable()
    validate(entry.path)


def test_xdg_entry_with_odd_characters_passes_desktop_file_validate(tmp_path: Path) -> None:
    entry = XdgAutostart(ODD_ARGS, config_home=tmp_path)
    entry.enable()
    validate(entry.path)


@pytest.mark.parametrize("arg", ODD_ARGS)
def test_xdg_exec_quoting_round_trips(tmp_path: Path, arg: str) -> None:
    command = ["/usr/bin/python3", arg, "tray"]
    entry = XdgAutostart(command, config_home=tmp_path)
    entry.enable()
    keys = read_entry(entry.path)
    assert exec_unquote(string_unescape(keys["Exec"])) == command


def test_xdg_exec_quoting_of_the_whole_odd_command(tmp_path: Path) -> None:
    entry = XdgAutostart(ODD_ARGS, config_home=tmp_path)
    entry.enable()
    keys = read_entry(entry.path)
    assert exec_unquote(string_unescape(keys["Exec"])) == ODD_ARGS
    # TryExec is a plain string (a path), not an Exec-style quoted argument
    assert string_unescape(keys["TryExec"]) == ODD_ARGS[0]


def test_xdg_known_quoting_examples(tmp_path: Path) -> None:
    """The spec's own examples: a literal ``$`` is ``\\\\$``, a backslash ``\\\\\\\\``."""
    entry = XdgAutostart(["/a b/py", "$x", "c\\d", "50%"], config_home=tmp_path)
    exec_line = entry.content().splitlines()[4]
    assert exec_line == 'Exec="/a b/py" "\\\\$x" "c\\\\\\\\d" 50%%'


def test_xdg_try_exec_with_a_space_names_the_file_itself(tmp_path: Path) -> None:
    folder = tmp_path / "my apps"
    folder.mkdir()
    python = folder / "python3"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    entry = XdgAutostart([str(python), "-m", "fim_tray", "tray"], config_home=tmp_path)
    entry.enable()
    try_exec = string_unescape(read_entry(entry.path)["TryExec"])
    assert try_exec == str(python)
    assert os.access(try_exec, os.X_OK)  # a desktop checks exactly this before starting it


@pytest.mark.parametrize(
    "line",
    ["Hidden=true", "X-GNOME-Autostart-enabled=false", "Hidden = true"],
)
def test_xdg_enabled_reads_hidden_and_gnome_disabled(tmp_path: Path, line: str) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.enable()
    assert entry.enabled()
    text = entry.path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    entry.path.write_text(text + line + "\n")
    assert not entry.enabled()


def test_xdg_enabled_with_explicit_true_values(tmp_path: Path) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.enable()
    entry.path.write_text(entry.path.read_text() + "Hidden=false\n")
    assert entry.enabled()


def test_xdg_disable_removes_the_file_and_is_idempotent(tmp_path: Path) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.disable()  # nothing there yet
    entry.enable()
    assert entry.path.exists()
    entry.disable()
    assert not entry.path.exists()
    assert not entry.enabled()
    entry.disable()
    assert not entry.enabled()
    assert entry.path.parent.is_dir()  # the autostart folder is left for others


def test_xdg_enable_twice_leaves_one_good_file(tmp_path: Path) -> None:
    entry = XdgAutostart(launch_command(), config_home=tmp_path)
    entry.enable()
    entry.enable()
    assert [p.name for p in entry.path.parent.iterdir()] == ["fim-tray.desktop"]
    assert entry.enabled()


def test_xdg_config_home_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert XdgAutostart(["x"]).path == tmp_path / "xdg" / "autostart" / "fim-tray.desktop"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "other")}
    assert XdgAutostart(["x"], env=env).path == tmp_path / "other/autostart/fim-tray.desktop"


def test_xdg_default_is_dot_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert XdgAutostart(["x"]).path == tmp_path / ".config" / "autostart" / "fim-tray.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", "")  # empty means unset, per the base dir spec
    assert XdgAutostart(["x"]).path == tmp_path / ".config" / "autostart" / "fim-tray.desktop"


def test_xdg_unreadable_entry_reads_as_disabled(tmp_path: Path) -> None:
    entry = XdgAutostart(["x"], config_home=tmp_path)
    entry.path.mkdir(parents=True)  # a folder where the file should be
    assert not entry.enabled()


# -- macOS LaunchAgent ---------------------------------------------------------------------------


def test_launch_agent_plist(tmp_path: Path) -> None:
    command = ["/Applications/fim tray.app/Contents/MacOS/fim-tray", "tray"]
    agent = LaunchAgent(command, home=tmp_path)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / "io.github.fim-tray.plist"
    assert not agent.enabled()
    agent.enable()
    with agent.path.open("rb") as handle:
        data = plistlib.load(handle)
    assert data["Label"] == BUNDLE_ID == "io.github.fim-tray"
    assert data["ProgramArguments"] == command
    assert isinstance(data["ProgramArguments"], list)
    assert data["RunAtLoad"] is True
    assert plistlib.loads(plistlib.dumps(data)) == data
    assert agent.enabled()
    agent.disable()
    assert not agent.path.exists()
    assert not agent.enabled()
    agent.disable()


def test_launch_agent_default_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert LaunchAgent(["x"]).path == tmp_path / "Library/LaunchAgents/io.github.fim-tray.plist"


def test_launch_agent_disabled_key(tmp_path: Path) -> None:
    agent = LaunchAgent(["x"], home=tmp_path)
    agent.enable()
    data = plistlib.loads(agent.path.read_bytes())
    agent.path.write_bytes(plistlib.dumps({**data, "Disabled": True}))
    assert not agent.enabled()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a plist at all",
        b"bplist00\x00\x01garbage",
        b'<?xml version="1.0"?><plist version="1.0"><dict><key>RunAtLoad</key>',  # truncated
        b'<?xml version="1.0"?><plist version="1.0"><dict><key>RunAtLoad</key><true/></dict>',
        plistlib.dumps(["RunAtLoad", True]),  # valid, but not a dict
        plistlib.dumps("RunAtLoad"),
    ],
)
def test_launch_agent_corrupt_plist_reads_as_disabled(tmp_path: Path, content: bytes) -> None:
    agent = LaunchAgent(["x"], home=tmp_path)
    agent.path.parent.mkdir(parents=True)
    agent.path.write_bytes(content)
    assert agent.enabled() is False
    agent.enable()  # and enabling repairs it
    assert agent.enabled()


# -- Windows Run value ---------------------------------------------------------------------------


class FakeRegistry:
    """The ``Run`` key in memory."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)  # like WinRegistry: a missing value is no error


def test_windows_run_value() -> None:
    python = r"C:\Program Files\Python311\pythonw.exe"
    registry = FakeRegistry({"OneDrive": r'"C:\OneDrive\OneDrive.exe" /background'})
    run = WindowsRun([python, "-m", "fim_tray", "tray"], registry)
    assert not run.enabled()
    run.enable()
    value = registry.values["fim-tray"]
    assert value == rf'"{python}" -m fim_tray tray'
    assert value == subprocess.list2cmdline([python, "-m", "fim_tray", "tray"])
    assert run.enabled()
    run.disable()
    assert "fim-tray" not in registry.values
    assert not run.enabled()
    assert registry.values == {"OneDrive": r'"C:\OneDrive\OneDrive.exe" /background'}
    run.disable()  # idempotent
    assert registry.values == {"OneDrive": r'"C:\OneDrive\OneDrive.exe" /background'}


def test_windows_run_value_without_spaces_is_not_quoted() -> None:
    registry = FakeRegistry()
    WindowsRun([r"C:\fim\fim-tray.exe", "tray"], registry).enable()
    assert registry.values == {"fim-tray": r"C:\fim\fim-tray.exe tray"}


def test_windows_run_an_empty_value_is_disabled() -> None:
    assert not WindowsRun(["x"], FakeRegistry({"fim-tray": ""})).enabled()


def test_win_registry_refuses_off_windows() -> None:
    if sys.platform == "win32":
        pytest.skip("the real registry exists here")
    with pytest.raises(OSError, match="only on Windows"):
        autostart.WinRegistry().get("fim-tray")


# -- which command, which backend ----------------------------------------------------------------


def test_launch_command_from_source() -> None:
    assert launch_command() == [*self_command(), "tray"]


def test_launch_command_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_command() == [sys.executable, "tray"]


def test_launch_command_prefers_pythonw_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / "python.exe"
    python.write_bytes(b"")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "executable", str(python))
    assert launch_command() == [str(python), *self_command()[1:], "tray"]  # no pythonw.exe yet
    (tmp_path / "pythonw.exe").write_bytes(b"")
    assert launch_command() == [str(tmp_path / "pythonw.exe"), *self_command()[1:], "tray"]


def test_launch_command_no_pythonw_off_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pythonw.exe").write_bytes(b"")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    assert launch_command()[0] == str(tmp_path / "python3")


@pytest.mark.parametrize(
    ("platform", "kind"),
    [("win32", WindowsRun), ("darwin", LaunchAgent), ("linux", XdgAutostart)],
)
def test_autostart_for_platform(
    monkeypatch: pytest.MonkeyPatch, platform: str, kind: type[object]
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    chosen = autostart_for_platform(["/x/fim-tray", "tray"])
    assert type(chosen) is kind
    assert getattr(chosen, "command", None) == ["/x/fim-tray", "tray"]


def test_autostart_for_platform_defaults_to_this_installation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    chosen = autostart_for_platform()
    assert isinstance(chosen, XdgAutostart)
    assert chosen.command == [*self_command(), "tray"]
