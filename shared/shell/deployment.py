"""The deployment, built once per instance from `Settings`: the three provider adapters, the
Firestore stores, the Cloud Tasks scheduler and the video bucket (the `Ports`), and the
deployment's choices (the `Setup`), wired into a `Shell`.
``functions/runtime.py`` calls `build` on the first call of an instance (the cold start)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from shared.adapters.providers import VideoProvider, did, heygen, runwayml
from shared.adapters.storage import CloudStorageBucket, CopyPolicy
from shared.adapters.stores.breakers import SharedBreaker
from shared.adapters.stores.firestore import (
    FirestoreBreakerBackend,
    FirestoreDocumentStore,
    FirestoreJobStore,
    Usage,
)
from shared.adapters.tasks import CloudTasksScheduler
from shared.core import breaker as br
from shared.core.model import AspectRatio
from shared.core.orchestration import Setup
from shared.core.scoring import BusinessRules
from shared.shell.context import Ports, Shell, capabilities_of
from shared.shell.settings import LOOPBACK_HOSTS, Problem, Secret, Settings, SettingsError

# The one region of every function, of the task URL and of the Cloud Tasks queue (functions/
# deploy.py passes it to set_global_options). The CVPlus web app calls its functions there
# (gilco1973/cvplus-frontend src/lib/firebase.ts L45: getFunctions(app, 'us-central1')), and
# firebase.json pins the Firestore location to nam5, which firebase-tools maps to us-central1.
REGION = "us-central1"
QUEUE_ID = "video-jobs"

# The instance's Firestore operation counts (the load benchmark reads them: functions/runtime.py).
usage = Usage()


def _stand_in(base_url: str) -> bool:
    """A base URL on loopback is the simulator: no real provider, no real render to spoil."""
    try:
        host = urlsplit(base_url).hostname
    except ValueError:
        return False
    return host in LOOPBACK_HOSTS


def placeholder_problems(settings: Settings) -> tuple[Problem, ...]:
    """Each setting without which a provider renders nothing usable (HeyGen's avatar and voice,
    the presenter images of D-ID and RunwayML) left unset, or set to the adapter's placeholder,
    while a real provider is behind it. The Functions emulator (``FUNCTIONS_EMULATOR=true``)
    and a provider served from loopback (the simulator) may run on placeholders. A RunwayML
    voice that is not one of its presets is refused everywhere."""
    problems: list[Problem] = []
    voice = settings.runwayml_voice
    if voice is not None and voice not in runwayml.VOICES:
        problems.append(Problem("RUNWAYML_VOICE", voice, "not one of RunwayML's preset voices"))
    if settings.emulator:
        return tuple(problems)
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
    for name, value, placeholder, provider in required:
        if _stand_in(base_urls[provider]):
            continue
        if name == "RUNWAYML_PROMPT_IMAGE_URL" and settings.runwayml_avatar_id:
            continue  # a pinned avatar is used as it is: no image is needed to make one
        if not value or value == placeholder:
            why = "unset" if not value else "still the placeholder"
            problems.append(
                Problem(name, value or "", f"{why}: required outside the emulator for real renders")
            )
    return tuple(problems)


def providers(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> dict[str, VideoProvider]:
    """The three adapters keyed by provider id. Callers keep them for the instance's life
    (connection reuse). Raises ``SettingsError`` naming every required provider setting left
    on its placeholder (``placeholder_problems``). ``transport``: tests only (httpx's mock)."""
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
            transport=transport,
        ),
        runwayml.RunwayMLProvider(
            api_key=key(settings.runwayml_api_key),
            base_url=settings.runwayml_base_url,
            media_hosts=settings.runwayml_media_hosts or runwayml.DEFAULT_MEDIA_HOSTS,
            prompt_image_url=settings.runwayml_prompt_image_url
            or runwayml.DEFAULT_PROMPT_IMAGE_URL,
            avatar_id=settings.runwayml_avatar_id,
            voice=settings.runwayml_voice or runwayml.DEFAULT_VOICE,
            concurrency_limit=settings.runwayml_concurrency,
            transport=transport,
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
            transport=transport,
        ),
    ]
    return {adapter.provider_id: adapter for adapter in adapters}


def project_id(env: Mapping[str, str]) -> str:
    return env.get("GCLOUD_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "demo-cvplus"


def functions_base(config: Settings, env: Mapping[str, str]) -> str:
    if config.functions_base_url:
        return config.functions_base_url
    return f"https://{REGION}-{project_id(env)}.cloudfunctions.net"


def default_queue(env: Mapping[str, str]) -> str:
    """The queue tools/tasks_queue.py creates: in the functions' region."""
    return f"projects/{project_id(env)}/locations/{REGION}/queues/{QUEUE_ID}"


def build(config: Settings, env: Mapping[str, str]) -> Shell:
    from google.cloud import firestore

    if env.get("FIRESTORE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        client = firestore.Client(project=project_id(env), credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    else:
        client = firestore.Client(project=project_id(env))
    policies = {pid: _override(policy, config) for pid, policy in br.POLICIES.items()}
    key = config.internal_secret.reveal().encode() if config.internal_secret else b""
    queue = config.tasks_queue or default_queue(env)
    adapters = providers(config)
    ports = Ports(
        jobs=FirestoreJobStore(client, usage),
        breakers=SharedBreaker(FirestoreBreakerBackend(client, usage), policies=policies),
        docs=FirestoreDocumentStore(client, usage),
        providers=adapters,
        scheduler=CloudTasksScheduler(
            queue=queue,
            target_url=f"{functions_base(config, env)}/videoJobTask",
            key=key,
            emulator_host=config.tasks_emulator_host,
            service_account=config.tasks_service_account,
        ),
        videos=videos(config, env),
    )
    setup = Setup(
        capabilities=capabilities_of(adapters),
        rules=business_rules(config),
        webhook_base_url=config.public_webhook_base_url,
        token_key=key,
        breaker_enabled=config.circuit_breaker_enabled,
        tracking_enabled=config.performance_tracking_enabled,
        max_attempts=config.max_retry_attempts + 1,
        user_jobs_per_hour=config.user_jobs_per_hour,
        daily_spend_cap_usd=config.daily_spend_cap_usd,
        jobs_per_minute=config.jobs_per_minute,
        webhook_wait_s=config.webhook_wait_s,
    )
    return Shell(ports=ports, setup=setup)


def videos(config: Settings, env: Mapping[str, str]) -> CloudStorageBucket:
    """Where finished videos are copied: the bucket of ``CVPLUS_VIDEO_BUCKET``, else the
    project's default Firebase bucket; on the storage emulator when ``STORAGE_EMULATOR_HOST``
    is set (google-cloud-storage then talks to it without credentials)."""
    from google.cloud.storage import Client

    project = project_id(env)
    bucket = config.video_bucket or f"{project}.firebasestorage.app"
    if config.storage_emulator_host:
        from google.auth.credentials import AnonymousCredentials

        client = Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    else:
        client = Client(project=project)
    return CloudStorageBucket(
        client, bucket, emulator_host=config.storage_emulator_host, policy=copy_policy(config)
    )


def copy_policy(config: Settings) -> CopyPolicy:
    """Where a copy may read: https on the providers' media hosts (every redirect hop too), on
    public addresses; and, as they are, the origins configured for the providers' APIs (the
    simulator in the local stack) and the storage emulator's."""
    media = (
        *(config.heygen_media_hosts or heygen.DEFAULT_MEDIA_HOSTS),
        *(config.runwayml_media_hosts or runwayml.DEFAULT_MEDIA_HOSTS),
        *(config.did_media_hosts or did.DEFAULT_MEDIA_HOSTS),
    )
    trusted: tuple[str, ...] = (
        config.heygen_base_url,
        config.runwayml_base_url,
        config.did_base_url,
    )
    if config.storage_emulator_host:
        trusted = (*trusted, config.storage_emulator_host)
    return CopyPolicy(media_hosts=media, trusted_origins=trusted)


def _override(policy: br.BreakerPolicy, config: Settings) -> br.BreakerPolicy:
    if config.circuit_breaker_failure_threshold is not None:
        policy = replace(policy, failure_threshold=config.circuit_breaker_failure_threshold)
    if config.circuit_breaker_recovery_timeout_s is not None:
        policy = replace(policy, recovery_timeout_s=config.circuit_breaker_recovery_timeout_s)
    return policy


def business_rules(config: Settings) -> BusinessRules:
    """Selection's business rules, from the settings (OPERATIONS section 2.2)."""
    return BusinessRules(
        quality_threshold=config.quality_threshold,
        cost_optimization=config.cost_optimization,
        max_cost_per_video=config.max_cost_per_video,
        prioritize_speed=config.prioritize_speed,
        prioritize_quality=config.prioritize_quality,
        quality_probe_share=config.quality_probe_share,
    )
