"""providerWebhook answers OPTIONS with 200: a provider validating the webhook URL (HeyGen checks
endpoints with an OPTIONS request under a 1 s timeout) must not be told 405."""

from __future__ import annotations

from flask import Request
from werkzeug.test import EnvironBuilder

from functions.webhooks import providerWebhook


def call(method: str) -> int:
    environ = EnvironBuilder(path="/providerWebhook/heygen", method=method).get_environ()
    return int(providerWebhook(Request(environ)).status_code)


def test_options_is_answered_200_without_touching_the_service() -> None:
    assert call("OPTIONS") == 200


def test_other_methods_than_post_are_still_refused() -> None:
    assert call("GET") == 405
    assert call("PUT") == 405
