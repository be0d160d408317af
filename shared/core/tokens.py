"""The per-attempt secret in the callback URLs of providers that do not sign their webhooks
(D-ID, HeyGen's per-request callbacks): derived from the internal secret, never stored, so the
job document users can read never holds it. A callback proves which job and which attempt it is
about: one attempt's token does not pass for another's."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ATTEMPT_PARAM = "attempt"  # the callback URL's query parameter naming the attempt


def webhook_token(key: bytes, job_id: str, attempt: int | None = None) -> str | None:
    """The token a callback about ``job_id`` (and its ``attempt``) must carry; None without a
    key (no tokens). ``attempt`` None: the per-job token of callbacks sent before attempts
    were named (renders in flight across a deploy)."""
    if not key:
        return None
    subject = job_id if attempt is None else f"{job_id}#{attempt}"
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:32]


def with_attempt(callback_url: str | None, attempt: int) -> str | None:
    """The callback URL naming ``attempt`` (the adapters add the job and the token)."""
    if callback_url is None:
        return None
    parts = urlsplit(callback_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != ATTEMPT_PARAM]
    return urlunsplit(parts._replace(query=urlencode([*query, (ATTEMPT_PARAM, str(attempt))])))
