"""The installers: the PyInstaller build (made once per session) and its command line, the
Linux menu entry, AppStream metadata and .deb, the icon files, the macOS and Windows settings
that must agree with the app, and a pip install into a fresh venv.

The build itself is smoke-tested on the test desktop in tests/desktop/test_frozen.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

import fim_tray
from fim_tray import APP_NAME
from fim_tray.platform.autostart import BUNDLE_ID, RUN_KEY, WindowsRun
from tests.alerts.servers import Webhooks
from tests.conftest import REPO

REQUIRE = os.environ.get("FIM_TRAY_REQUIRE_DESKTOP") == "1"
PACKAGING = REPO / "packaging"
SPEC = PACKAGING / "fim-tray.spec"
PYPROJECT = REPO / "pyproject.toml"
LINUX = PACKAGING / "linux"
DESKTOP_FILE = LINUX / f"{BUNDLE_ID}.desktop"
METAINFO = LINUX / f"{BUNDLE_ID}.metainfo.xml"
ON_LINUX = sys.platform.startswith("linux")
BUILD_TIMEOUT = 600


def need(present: bool, what: str) -> None:
    """Skip when ``what`` is missing, but fail when FIM_TRAY_REQUIRE_DESKTOP=1 (CI)."""
    if present:
        return
    message = f"{what} (./dev.sh test installs it)"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"{name} is not installed (Debian package {package})")
    assert path is not None
    return path


def load_make_icons() -> ModuleType:
    """packaging/make_icons.py, loaded by path (``packaging`` is also a PyPI package's name)."""
    path = PACKAGING / "make_icons.py"
    spec = importlib.util.spec_from_file_location("fim_tray_make_icons", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the PyInstaller build, once per session --------------------------------------------------


@dataclass(frozen=True)
class FrozenApp:
    """A finished one-folder build."""

    folder: Path  # dist/fim-tray: the executable(s) and _internal/
    exe: Path  # the executable that runs the command line (and, on Linux, the tray)
    seconds: float  # how long the build took

    @property
    def internal(self) -> Path:
        return self.folder / "_internal"

    def run(
        self, *args: str | Path, home: Path, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the built command as a person would: no PYTHONPATH, from another folder."""
        full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        full.update(FIM_TRAY_HOME=str(home), **(env or {}))
        return subprocess.run(
            [str(self.exe), *map(str, args)], capture_output=True, text=True, env=full,
            cwd=home.parent, timeout=timeout, check=False,
        )  # fmt: skip


_BUILT: dict[str, FrozenApp | str] = {}  # one build per session, shared by every fixture


def build_frozen(factory: pytest.TempPathFactory) -> FrozenApp:
    """Build packaging/fim-tray.spec into a temporary folder (once per session) and return it."""
    done = _BUILT.get("app")
    if isinstance(done, FrozenApp):
        return done
    if isinstance(done, str):
        pytest.fail(done)
    need(importlib.util.find_spec("PyInstaller") is not None,
         "PyInstaller is not installed (it is in the test extra)")  # fmt: skip
    root = factory.mktemp("frozen")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(root / "dist"), "--workpath", str(root / "work"), str(SPEC)],
        capture_output=True, text=True, cwd=root, timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    folder = root / "dist" / "fim-tray"
    if sys.platform == "win32":
        exe = folder / "fim-tray-cli.exe"
    elif sys.platform == "darwin":
        exe = root / "dist" / "fim-tray.app" / "Contents" / "MacOS" / "fim-tray"
    else:
        exe = folder / "fim-tray"
    if result.returncode != 0 or not exe.exists():
        _BUILT["app"] = f"the PyInstaller build failed:\n{result.stderr[-6000:]}"
        pytest.fail(str(_BUILT["app"]))
    shutil.rmtree(root / "work", ignore_errors=True)
    app = FrozenApp(folder, exe, seconds)
    _BUILT["app"] = app
    return app


@pytest.fixture(scope="session")
def frozen_app(tmp_path_factory: pytest.TempPathFactory) -> FrozenApp:
    return build_frozen(tmp_path_factory)


def test_the_frozen_command_line_records_and_checks_with_its_exit_codes(
    frozen_app: FrozenApp, tmp_path: Path
) -> None:
    home = tmp_path / "state"
    version = frozen_app.run("--version", home=home)
    assert (version.returncode, version.stdout.strip()) == (0, f"fim-tray {fim_tray.__version__}")

    watched = tmp_path / "Documents"
    (watched / "notes").mkdir(parents=True)
    (watched / "notes" / "todo.txt").write_text("buy milk\n")
    (watched / "tax.pdf").write_bytes(b"%PDF-1.4 ...")

    added = frozen_app.run("add", watched, home=home)
    assert added.returncode == 0, added.stderr
    assert "watching" in added.stderr and "sha256" in added.stderr
    clean = frozen_app.run("check", home=home)
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr

    (watched / "notes" / "todo.txt").write_text("buy milk and bread\n")
    (watched / "new.txt").write_text("new")
    changed = frozen_app.run("check", "--json", home=home)
    assert changed.returncode == 1, changed.stderr
    found = {(obj["change"], obj["path"]) for obj in map(json.loads, changed.stdout.splitlines())}
    assert found == {("modified", "notes/todo.txt"), ("added", "new.txt")}

    assert frozen_app.run("accept", home=home).returncode == 0
    assert frozen_app.run("check", home=home).returncode == 0

    shutil.rmtree(watched)
    gone = frozen_app.run("check", home=home)
    assert gone.returncode == 2
    assert "Traceback" not in gone.stderr


def test_the_frozen_tray_says_what_is_missing_without_a_display(
    frozen_app: FrozenApp, tmp_path: Path
) -> None:
    if not ON_LINUX:
        pytest.skip("only Linux needs a display server to be named")
    no_display = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    result = frozen_app.run("tray", home=tmp_path / "state", env=no_display)
    assert result.returncode == 2
    assert "no desktop display found" in result.stderr


def test_the_frozen_app_sends_to_people_through_the_apprise_plugins_it_carries(
    frozen_app: FrozenApp, tmp_path: Path
) -> None:
    """apprise finds its plugins by listing its plugins folder: the build must carry them."""
    need(importlib.util.find_spec("apprise") is not None,
         "apprise is not installed (the alerts extra), so the build has none")  # fmt: skip
    home = tmp_path / "state"
    webhooks = Webhooks().start()
    try:
        sent = frozen_app.run("alert", "test", f"json://127.0.0.1:{webhooks.port}/hook", home=home)
    finally:
        webhooks.stop()
    assert sent.returncode == 0, sent.stderr
    assert "Webhook" in sent.stderr and "delivered" in sent.stderr
    assert [path for path, _, _ in webhooks.requests] == ["/hook"]
    message = json.loads(webhooks.requests[0][1])
    assert message["title"] == "fim-tray: test message"
    assert "A test message from fim-tray" in message["message"]

    mail = "mailto://ann:s3cret@127.0.0.1:9?from=fim@localhost&to=bob@localhost&mode=insecure"
    for url, name in ((mail, "Email"), ("ntfy://127.0.0.1:9/fim-alerts", "ntfy")):
        added = frozen_app.run("alert", "add", url, home=home)
        assert added.returncode == 0, added.stderr
        assert f"added {name}" in added.stderr and "needs the apprise library" not in added.stderr
    unknown = frozen_app.run("alert", "add", "nosuch://127.0.0.1", home=home)
    assert unknown.returncode == 2 and "is not a channel fim-tray knows" in unknown.stderr
    assert "Traceback" not in sent.stderr + unknown.stderr
    assert (frozen_app.internal / "certifi" / "cacert.pem").exists()  # for https:// servers


def test_the_linux_build_carries_gi_appindicator_and_its_typelibs(frozen_app: FrozenApp) -> None:
    if not ON_LINUX:
        pytest.skip("the Linux build's contents")
    internal = frozen_app.internal
    typelibs = {p.name for p in (internal / "gi_typelibs").glob("*.typelib")}
    for needed in ("AyatanaAppIndicator3-0.1", "Gtk-3.0", "Gdk-3.0", "GLib-2.0", "GObject-2.0",
                   "Gio-2.0", "GdkPixbuf-2.0"):  # fmt: skip
        assert f"{needed}.typelib" in typelibs, sorted(typelibs)
    libs = {p.name for p in internal.iterdir()}
    assert "libayatana-appindicator3.so.1" in libs
    assert "libgtk-3.so.0" in libs
    assert list((internal / "gi").glob("_gi.*.so")), "PyGObject's extension is missing"
    assert (internal / "desktop_notifier" / "resources" / "python.png").exists()
    assert "librsvg-2.so.2" not in libs  # trimmed on purpose: see the spec
    for size in load_make_icons().HICOLOR_SIZES:
        png = internal / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "fim-tray.png"
        with Image.open(png) as image:
            assert image.size == (size, size)


# -- the icon files ----------------------------------------------------------------------------


def test_the_icon_files_hold_every_size_with_a_transparent_background(tmp_path: Path) -> None:
    make_icons = load_make_icons()
    make_icons.write_all(tmp_path)
    for size in (16, 22, 24, 32, 48, 64, 128, 256):
        with Image.open(tmp_path / "hicolor" / f"{size}x{size}" / "apps" / "fim-tray.png") as png:
            assert png.size == (size, size) and png.mode == "RGBA"
            assert png.getpixel((0, 0)) == (0, 0, 0, 0)  # transparent, so any panel shows through
            assert png.getpixel((size // 2, size // 2))[3] == 255
    with Image.open(tmp_path / "fim-tray.ico") as ico:
        assert ico.format == "ICO"
        assert {(s, s) for s in (16, 24, 32, 48, 256)} <= set(ico.info["sizes"])
    with Image.open(tmp_path / "fim-tray.icns") as icns:
        assert icns.format == "ICNS"
        assert {(16, 16, 2), (128, 128, 1), (256, 256, 1), (512, 512, 2)} <= set(icns.info["sizes"])
    assert make_icons.NAME == APP_NAME  # the name the .desktop files and autostart entry use


# -- Linux: the menu entry, AppStream metadata and .deb -------------------------------------


def _desktop_keys(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


def test_the_desktop_entry_is_valid_and_starts_the_tray() -> None:
    tool = need_tool("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([tool, str(DESKTOP_FILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "error" not in result.stdout.lower(), result.stdout
    keys = _desktop_keys(DESKTOP_FILE)
    assert keys["Exec"] == "fim-tray tray"
    assert re.search(r'^fim-tray = "fim_tray\.cli\.main:run"$', PYPROJECT.read_text(), re.M)
    assert keys["TryExec"] == "fim-tray"
    assert keys["Icon"] == load_make_icons().NAME
    assert keys["Terminal"] == "false"


def test_the_appstream_metadata_is_valid_and_agrees_with_the_app() -> None:
    tool = need_tool("appstreamcli", "appstream")
    result = subprocess.run([tool, "validate", "--no-net", str(METAINFO)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    root = ET.parse(METAINFO).getroot()  # noqa: S314 - our own file
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == BUNDLE_ID
    assert root.findtext("launchable") == DESKTOP_FILE.name
    assert root.findtext("provides/binary") == "fim-tray"
    license_text = re.search(r'^license = "(.+)"$', PYPROJECT.read_text(), re.M)
    assert license_text is not None and root.findtext("project_license") == license_text[1]
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == fim_tray.__version__


@dataclass(frozen=True)
class Deb:
    path: Path
    fields: dict[str, str]
    contents: dict[str, str]  # path in the package -> its `ls -l`-style line


@pytest.fixture(scope="session")
def deb(frozen_app: FrozenApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deb]:
    if not ON_LINUX:
        pytest.skip("the .deb is built on Linux")
    tool = need_tool("dpkg-deb", "dpkg")
    out = tmp_path_factory.mktemp("deb")
    env = {**os.environ, "DEB_COMPRESSION": "gzip", "DEB_LEVEL": "1"}  # quick, for the test
    result = subprocess.run(
        [str(LINUX / "build-deb.sh"), str(frozen_app.folder), str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.parent == out and path.exists()
    info = subprocess.run([tool, "--field", str(path)], capture_output=True, text=True, check=True)
    fields: dict[str, str] = {}
    for line in info.stdout.splitlines():
        if line and not line[0].isspace():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    listing = subprocess.run([tool, "--contents", str(path)], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    contents = {}
    for line in listing.splitlines():
        name = line.split(None, 5)[5].split(" -> ")[0]
        contents[name.removeprefix(".").rstrip("/") or "/"] = line
    yield Deb(path, fields, contents)
    path.unlink(missing_ok=True)


def test_the_deb_installs_the_build_the_menu_entry_metadata_and_icons(deb: Deb) -> None:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    assert deb.path.name == f"fim-tray_{fim_tray.__version__}_{arch}.deb"
    assert deb.fields["Package"] == "fim-tray"
    assert deb.fields["Version"] == fim_tray.__version__
    assert deb.fields["Architecture"] == arch
    assert re.match(r"libc6 \(>= 2\.\d+\)", deb.fields["Depends"])

    exe = deb.contents["/opt/fim-tray/fim-tray"]
    assert exe.startswith("-rwxr-xr-x root/root")
    assert any(name.startswith("/opt/fim-tray/_internal/gi_typelibs/") for name in deb.contents)
    assert deb.contents["/usr/bin/fim-tray"].startswith("lrwxrwxrwx")
    assert deb.contents["/usr/bin/fim-tray"].endswith(" -> /opt/fim-tray/fim-tray")
    assert f"/usr/share/applications/{DESKTOP_FILE.name}" in deb.contents
    assert f"/usr/share/metainfo/{METAINFO.name}" in deb.contents
    assert "/usr/share/doc/fim-tray/copyright" in deb.contents
    icons = sorted(n for n in deb.contents if n.startswith("/usr/share/icons/") and ".png" in n)
    sizes = load_make_icons().HICOLOR_SIZES
    assert icons == sorted(f"/usr/share/icons/hicolor/{s}x{s}/apps/fim-tray.png" for s in sizes)
    assert not [n for n in deb.contents if n.startswith("/opt/fim-tray/_internal/icons")]


def test_the_deb_payload_runs_and_carries_the_files_under_test(deb: Deb, tmp_path: Path) -> None:
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb.path), str(root)], check=True)
    for name in (DESKTOP_FILE.name, METAINFO.name):
        sub = "applications" if name.endswith(".desktop") else "metainfo"
        installed = root / "usr" / "share" / sub / name
        assert installed.read_bytes() == (LINUX / name).read_bytes()
    result = subprocess.run([str(root / "opt" / "fim-tray" / "fim-tray"), "--version"],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.stdout.strip() == f"fim-tray {fim_tray.__version__}", result.stderr


def _package_of(library: str) -> str:
    for candidate in (library, os.path.realpath(library)):
        found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True,
                               check=False)  # fmt: skip
        if found.returncode == 0:
            return found.stdout.split(":", 1)[0]
    raise AssertionError(f"no Debian package owns {library}")


def test_the_deb_depends_on_every_library_the_build_leaves_to_the_system(
    frozen_app: FrozenApp, deb: Deb
) -> None:
    need_tool("ldd", "libc-bin")
    env = {**os.environ, "LD_LIBRARY_PATH": str(frozen_app.internal)}  # as the bootloader does
    outside: set[str] = set()
    missing: list[str] = []
    for path in sorted(frozen_app.folder.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env,
                             check=False).stdout  # fmt: skip
        for line in out.splitlines():
            if "not found" in line:
                missing.append(f"{path.name}: {line.strip()}")
            elif "=> /" in line:
                lib = line.split("=>", 1)[1].split("(")[0].strip()
                if not Path(lib).resolve().is_relative_to(frozen_app.folder.resolve()):
                    outside.add(lib)
    assert missing == []
    assert outside, "ldd found no system library at all: the check is not working"
    depends = {re.split(r"[\s(]", d.strip())[0] for d in re.split(r"[,|]", deb.fields["Depends"])}
    packages = {_package_of(lib) for lib in outside}
    assert packages <= depends, f"the .deb must depend on {sorted(packages - depends)}"


# -- macOS and Windows: settings that must agree with the app (built only on those systems) --


def test_the_macos_bundle_settings_match_the_app() -> None:
    spec = SPEC.read_text(encoding="utf-8")
    assert "from fim_tray.platform.autostart import BUNDLE_ID" in spec  # one id for both
    assert re.search(r'"LSUIElement": True', spec)
    assert "bundle_identifier=BUNDLE_ID" in spec
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements and all(value is True for value in entitlements.values())
    sign = (PACKAGING / "macos" / "sign.sh").read_text(encoding="utf-8")
    assert "codesign --force --deep -s - " in sign


def _iss_sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
        elif current:
            sections[current].append(line)
    return sections


def _iss_defines(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*#define (\w+) "([^"]*)"', text, re.M))


def _iss_entry(line: str, defines: dict[str, str]) -> dict[str, str]:
    """``Name: "x"; Flags: a b`` as a dict: values unquoted (Inno doubles quotes inside them)
    and ``{#NAME}`` replaced by its ``#define``."""
    for name, value in defines.items():
        line = line.replace(f"{{#{name}}}", value)
    entry = {}
    for part in re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]*)', line):
        key, value = part
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1].replace('""', '"')
        entry[key] = value
    return entry


class _NoRegistry:
    def get(self, name: str) -> str | None:
        raise AssertionError("not used")

    def set(self, name: str, value: str) -> None:
        raise AssertionError("not used")

    def delete(self, name: str) -> None:
        raise AssertionError("not used")


def test_the_windows_installer_is_per_user_and_owns_only_its_run_value() -> None:
    text = (PACKAGING / "windows" / "fim-tray.iss").read_text(encoding="utf-8")
    sections = _iss_sections(text)
    defines = _iss_defines(text)
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    assert setup["PrivilegesRequired"] == "lowest"
    assert "PrivilegesRequiredOverridesAllowed" not in setup
    assert defines["AppVersion"] == fim_tray.__version__
    assert defines["AppExe"] == "fim-tray.exe"  # the windowed one, not fim-tray-cli.exe

    icons = [_iss_entry(line, defines) for line in sections["Icons"]]
    start_menu = [i for i in icons if i["Name"].startswith("{autoprograms}")]
    assert len(start_menu) == 1
    # desktop-notifier sends toasts as the AppUserModelID it is given the app's name for
    assert start_menu[0]["AppUserModelID"] == APP_NAME
    assert start_menu[0]["Filename"] == "{app}\\fim-tray.exe"
    assert start_menu[0]["Parameters"] == "tray"

    registry = [_iss_entry(line, defines) for line in sections["Registry"]]
    run = [r for r in registry if r["Subkey"] == RUN_KEY]
    assert run and all(r["Root"] == "HKCU" and r["ValueName"] == APP_NAME for r in run)
    assert all("uninsdeletevalue" in r["Flags"].split() for r in run)
    written = [r for r in run if r.get("ValueType") == "string"]
    assert len(written) == 1 and written[0]["Tasks"] == "startatlogin"
    assert written[0]["ValueData"] == '"{app}\\fim-tray.exe" tray'
    # the same value the tray's own menu item writes for the installed, frozen app
    app = "C:\\Users\\Ann Lee\\AppData\\Local\\Programs\\fim-tray"
    from_menu = WindowsRun([f"{app}\\fim-tray.exe", "tray"], registry=_NoRegistry()).value()
    assert written[0]["ValueData"].replace("{app}", app) == from_menu
    for entry in registry:  # deleting a whole key is only ever right for a key that is ours
        if "uninsdeletekey" in entry.get("Flags", "").split():
            assert entry["Subkey"].endswith("\\" + APP_NAME), entry
    tasks = [_iss_entry(line, defines) for line in sections["Tasks"]]
    assert [t["Name"] for t in tasks] == ["startatlogin"]


# -- pip: an install from a clone into a fresh venv --------------------------------------------


def test_pip_installs_the_project_into_a_fresh_venv_that_sees_pygobject(tmp_path: Path) -> None:
    if not ON_LINUX:
        pytest.skip("the system Python with PyGObject is a Linux setup")
    python = Path("/usr/bin/python3")
    need(python.exists(), "/usr/bin/python3 is missing (Debian package python3)")
    venv_ok = subprocess.run([str(python), "-c", "import ensurepip, venv"], capture_output=True,
                             check=False).returncode == 0  # fmt: skip
    need(venv_ok, "/usr/bin/python3 cannot make a venv (Debian package python3-venv)")
    source = tmp_path / "clone"  # what a clone holds, so the build never writes into this one
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "fim_tray", source / "fim_tray",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", "--system-site-packages", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["FIM_TRAY_HOME"] = str(tmp_path / "state")
    version = subprocess.run([str(venv / "bin" / "fim-tray"), "--version"], capture_output=True,
                             text=True, env=env, cwd=tmp_path, check=False)  # fmt: skip
    assert version.stdout.strip() == f"fim-tray {fim_tray.__version__}", version.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import fim_tray, gi; gi.require_version('AyatanaAppIndicator3', '0.1'); "
         "print(fim_tray.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr  # the tray's system libraries are visible
    assert Path(where.stdout.strip()).is_relative_to(venv)  # installed, not the checkout
