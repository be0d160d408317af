"""Log lines keep the fields callers give in ``extra``: a provider failure without its
provider, operation and status cannot be found, counted or alerted on."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from shared.adapters.logs import JsonFormatter
from shared.adapters.providers.heygen import HeyGenProvider
from shared.core.errors import ProviderError


def _line(record: logging.LogRecord) -> dict[str, object]:
    return json.loads(JsonFormatter().format(record))


def _record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("cvplus.test")
    return logger.makeRecord(
        "cvplus.test",
        logging.WARNING,
        __file__,
        1,
        "provider answered %s",
        ("an error",),
        None,
        extra=extra,
    )


def test_extra_fields_are_kept() -> None:
    entry = _line(_record(provider="heygen", op="submit", status=503, elapsed_s=0.25))
    assert entry["message"] == "provider answered an error"
    assert entry["severity"] == "WARNING"
    assert (entry["provider"], entry["op"], entry["status"], entry["elapsed_s"]) == (
        "heygen",
        "submit",
        503,
        0.25,
    )


def test_json_fields_still_work_and_core_keys_are_not_overridden() -> None:
    entry = _line(_record(json_fields={"alert": True}, severity="DEBUG", logger="spoofed"))
    assert entry["alert"] is True
    assert entry["severity"] == "WARNING"
    assert entry["logger"] == "cvplus.test"
    assert "json_fields" not in entry


def test_no_standard_record_attributes_leak() -> None:
    entry = _line(_record())
    assert set(entry) == {"severity", "message", "logger"}


def test_a_provider_error_line_names_provider_op_and_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real adapter's log line, formatted as Cloud Logging receives it."""

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "overloaded"}})

    provider = HeyGenProvider(
        api_key="k" * 32,
        base_url="https://heygen.test",
        transport=httpx.MockTransport(answer),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="cvplus"), pytest.raises(ProviderError):
            provider.probe()
    finally:
        provider.close()
    lines = [_line(r) for r in caplog.records if r.getMessage() == "provider answered an error"]
    assert lines, caplog.records
    assert lines[0]["provider"] == "heygen"
    assert lines[0]["op"] == "probe"
    assert lines[0]["status"] == 503
