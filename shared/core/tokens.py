"""The secrets derived from the internal secret, and the per-attempt token in the callback URLs
of providers that do not sign their webhooks (D-ID, HeyGen's per-request callbacks).

Each use has its own subkey, ``HMAC-SHA256(secret, label)`` (`subkey`): the webhook tokens
(``WEBHOOK_LABEL``) and the task tokens (``TASK_LABEL``, shared.adapters.tasks), so a value made
for one use never passes for another, and the secret itself signs nothing.

A callback token is never stored (the job document users can read never holds it). It proves
which job, which attempt and until when: the callback URL names the attempt (``attempt``) and an
expiry (``exp``, epoch seconds), and the token is the HMAC of all three, so one attempt's token
does not pass for another's, and a token copied from a request log stops working once the render
is long over. ``CALLBACK_TTL_S`` is 6 hours: HeyGen documents renders that can exceed 20 minutes
at peak and D-ID delivers its webhook once the talk is done (minutes); a job's own deadline is
shorter still (orchestration.JOB_TIMEOUT_S), so no genuine callback comes that late."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ATTEMPT_PARAM = "attempt"  # the callback URL's query parameter naming the attempt
EXPIRES_PARAM = "exp"  # ... and the one naming when its token stops working (epoch seconds)
CALLBACK_TTL_S = 6 * 3600
WEBHOOK_LABEL = b"cvplus/webhook-token/v2"
TASK_LABEL = b"cvplus/task-token/v2"


def subkey(secret: bytes, label: bytes) -> bytes:
    """The key of one use of ``secret`` (empty without a secret)."""
    if not secret:
        return b""
    return hmac.new(secret, label, hashlib.sha256).digest()


def webhook_token(key: bytes, job_id: str, attempt: int, expires_at: int) -> str | None:
    """The token a callback about ``job_id``'s ``attempt`` must carry until ``expires_at``;
    None without a key (no tokens). ``key``: the internal secret (its webhook subkey signs)."""
    if not key:
        return None
    subject = f"{job_id}#{attempt}#{expires_at}"
    return hmac.new(subkey(key, WEBHOOK_LABEL), subject.encode(), hashlib.sha256).hexdigest()[:32]


def expiry(now: float) -> int:
    """When a callback URL made at ``now`` stops working."""
    return int(now) + CALLBACK_TTL_S


def with_attempt(callback_url: str | None, attempt: int, expires_at: int) -> str | None:
    """The callback URL naming ``attempt`` and its expiry (the adapters add job and token)."""
    if callback_url is None:
        return None
    parts = urlsplit(callback_url)
    named = {ATTEMPT_PARAM, EXPIRES_PARAM}
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in named]
    query += [(ATTEMPT_PARAM, str(attempt)), (EXPIRES_PARAM, str(expires_at))]
    return urlunsplit(parts._replace(query=urlencode(query)))
