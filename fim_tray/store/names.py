"""File names that are not valid UTF-8, kept in JSON: as text where they can be, else as the raw
bytes in base64 under a key that says so."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping


def name_fields(name: str, key: str = "path") -> dict[str, str]:
    """A JSON-safe form of a name (a path, a folder, a link target) under ``key``:
    ``{key: text}``, or ``{key + "_b64": raw bytes in base64}``.

    On POSIX a name that is not valid UTF-8 reaches Python with lone surrogates
    (surrogateescape); those cannot be written as UTF-8 JSON, so the raw bytes go in base64,
    under a key that says so.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return {f"{key}_b64": base64.b64encode(os.fsencode(name)).decode("ascii")}
    return {key: name}


def name_from(obj: Mapping[str, object], key: str = "path") -> str | None:
    """The inverse of :func:`name_fields`: None when neither key is there; ``ValueError``
    when the one there is not usable."""
    text = obj.get(key)
    if isinstance(text, str):
        return text
    raw = obj.get(f"{key}_b64")
    if isinstance(raw, str):
        try:
            return os.fsdecode(base64.b64decode(raw, validate=True))
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
            raise ValueError(f"{key}_b64 is not base64") from exc
    if text is None and raw is None:
        return None
    raise ValueError(f"{key} is not a name")


def names_fields(names: Iterable[str], key: str) -> dict[str, list[str]]:
    """A JSON-safe form of a list of names under ``key``: those that are valid UTF-8 as text,
    and the raw bytes of the others in base64 under ``key + "_b64"`` (there only when there is
    one)."""
    text: list[str] = []
    raw: list[str] = []
    for name in names:
        fields = name_fields(name, key)
        if key in fields:
            text.append(fields[key])
        else:
            raw.append(fields[f"{key}_b64"])
    return {key: text, f"{key}_b64": raw} if raw else {key: text}


def names_count(obj: Mapping[str, object], key: str) -> int:
    """How many names :func:`names_fields` wrote under ``key`` (as text or as bytes)."""
    return sum(len(v) for v in (obj.get(key), obj.get(f"{key}_b64")) if isinstance(v, list))


def encode_name(name: str) -> dict[str, str]:
    """``{"path": text}``, or ``{"path_b64": raw bytes}``: :func:`name_fields` for paths."""
    return name_fields(name, "path")


def decode_name(obj: Mapping[str, object]) -> str:
    """The inverse of :func:`encode_name`; raises ``ValueError`` when neither key is usable."""
    name = name_from(obj, "path")
    if name is None:
        raise ValueError("entry has no path")
    return name
