"""Structured logs for Cloud Logging: one JSON object per line on stdout, with ``severity`` and
every field given in ``extra`` (``extra={"provider": "heygen", "op": "submit"}``) or in
``extra={"json_fields": {...}}`` (alerts carry ``alert: true``)."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

# What every LogRecord carries; anything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "json_fields",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            extras.update(fields)
        for key, value in extras.items():
            entry.setdefault(key, value)  # an extra field never hides a core one
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(level: int = logging.INFO) -> None:
    """Send the project's logger to stdout as JSON lines (idempotent)."""
    logger = logging.getLogger("cvplus")
    if any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def printable(text: str, limit: int = 24) -> str:
    """At most ``limit`` characters of text someone else wrote, escaped (no newlines, no
    control or non-ASCII characters a log reader would render), marked when cut."""
    escaped = text[:limit].encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)
    return escaped + ("..." if len(text) > limit else "")


class RateLimited:
    """At most ``per_minute`` lines a minute (per instance); the lines left out are counted and
    reported with the next one written. For refusals an attacker can cause at will."""

    def __init__(self, per_minute: int = 10, *, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._window = -1.0
        self._written = 0
        self.suppressed = 0

    def allow(self) -> tuple[bool, int]:
        """Whether to write a line now, and how many were left out since the last written."""
        now = self.clock()
        if now - self._window >= 60.0:
            self._window, self._written = now, 0
        if self._written >= self.per_minute:
            self.suppressed += 1
            return False, 0
        self._written += 1
        left_out, self.suppressed = self.suppressed, 0
        return True, left_out
