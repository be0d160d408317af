"""Video provider adapters (HeyGen, RunwayML, D-ID) behind one typed interface, `VideoProvider`.

Each provider module holds its whole wire format; everything else sees only `base`'s values and
`shared.errors.ProviderError`. `from_settings` builds the three adapters from the deployment's
`Settings` (the environment, read once); `from_env` reads the environment into them first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shared.model import AspectRatio
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
from shared.settings import Secret, Settings

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
    "from_settings",
    "idempotency_key",
]


def from_env(environ: Mapping[str, str] = os.environ) -> dict[str, VideoProvider]:
    """The three adapters configured from ``environ`` through `Settings` (which raises
    `SettingsError` naming every bad variable)."""
    return from_settings(Settings.from_env(environ))


def from_settings(settings: Settings) -> dict[str, VideoProvider]:
    """The three adapters keyed by provider id. Callers keep them for the instance's life
    (connection reuse)."""

    def key(secret: Secret | None) -> str:
        return secret.reveal() if secret is not None else ""

    sources = {
        AspectRatio.LANDSCAPE: settings.did_source_url_landscape,
        AspectRatio.PORTRAIT: settings.did_source_url_portrait,
    }
    adapters: list[VideoProvider] = [
        heygen.HeyGenProvider(
            api_key=key(settings.heygen_api_key),
            webhook_secret=key(settings.heygen_webhook_secret) or None,
            base_url=settings.heygen_base_url,
            avatar_id=settings.heygen_avatar_id or heygen.DEFAULT_AVATAR_ID,
            voice_id=settings.heygen_voice_id or heygen.DEFAULT_VOICE_ID,
        ),
        runwayml.RunwayMLProvider(
            api_key=key(settings.runwayml_api_key),
            base_url=settings.runwayml_base_url,
            prompt_image_url=settings.runwayml_prompt_image_url
            or runwayml.DEFAULT_PROMPT_IMAGE_URL,
        ),
        did.DIDProvider(
            api_key=key(settings.did_api_key),
            base_url=settings.did_base_url,
            # Each orientation's photo falls back to the adapter's placeholder on its own.
            source_urls={
                aspect: url or did._DEFAULT_SOURCES[aspect] for aspect, url in sources.items()
            },
            voice_id=settings.did_voice_id or did.DEFAULT_VOICE_ID,
        ),
    ]
    return {adapter.provider_id: adapter for adapter in adapters}
