"""Video provider adapters (HeyGen, RunwayML, D-ID) behind one typed interface, `VideoProvider`.

Each provider module holds its whole wire format; everything else sees only `base`'s values and
`shared.errors.ProviderError`. `from_env` builds the three adapters from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shared.providers import did, heygen, runwayml
from shared.providers.base import (
    ProbeResult,
    RenderState,
    RenderStatus,
    Submission,
    SubmitRequest,
    VideoProvider,
    WebhookError,
    WebhookEvent,
    WebhookRequest,
    check_render,
    failure_of,
    idempotency_key,
)

__all__ = [
    "ProbeResult",
    "RenderState",
    "RenderStatus",
    "Submission",
    "SubmitRequest",
    "VideoProvider",
    "WebhookError",
    "WebhookEvent",
    "WebhookRequest",
    "check_render",
    "failure_of",
    "from_env",
    "idempotency_key",
]


def from_env(environ: Mapping[str, str] = os.environ) -> dict[str, VideoProvider]:
    """The three adapters keyed by provider id, configured from ``*_API_KEY``, ``*_BASE_URL`` and
    ``HEYGEN_WEBHOOK_SECRET``. Callers keep them for the instance's life (connection reuse)."""
    adapters: list[VideoProvider] = [
        heygen.from_env(environ),
        runwayml.from_env(environ),
        did.from_env(environ),
    ]
    return {adapter.provider_id: adapter for adapter in adapters}
