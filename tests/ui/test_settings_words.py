"""The Settings window's messages name the fields as the window shows them, never by key."""

from __future__ import annotations

from fim_tray.app.settings import EDITABLE, parse
from fim_tray.ui import settings as window

KEYS = ("interval", "full_check_hours", "max_mb_per_s", "notify_summary", "pause_on_battery")


def _no_key_in(text: str) -> None:
    assert not [key for key in KEYS if key in text], text


def test_a_wrong_field_is_said_beside_it_by_its_label_and_the_status_line_is_short() -> None:
    typed = {"interval": "soon", "full_check_hours": "x", "max_mb_per_s": "-1",
             "notify_summary": "25:99"}  # fmt: skip
    _values, errors = parse(typed)
    assert set(errors) == set(typed)
    said = window.not_saved(errors)
    assert said == "Not saved: see the messages beside the fields."
    _no_key_in(said)
    for key, message in errors.items():
        next_to = window.beside(key, message)
        _no_key_in(next_to)
        assert next_to.startswith(window.LABELS[key] + ": ")
    assert window.beside("interval", errors["interval"]).startswith("Check every: a number")
    one = window.not_saved({"max_mb_per_s": errors["max_mb_per_s"]})
    assert one == "Not saved: see the message beside Speed cap."


def test_every_setting_has_a_label_and_a_clash_names_the_labels() -> None:
    assert set(EDITABLE) <= set(window.LABELS)
    said = window.clashed(["interval", "notify_summary"])
    _no_key_in(said)
    assert said.startswith("Not saved: Check every, One summary a day changed elsewhere")
