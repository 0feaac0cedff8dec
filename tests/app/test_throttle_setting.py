"""Where the read-rate cap applies: the monitor's scans and new baselines keep to it; the command
line runs at full speed unless asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fim_tray.app.monitor import Monitor
from fim_tray.app.service import Service
from fim_tray.cli import main as cli
from fim_tray.models import Folder, FolderReport
from fim_tray.scan.throttle import MB, Throttle
from fim_tray.store import config as config_store


def _write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


# -- where the cap applies ---------------------------------------------------------------------


class SpyService(Service):
    """The real service, remembering the throttle each scan was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.throttles: list[Throttle | None] = []

    def check(self, path: str | None = None, **kwargs: Any) -> list[FolderReport]:
        self.throttles.append(kwargs.get("throttle"))
        return super().check(path, **kwargs)

    def check_folder(self, folder: Folder, *args: Any, **kwargs: Any) -> FolderReport:
        self.throttles.append(kwargs.get("throttle"))
        return super().check_folder(folder, *args, **kwargs)

    def watch(self, path: str, **kwargs: Any) -> tuple[Folder, Any]:
        self.throttles.append(kwargs.get("throttle"))
        return super().watch(path, **kwargs)


@pytest.fixture
def spy(service: Service, tmp_path: Path) -> SpyService:
    spy = SpyService(service.paths, lock_timeout=5.0)
    root = tmp_path / "docs"
    _write(root / "a.txt", 10)
    spy.watch(str(root))
    spy.throttles.clear()
    return spy


def _set(service: Service, **settings: Any) -> None:
    config_store.save(service.paths.config_file, service.config()._replace(**settings))


def test_the_monitor_applies_the_setting(spy: SpyService, tmp_path: Path) -> None:
    _set(spy, max_mb_per_s=5)
    Monitor(spy, lambda report: None).run_once()
    (throttle,) = spy.throttles
    assert throttle is not None and throttle.rate == 5 * MB
    _set(spy, max_mb_per_s=0)
    Monitor(spy, lambda report: None).run_once()
    assert spy.throttles[-1] is None


def test_the_monitor_records_a_new_baseline_within_the_cap(spy: SpyService, tmp_path: Path) -> None:
    _set(spy, max_mb_per_s=5)
    other = tmp_path / "other"
    _write(other / "b.txt", 10)
    Monitor(spy, lambda report: None)._watch(str(other))  # what a "watch" request runs
    (throttle,) = spy.throttles
    assert throttle is not None and throttle.rate == 5 * MB


def _run(spy: SpyService, *argv: str) -> int:
    args = cli._build_parser().parse_args(argv)
    return cli.COMMANDS[args.command](spy, args)


def test_the_command_line_runs_at_full_speed_unless_asked(
    spy: SpyService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(spy, max_mb_per_s=5)  # the monitor's setting: not for a person's own check
    assert _run(spy, "check") == 0
    assert spy.throttles == [None]
    assert _run(spy, "check", "--max-mb-per-s", "20") == 0
    throttle = spy.throttles[-1]
    assert throttle is not None and throttle.rate == 20 * MB
    other = tmp_path / "other"
    _write(other / "b.txt", 10)
    assert _run(spy, "add", str(other), "--max-mb-per-s", "1.5") == 0
    throttle = spy.throttles[-1]
    assert throttle is not None and throttle.rate == 1.5 * MB
    assert _run(spy, "check", "--max-mb-per-s", "0") == 0
    assert spy.throttles[-1] is None


@pytest.mark.parametrize("value", ["-1", "fast", "nan", "inf", "1e303", "100001", "\uff11"])
def test_an_invalid_max_mb_per_s_option_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli._build_parser().parse_args(["check", "--max-mb-per-s", value])
    assert exited.value.code == 2
    assert "MB per second" in capsys.readouterr().err


def test_a_cap_no_disk_reaches_in_the_settings_file_is_no_cap(spy: SpyService) -> None:
    _set(spy, max_mb_per_s=1e303)  # by hand: the check runs at full speed, never fails
    (report,) = Monitor(spy, lambda report: None).run_once()
    assert report.error is None and spy.throttles == [None]


@pytest.mark.parametrize("typed", ["1e303", "100001"])
def test_a_cap_no_disk_reaches_is_refused_in_the_settings_window(typed: str) -> None:
    from fim_tray.app.settings import parse

    values, errors = parse({"max_mb_per_s": typed})
    assert values == {} and errors["max_mb_per_s"] == "0 (no cap), or from 0.1 to 100,000 MB/s"
    assert parse({"max_mb_per_s": "100000"}) == ({"max_mb_per_s": 100000.0}, {})


def test_a_cap_json_reads_as_infinity_is_no_cap_and_a_crawl_is_the_least_cap(
    tmp_path: Path, home: Path
) -> None:
    from fim_tray.scan.throttle import MIN_MB_PER_S, check_mb_per_s
    from tests.helpers import cli as run

    assert check_mb_per_s(float("inf")) == 0.0  # "max_mb_per_s": 1e999 in config.json
    assert check_mb_per_s(1e-300) == MIN_MB_PER_S
    watched = tmp_path / "w"
    _write(watched / "a.bin", 1000)
    assert run("add", watched, home=home).returncode == 0
    config = home / "config" / "config.json"
    config.write_text(config.read_text().replace('"max_mb_per_s": 0.0', '"max_mb_per_s": 1e999'))
    assert "1e999" in config.read_text()
    _write(watched / "b.bin", 10)
    done = run("check", home=home)
    assert done.returncode == 1 and "b.bin" in done.out, done.err
    crawl = run("check", "--max-mb-per-s", "1e-300", home=home)
    assert crawl.returncode == 2 and "from 0.1" in crawl.err
