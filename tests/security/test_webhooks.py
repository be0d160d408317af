"""Provider callbacks: whatever a caller sends, the answer is a precise 4xx, never a 500."""

from __future__ import annotations

import pytest

from shared.adapters.providers.base import WebhookError, WebhookRequest
from shared.core.tokens import webhook_token
from shared.shell import webhooks
from tests.support.harness import Harness

DEEP = b"[" * 30_000 + b"]" * 30_000  # under the 64 KiB cap, far past any parser's depth
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
EXP = 4_000_000_000  # a callback URL's expiry, far ahead


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_in_a_heygen_callback_with_its_token_is_a_400(
    harness: Harness, body: bytes
) -> None:
    job_id = "vj_" + "0" * 32
    token = webhook_token(harness.shell.setup.token_key, job_id, 1, EXP)
    answer = harness.post(
        "providerWebhook",
        body,
        path=f"/providerWebhook/heygen?job={job_id}&attempt=1&exp={EXP}&token={token}",
    )
    assert answer.status == 400, answer.body
    assert "not JSON" in answer.json["error"]


def test_deeply_nested_json_in_a_did_webhook_with_its_token_is_a_400(harness: Harness) -> None:
    job_id = "vj_" + "0" * 32
    token = webhook_token(harness.shell.setup.token_key, job_id, 1, EXP)
    assert token is not None
    query = {"job": job_id, "attempt": "1", "exp": str(EXP), "token": token}
    with pytest.raises(WebhookError) as refused:
        webhooks.on_webhook(
            harness.shell, "did", WebhookRequest(body=DEEP, headers={}, query=query)
        )
    assert refused.value.status == 400


def test_deeply_nested_json_from_a_provider_api_is_a_malformed_answer() -> None:
    from shared.adapters.providers._http import parse_object

    assert parse_object(DEEP) is None
