"""Video provider adapters (HeyGen, RunwayML, D-ID) behind one typed interface, `VideoProvider`.

Each provider module holds its whole wire format; everything else sees only `base`'s values and
`shared.errors.ProviderError`. `from_settings` builds the three adapters from the deployment's
`Settings` (the environment, read once); `from_env` reads the environment into them first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

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
from shared.settings import Problem, Secret, Settings, SettingsError

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
    "placeholder_problems",
]

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _stand_in(base_url: str) -> bool:
    """A base URL on loopback is the simulator: no real provider, no real render to spoil."""
    try:
        host = urlsplit(base_url).hostname
    except ValueError:
        return False
    return host in _LOOPBACK


def placeholder_problems(settings: Settings) -> tuple[Problem, ...]:
    """Each setting without which a provider renders nothing usable (HeyGen's avatar and voice,
    the presenter images of D-ID and RunwayML) left unset, or set to the adapter's placeholder,
    while a real provider is behind it. The Functions emulator (``FUNCTIONS_EMULATOR=true``)
    and a provider served from loopback (the simulator) may run on placeholders."""
    if settings.emulator:
        return ()
    required = (
        ("HEYGEN_AVATAR_ID", settings.heygen_avatar_id, heygen.DEFAULT_AVATAR_ID, "heygen"),
        ("HEYGEN_VOICE_ID", settings.heygen_voice_id, heygen.DEFAULT_VOICE_ID, "heygen"),
        (
            "DID_SOURCE_URL_LANDSCAPE",
            settings.did_source_url_landscape,
            did._DEFAULT_SOURCES[AspectRatio.LANDSCAPE],
            "did",
        ),
        (
            "DID_SOURCE_URL_PORTRAIT",
            settings.did_source_url_portrait,
            did._DEFAULT_SOURCES[AspectRatio.PORTRAIT],
            "did",
        ),
        (
            "RUNWAYML_PROMPT_IMAGE_URL",
            settings.runwayml_prompt_image_url,
            runwayml.DEFAULT_PROMPT_IMAGE_URL,
            "runwayml",
        ),
    )
    base_urls = {
        "heygen": settings.heygen_base_url,
        "did": settings.did_base_url,
        "runwayml": settings.runwayml_base_url,
    }
    problems: list[Problem] = []
    for name, value, placeholder, provider in required:
        if _stand_in(base_urls[provider]):
            continue
        if not value or value == placeholder:
            why = "unset" if not value else "still the placeholder"
            problems.append(
                Problem(name, value or "", f"{why}: required outside the emulator for real renders")
            )
    return tuple(problems)


def from_env(environ: Mapping[str, str] = os.environ) -> dict[str, VideoProvider]:
    """The three adapters configured from ``environ`` through `Settings` (which raises
    `SettingsError` naming every bad variable)."""
    return from_settings(Settings.from_env(environ))


def from_settings(settings: Settings) -> dict[str, VideoProvider]:
    """The three adapters keyed by provider id. Callers keep them for the instance's life
    (connection reuse). Raises ``SettingsError`` naming every required provider setting left
    on its placeholder (``placeholder_problems``)."""
    problems = placeholder_problems(settings)
    if problems:
        raise SettingsError(problems)

    def key(secret: Secret | None) -> str:
        return secret.reveal() if secret is not None else ""

    sources = {
        AspectRatio.LANDSCAPE: settings.did_source_url_landscape,
        AspectRatio.PORTRAIT: settings.did_source_url_portrait,
    }
    adapters: list[VideoProvider] = [
        heygen.HeyGenProvider(
            api_key=key(settings.heygen_api_key),
            base_url=settings.heygen_base_url,
            media_hosts=settings.heygen_media_hosts or heygen.DEFAULT_MEDIA_HOSTS,
            avatar_id=settings.heygen_avatar_id or heygen.DEFAULT_AVATAR_ID,
            voice_id=settings.heygen_voice_id or heygen.DEFAULT_VOICE_ID,
        ),
        runwayml.RunwayMLProvider(
            api_key=key(settings.runwayml_api_key),
            base_url=settings.runwayml_base_url,
            media_hosts=settings.runwayml_media_hosts or runwayml.DEFAULT_MEDIA_HOSTS,
            prompt_image_url=settings.runwayml_prompt_image_url
            or runwayml.DEFAULT_PROMPT_IMAGE_URL,
            concurrency_limit=settings.runwayml_concurrency,
        ),
        did.DIDProvider(
            api_key=key(settings.did_api_key),
            base_url=settings.did_base_url,
            media_hosts=settings.did_media_hosts or did.DEFAULT_MEDIA_HOSTS,
            # Each orientation's photo falls back to the adapter's placeholder on its own.
            source_urls={
                aspect: url or did._DEFAULT_SOURCES[aspect] for aspect, url in sources.items()
            },
            voice_id=settings.did_voice_id or did.DEFAULT_VOICE_ID,
        ),
    ]
    return {adapter.provider_id: adapter for adapter in adapters}
