"""Structured logs for Cloud Logging: one JSON object per line on stdout, with ``severity`` and
every field given in ``extra`` (``extra={"provider": "heygen", "op": "submit"}``) or in
``extra={"json_fields": {...}}`` (alerts carry ``alert: true``)."""

from __future__ import annotations

import json
import logging
import sys
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
