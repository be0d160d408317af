"""The per-job secret in the callback URLs of providers that do not sign their webhooks (D-ID):
derived from the internal secret, never stored, so the job document users can read never
holds it."""

from __future__ import annotations

import hashlib
import hmac


def webhook_token(key: bytes, job_id: str) -> str | None:
    """The token a callback about ``job_id`` must carry; None without a key (no tokens)."""
    if not key:
        return None
    return hmac.new(key, job_id.encode(), hashlib.sha256).hexdigest()[:32]
