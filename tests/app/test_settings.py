"""Tests of fim_tray.app.settings: fields checked one by one, saved all together or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fim_tray.app.service import Service
from fim_tray.app.settings import parse
from fim_tray.errors import ConfigError


def test_each_wrong_field_is_named_with_what_it_wants() -> None:
    values, errors = parse({"interval": "soon", "max_mb_per_s": "-1", "pause_on_battery": True})
    assert errors == {"interval": "a number of seconds, such as 60",
                      "max_mb_per_s": "0 or more (0 is no cap)"}  # fmt: skip
    assert values == {"pause_on_battery": True}
    assert parse({"interval": "0.5"})[1] == {"interval": "from 1 to 31,536,000 seconds"}
    assert parse({"interval": "nan"})[1]["interval"].startswith("from 1")
    assert parse({"interval": " 30 ", "max_mb_per_s": ""}) == (
        {"interval": 30.0, "max_mb_per_s": 0.0}, {}
    )


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
