"""providerWebhook: POST /providerWebhook/{provider}, verified by the provider's adapter;
OPTIONS answered 200, as a provider validating the URL expects (HeyGen's endpoint check)."""

from __future__ import annotations

import json
import logging

from firebase_functions import https_fn

from functions import deploy, runtime, secrets
from shared.shell import webhooks
from shared.shell.webhooks import WebhookError, WebhookRequest

log = logging.getLogger("cvplus")


@https_fn.on_request(secrets=secrets.WEBHOOK, **deploy.WORKER)
def providerWebhook(req: https_fn.Request) -> https_fn.Response:
    if req.method == "OPTIONS":
        return https_fn.Response("", status=200)
    if req.method != "POST":
        return _answer(405, {"error": "POST only"})
    provider = req.path.rstrip("/").rsplit("/", 1)[-1]
    request = WebhookRequest(
        body=req.get_data(cache=True), headers=dict(req.headers), query=dict(req.args)
    )
    try:
        result = webhooks.on_webhook(runtime.shell(secrets.WEBHOOK), provider, request)
    except WebhookError as refused:
        log.warning("webhook %s refused (%s): %s", provider, refused.status, refused.message)
        return _answer(refused.status, {"error": refused.message})
    log.info("webhook %s: %s", provider, result)
    return _answer(200, {"result": result})


def _answer(status: int, body: dict[str, str]) -> https_fn.Response:
    return https_fn.Response(json.dumps(body), status=status, content_type="application/json")
