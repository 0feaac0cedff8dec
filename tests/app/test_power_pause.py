"""Pausing polls on battery: the setting, and the monitor skipping and resuming its polls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fim_tray.app.monitor import Monitor, MonitorEvent, PowerState
from fim_tray.app.service import Service
from fim_tray.errors import ConfigError
from fim_tray.models import FolderReport
from fim_tray.store import config as config_store
from fim_tray.store.config import Config, from_json, to_json

# -- the setting -------------------------------------------------------------------------------


def test_pause_on_battery_round_trips_and_defaults_off(tmp_path: Path) -> None:
    assert Config().pause_on_battery is False
    assert from_json({}).pause_on_battery is False
    assert to_json(Config())["pause_on_battery"] is False
    path = tmp_path / "config.json"
    config = Config(pause_on_battery=True, max_mb_per_s=10)
    config_store.save(path, config)
    assert config_store.load(path) == config


@pytest.mark.parametrize("value", ["yes", 1, 0, None, []])
def test_an_invalid_pause_on_battery_is_a_config_error_naming_it(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        from_json({"pause_on_battery": value}, source="/c/config.json")
    assert "pause_on_battery" in caught.value.message
    assert "/c/config.json" in caught.value.message


# -- the monitor -------------------------------------------------------------------------------


class Power:
    """A fake power source a test switches; it remembers, at each question, how many reports
    had reached the sink, and lets a test wait for the n-th question."""

    def __init__(self, reports: list[FolderReport], battery: bool | None = True) -> None:
        self.battery = battery
        self.fail = False
        self.reports_seen: list[int] = []
        self._reports = reports
        self._asked = threading.Condition()

    def __call__(self) -> bool | None:
        with self._asked:
            self.reports_seen.append(len(self._reports))
            self._asked.notify_all()
        if self.fail:
            raise RuntimeError("no power information")
        return self.battery

    def wait_asked(self, times: int) -> None:
        with self._asked:
            assert self._asked.wait_for(lambda: len(self.reports_seen) >= times, 10)


class Sink:
    def __init__(self) -> None:
        self.reports: list[FolderReport] = []
        self._arrived = threading.Condition()

    def __call__(self, report: FolderReport) -> None:
        with self._arrived:
            self.reports.append(report)
            self._arrived.notify_all()

    def wait_for(self, count: int) -> None:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.reports) >= count, 10)


@pytest.fixture
def watched(service: Service, tmp_path: Path) -> Service:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("a")
    service.watch(str(root))
    return service


def _pause_on_battery(service: Service, on: bool = True) -> None:
    config = service.config()._replace(pause_on_battery=on)
    config_store.save(service.paths.config_file, config)


@contextmanager
def _monitor(
    watched: Service, sink: Sink, power: Power, events: list[MonitorEvent]
) -> Iterator[Monitor]:
    """A monitor polling every 10 ms with ``power`` as its battery reading, for the block."""
    monitor = Monitor(watched, sink, interval=0.01, on_event=events.append, on_battery=power)
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.join(5)


def _power_events(events: list[MonitorEvent]) -> list[bool]:
    return [e.on_battery for e in list(events) if isinstance(e, PowerState)]


def test_the_monitor_skips_polls_on_battery_and_resumes_on_mains(watched: Service) -> None:
    _pause_on_battery(watched)
    sink, events = Sink(), list[MonitorEvent]()
    power = Power(sink.reports, battery=True)
    with _monitor(watched, sink, power, events) as monitor:
        power.wait_asked(4)
        # Asked at every poll; no poll (and no full re-hash) ran meanwhile.
        assert power.reports_seen[:4] == [0, 0, 0, 0]
        assert _power_events(events) == [True]
        # A check the person asks for still runs.
        monitor.check_now()
        sink.wait_for(1)
        power.battery = False  # plugged in
        sink.wait_for(3)  # scheduled polls again
    assert _power_events(events) == [True, False]


def test_the_monitor_polls_on_battery_when_not_told_to_pause(watched: Service) -> None:
    sink, events = Sink(), list[MonitorEvent]()
    power = Power(sink.reports, battery=True)
    with _monitor(watched, sink, power, events):
        sink.wait_for(2)
    assert power.reports_seen == []  # not even asked: the setting is off


@pytest.mark.parametrize("reading", ["unknown", "error"])
def test_unknown_power_counts_as_mains(watched: Service, reading: str) -> None:
    _pause_on_battery(watched)
    sink, events = Sink(), list[MonitorEvent]()
    power = Power(sink.reports, battery=None)
    power.fail = reading == "error"
    with _monitor(watched, sink, power, events):
        sink.wait_for(2)
    assert _power_events(events) == []


def test_turning_the_setting_off_on_battery_resumes_the_polls(watched: Service) -> None:
    _pause_on_battery(watched)
    sink, events = Sink(), list[MonitorEvent]()
    power = Power(sink.reports, battery=True)
    with _monitor(watched, sink, power, events):
        power.wait_asked(2)
        _pause_on_battery(watched, False)
        sink.wait_for(2)
    assert _power_events(events) == [True, False]  # the tray no longer says paused
