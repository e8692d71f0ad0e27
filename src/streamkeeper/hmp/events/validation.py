"""What a valid session event is (one-time or weekly-recurring `set-live` / `record`). Plain Python."""

from __future__ import annotations

from typing import Any

TYPES = ("one-time", "weekly-recurring")
COMMANDS = ("set-live", "record")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
WEEK = 7 * 24 * 3600
MAX_TIME = 2**41  # far beyond any calendar need, well inside a 64-bit column


def _int(data: dict, key: str, required: bool) -> int | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer number of seconds")
    return value


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """Normalised event fields from a complete (merged) event object; raises ValueError."""
    title = data.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 512):
        raise ValueError("title must be a string of at most 512 characters")
    start = _int(data, "startTime", True)
    if not 0 <= start <= MAX_TIME:  # type: ignore[operator]
        raise ValueError("startTime must be a Unix time in seconds")
    duration = _int(data, "duration", False)
    kind = data.get("type")
    if kind not in TYPES:
        raise ValueError("type must be one-time or weekly-recurring")
    command = data.get("command")
    if command not in COMMANDS:
        raise ValueError("command must be set-live or record")
    if duration is not None and not 0 < duration <= MAX_TIME:
        raise ValueError("duration must be a positive number of seconds")
    if command == "record" and duration is None:
        raise ValueError("a record event needs a duration")
    type_data = data.get("typeData")
    if kind == "weekly-recurring":
        if duration is not None and duration >= WEEK:
            raise ValueError("a weekly event must last less than a week")
        days = type_data.get("days") if isinstance(type_data, dict) else None
        if not isinstance(days, list) or not days or any(d not in DAYS for d in days) or len(set(days)) != len(days):
            raise ValueError(f"typeData.days must list distinct days among {', '.join(DAYS)}")
        type_data = {"days": sorted(days, key=DAYS.index)}
    elif type_data not in (None, {}):
        raise ValueError("typeData only applies to weekly-recurring events")
    else:
        type_data = None
    parameters = data.get("parameters")
    if command == "set-live":
        if not isinstance(parameters, dict) or not isinstance(parameters.get("record"), bool):
            raise ValueError("a set-live event needs parameters.record (true or false)")
    elif parameters is not None and not isinstance(parameters, dict):
        raise ValueError("parameters must be an object")
    if isinstance(parameters, dict) and (len(parameters) > 32 or len(repr(parameters)) > 4096):
        raise ValueError("parameters are too large")
    return {"title": title, "start_time": start, "duration": duration, "type": kind, "type_data": type_data,
            "command": command, "parameters": parameters}
