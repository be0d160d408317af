"""Video provider adapters (HeyGen, RunwayML, D-ID) behind one typed interface, `VideoProvider`.

Each provider module holds its whole wire format; everything else sees only `base`'s values and
`shared.core.errors.ProviderError`. `shared.shell.deployment` builds them from `Settings`.
"""

from __future__ import annotations

from shared.adapters.providers.base import (
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
    "idempotency_key",
]
