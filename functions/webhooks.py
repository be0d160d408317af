"""providerWebhook: POST /providerWebhook/{provider}, verified by the provider's adapter;
OPTIONS answered 200, as a provider validating the URL expects (HeyGen's endpoint check).

A body over ``MAX_WEBHOOK_BODY`` is refused with 413 before it is read (from Content-Length),
and a body without one is read no further than that. Refusals are logged at most
``REFUSALS_PER_MINUTE`` a minute per instance, naming the provider segment by a short escaped
prefix only: the path and the reason are written by whoever calls."""

from __future__ import annotations

import json
import logging

from firebase_functions import https_fn

from functions import deploy, runtime, secrets
from functions.edge import RateLimited, printable
from shared.shell import webhooks
from shared.shell.webhooks import WebhookError, WebhookRequest

log = logging.getLogger("cvplus")

# The providers' notices are a few hundred bytes of JSON (HeyGen's and D-ID's callbacks,
# RunwayML's task object); 64 KiB leaves room for any of them and nothing for a flood.
MAX_WEBHOOK_BODY = 64 * 1024
REFUSALS_PER_MINUTE = 10
_refusals = RateLimited(REFUSALS_PER_MINUTE)


@https_fn.on_request(secrets=secrets.WEBHOOK, **deploy.WORKER)
def providerWebhook(req: https_fn.Request) -> https_fn.Response:
    if req.method == "OPTIONS":
        return https_fn.Response("", status=200)
    if req.method != "POST":
        return _answer(405, {"error": "POST only"})
    provider = req.path.rstrip("/").rsplit("/", 1)[-1]
    if (req.content_length or 0) > MAX_WEBHOOK_BODY:
        return _refused(provider, WebhookError(413, "body too large"))
    body = req.stream.read(MAX_WEBHOOK_BODY + 1)
    if len(body) > MAX_WEBHOOK_BODY:
        return _refused(provider, WebhookError(413, "body too large"))
    request = WebhookRequest(body=body, headers=dict(req.headers), query=dict(req.args))
    try:
        result = webhooks.on_webhook(runtime.shell(secrets.WEBHOOK), provider, request)
    except WebhookError as refused:
        return _refused(provider, refused)
    log.info("webhook %s: %s", provider, result)
    return _answer(200, {"result": result})


def _refused(provider: str, refused: WebhookError) -> https_fn.Response:
    """The refusal's answer; its log line, when the rate allows, carries the status and short
    escaped prefixes of the provider segment and the reason, never the attacker's text in
    full."""
    write, left_out = _refusals.allow()
    if write:
        log.warning(
            "webhook refused (%s) for provider %s: %s%s",
            refused.status,
            printable(provider),
            printable(refused.message, 60),
            f"; {left_out} more refusals not logged" if left_out else "",
        )
    return _answer(refused.status, {"error": refused.message})


def _answer(status: int, body: dict[str, str]) -> https_fn.Response:
    return https_fn.Response(json.dumps(body), status=status, content_type="application/json")
