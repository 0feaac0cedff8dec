"""Tests of fim_tray.app.settings: fields checked one by one, saved all together or none."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.app.settings import parse
from fim_tray.errors import ConfigError


def test_each_wrong_field_is_named_with_what_it_wants() -> None:
    values, errors = parse({"interval": "soon", "max_mb_per_s": "-1", "pause_on_battery": True})
    assert errors == {"interval": "a number of seconds, such as 60",
                      "max_mb_per_s": "0 (no cap), or from 0.1 to 100,000 MB/s"}  # fmt: skip
    assert values == {"pause_on_battery": True}
    assert parse({"interval": "0.5"})[1] == {"interval": "from 1 to 31,536,000 seconds"}
    assert parse({"interval": "nan"})[1]["interval"].startswith("from 1")
    assert parse({"interval": " 30 ", "max_mb_per_s": "0"}) == (
        {"interval": 30.0, "max_mb_per_s": 0.0}, {}
    )


def test_an_empty_or_foreign_field_is_refused_not_guessed() -> None:
    cap = "a number of MB per second, or 0 for no cap"
    assert parse({"max_mb_per_s": " "}) == ({}, {"max_mb_per_s": cap})  # not silently 0
    assert parse({"max_mb_per_s": "\uff11\uff10"})[1] == {  # full-width 10
        "max_mb_per_s": cap + " (in the digits 0 to 9)"
    }
    assert "interval" in parse({"interval": "\u0666\u0660"})[1]  # Arabic-Indic 60
    at = "a time of day as HH:MM, such as 18:00"
    assert parse({"notify_summary": "\uff11\uff18:00"}) == ({}, {"notify_summary": at})
    # "One summary a day" ticked, and its time emptied:
    daily: dict[str, str | bool] = {"notify_summary": "", "notify_daily": True}
    assert parse(daily) == ({}, {"notify_summary": at})
    at_once: dict[str, str | bool] = {"notify_summary": "", "notify_daily": False}
    assert parse(at_once) == ({"notify_summary": ""}, {})
    assert parse({"notify_summary": ""}) == ({"notify_summary": ""}, {})


def test_saved_together_or_not_at_all(service: Service) -> None:
    service.update_settings({"interval": 5.0, "max_mb_per_s": 20.0, "pause_on_battery": True})
    config = service.config()
    assert (config.interval, config.max_mb_per_s, config.pause_on_battery) == (5.0, 20.0, True)
    with pytest.raises(ConfigError):
        service.update_settings({"interval": 7.0, "max_mb_per_s": -3})
    assert service.config().interval == 5.0  # nothing saved half
    with pytest.raises(ConfigError, match="cannot be changed here"):
        service.update_settings({"folders": []})


def test_notifications_per_folder_are_kept(service: Service, tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    service.watch(str(folder))
    assert service.config().folders[0].notify
    service.set_notify(str(folder), False)
    assert not service.config().folders[0].notify
    saved = json.loads(service.paths.config_file.read_text())
    assert saved["folders"][0]["notify"] is False
    service.set_notify(str(folder), True)
    saved = json.loads(service.paths.config_file.read_text())
    assert "notify" not in saved["folders"][0]  # written only when off


def test_the_full_re_hash_schedule_is_a_setting(service: Service) -> None:
    assert parse({"full_check_hours": "12"}) == ({"full_check_hours": 12.0}, {})
    assert parse({"full_check_hours": "0"})[1] == {"full_check_hours": "from 1 to 8760 hours"}
    assert parse({"full_check_hours": "daily"})[1]["full_check_hours"].startswith("a number")
    assert service.config().full_check_hours == 24.0
    assert "full_check_hours" not in json.loads(
        service.paths.config_file.read_text() if service.paths.config_file.exists() else "{}"
    )
    service.update_settings({"full_check_hours": 6.0})
    assert service.config().full_check_hours == 6.0
    with pytest.raises(ConfigError, match="full_check_hours"):
        service.update_settings({"full_check_hours": 0.1})


def test_the_monitor_follows_the_full_re_hash_setting(service: Service, tmp_path: Path) -> None:
    from fim_tray.app.monitor import Monitor

    folder = tmp_path / "w"
    folder.mkdir()
    service.watch(str(folder))  # a first baseline counts as a full re-hash, just now
    monitor = Monitor(service, lambda report: None)
    assert monitor._full_due() == []
    service.update_settings({"full_check_hours": 1.0})
    later = Service(service.paths, clock=lambda: service.clock() + timedelta(hours=2))
    assert [f.path for f in Monitor(later, lambda report: None)._full_due()] == [str(folder)]


def test_how_to_notify_is_a_setting(service: Service) -> None:
    assert parse({"notify_summary": ""}) == ({"notify_summary": ""}, {})
    assert parse({"notify_summary": "18:00"}) == ({"notify_summary": "18:00"}, {})
    for bad in ("6pm", "24:00", "18:60", "1800"):
        assert parse({"notify_summary": bad})[1] == {
            "notify_summary": "a time of day as HH:MM, such as 18:00"
        }
    service.update_settings({"notify_summary": "07:30"})
    assert service.config().notify_summary == "07:30"
    with pytest.raises(ConfigError, match="notify_summary"):
        service.update_settings({"notify_summary": "soon"})


def test_a_decimal_comma_is_named_not_guessed() -> None:
    from fim_tray.app.settings import parse

    values, errors = parse({"interval": "1,5", "max_mb_per_s": "2,5"})
    assert values == {}
    assert all("a point for decimals" in errors[k] for k in ("interval", "max_mb_per_s"))


def test_a_save_writes_only_what_was_changed_over_a_hand_edit(service: Service) -> None:
    from fim_tray.app.settings import changed, editable

    service.update_settings({"interval": 60.0, "max_mb_per_s": 0.0})
    loaded = editable(service.config())  # a window opens
    service.update_settings({"max_mb_per_s": 30.0})  # a hand edit, or a second window
    typed = {**loaded, "interval": 5.0}  # the window changed only the interval
    saved = service.save_settings(changed(typed, loaded), loaded)
    assert saved.written == ("interval",) and saved.clashes == {}
    config = service.config()
    assert (config.interval, config.max_mb_per_s) == (5.0, 30.0)  # the other edit survives


def test_a_field_changed_both_here_and_elsewhere_is_a_clash_not_overwritten(
    service: Service,
) -> None:
    from fim_tray.app.settings import editable

    loaded = editable(service.config())
    service.update_settings({"interval": 120.0})  # changed elsewhere meanwhile
    saved = service.save_settings({"interval": 5.0, "max_mb_per_s": 10.0}, loaded)
    assert saved.clashes == {"interval": 120.0} and saved.written == ()
    assert (service.config().interval, service.config().max_mb_per_s) == (120.0, 0.0)
    # the same value on both sides is no clash; a save from the new state goes through
    assert service.save_settings({"interval": 120.0}, loaded).clashes == {}
    again = service.save_settings({"interval": 5.0}, editable(service.config()))
    assert again.written == ("interval",) and service.config().interval == 5.0
