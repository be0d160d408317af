"""providerWebhook's edges: a large body is refused before it is read, and a flood of refusals
writes a bounded number of log lines, none carrying the caller's text beyond a short escaped
prefix (functions/webhooks.py)."""

from __future__ import annotations

import io
import logging

import flask
import pytest

from functions import webhooks
from functions.edge import RateLimited, printable
from tests.support.harness import Harness


class Counting(io.BytesIO):
    """A request body that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        self.taken += n
        return n


def post(harness: Harness, body: io.BytesIO, headers: dict[str, str]) -> tuple[int, bytes]:
    with harness.app.test_request_context(
        "/providerWebhook/did",
        method="POST",
        input_stream=body,
        headers=headers,
        # As gunicorn marks a chunked body: werkzeug reads it without a length.
        environ_overrides={"wsgi.input_terminated": True},
    ):
        response = flask.make_response(webhooks.providerWebhook(flask.request))
    return response.status_code, response.get_data()


def test_a_1_mb_webhook_body_is_refused_with_413_before_a_byte_is_read(harness: Harness) -> None:
    """The Content-Length says 1 MB: 413, and the body is never read."""
    body = Counting(b"{" + b" " * (1 << 20) + b"}")
    status, _ = post(harness, body, {"Content-Length": str((1 << 20) + 2)})
    assert status == 413
    assert body.taken == 0


def test_a_webhook_body_without_a_length_is_read_no_further_than_the_cap(
    harness: Harness,
) -> None:
    """Chunked (no Content-Length): at most the cap and one byte are read, then 413."""
    body = Counting(b"{" + b" " * (1 << 20) + b"}")
    status, _ = post(harness, body, {"Transfer-Encoding": "chunked"})
    assert status == 413
    assert body.taken <= webhooks.MAX_WEBHOOK_BODY + 1 + 64 * 1024  # werkzeug reads in blocks


def test_a_flood_of_refusals_logs_a_bounded_number_of_escaped_lines(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 refusals with an attacker's path segment (a newline, a fake log line, 2 KB) write
    at most the minute's allowance, each with a short escaped prefix only."""
    monkeypatch.setattr(webhooks, "_refusals", RateLimited(webhooks.REFUSALS_PER_MINUTE))
    segment = "x\n" + '{"severity":"CRITICAL","message":"admin login"}' + "A" * 2000
    caplog.set_level(logging.WARNING, logger="cvplus")
    for _ in range(100):
        answer = harness.post("providerWebhook", b"{}", path=f"/providerWebhook/{segment}")
        assert answer.status == 404
    lines = [r.getMessage() for r in caplog.records if "webhook refused" in r.getMessage()]
    assert 1 <= len(lines) <= webhooks.REFUSALS_PER_MINUTE
    for line in lines:
        assert "\n" not in line
        assert "admin login" not in line
        assert len(line) < 300


def test_the_rate_limit_reports_what_it_left_out_in_the_next_minute() -> None:
    """Lines past the allowance are counted and named by the next line written."""
    now = [0.0]
    limit = RateLimited(2, clock=lambda: now[0])
    assert [limit.allow()[0] for _ in range(5)] == [True, True, False, False, False]
    now[0] = 61.0
    assert limit.allow() == (True, 3)
    assert printable("a\nb\x1b[31m\u202e", 10) == "a\\x0ab\\x1b[31m\\u202e"
