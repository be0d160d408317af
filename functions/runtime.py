"""Per-instance wiring, built on first use (the cold start), never at import: deployment loads
main.py without secrets. A bad setting fails the first call with an error naming the variable."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from firebase_functions.params import SecretParam

from shared import breaker as br
from shared.providers import from_settings as providers_from_settings
from shared.scoring import BusinessRules
from shared.service import Service
from shared.settings import Settings
from shared.storage import CloudStorageVault
from shared.stores.breakers import SharedBreaker
from shared.stores.firestore import (
    FirestoreBreakerBackend,
    FirestoreDocumentStore,
    FirestoreJobStore,
    Usage,
)
from shared.tasks import CloudTasksScheduler

log = logging.getLogger("cvplus")

ENV_TASKS_SERVICE_ACCOUNT = "CVPLUS_TASKS_SERVICE_ACCOUNT"
INVOKER_KEYWORDS = frozenset({"public", "private"})
# Benchmarks only: each instance keeps its Firestore usage (reads, writes, read-modify-writes and
# their attempts) in <dir>/<pid>.json, rewritten every half second (bench/load.py sums them).
ENV_USAGE_DIR = "CVPLUS_USAGE_DIR"

_lock = threading.Lock()
_service: Service | None = None
_settings: Settings | None = None
usage = Usage()


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env(os.environ)
        return _settings


def service(uses: Sequence[SecretParam] = ()) -> Service:
    """The instance's Service. ``uses``: the secrets the calling function declares; a required
    one that is unset (CVPLUS_INTERNAL_SECRET outside the emulator) fails the call with a
    SettingsError naming it."""
    global _service
    config = settings()
    config.require(p.name for p in uses)
    with _lock:
        if _service is None:
            _service = build(config, os.environ)
            log.info("cold start: service ready (instance %s)", _service.instance_id)
            if os.environ.get(ENV_USAGE_DIR):
                _keep_usage(Path(os.environ[ENV_USAGE_DIR]))
        return _service


def _keep_usage(folder: Path) -> None:
    path = folder / f"{os.getpid()}.json"

    def loop() -> None:
        while True:
            counts = {
                "reads": usage.reads,
                "writes": usage.writes,
                "transactions": usage.transactions,
                "attempts": usage.attempts,
            }
            partial = path.with_suffix(".tmp")
            partial.write_text(json.dumps(counts))
            partial.replace(path)
            time.sleep(0.5)

    folder.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=loop, name="usage", daemon=True).start()


def tasks_invoker(env: Mapping[str, str]) -> str:
    """Who may invoke ``videoJobTask``: the service account whose OIDC token the tasks carry
    (``CVPLUS_TASKS_SERVICE_ACCOUNT``), read when the CLI loads the functions to deploy them
    (from ``.env.<project>``). Unset: ``private``, no one may invoke it (tasks then fail until
    it is set); never public."""
    account = env.get(ENV_TASKS_SERVICE_ACCOUNT, "").strip()
    if not account:
        return "private"
    if "@" not in account or any(c.isspace() for c in account) or account in INVOKER_KEYWORDS:
        raise ValueError(f"{ENV_TASKS_SERVICE_ACCOUNT}={account!r}: not a service account email")
    return account


def project_id(env: Mapping[str, str]) -> str:
    return env.get("GCLOUD_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "demo-cvplus"


def functions_base(config: Settings, env: Mapping[str, str]) -> str:
    if config.functions_base_url:
        return config.functions_base_url
    region = env.get("FUNCTION_REGION", "us-central1")
    return f"https://{region}-{project_id(env)}.cloudfunctions.net"


def build(config: Settings, env: Mapping[str, str]) -> Service:
    from google.cloud import firestore

    if env.get("FIRESTORE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        client = firestore.Client(project=project_id(env), credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    else:
        client = firestore.Client(project=project_id(env))
    policies = {pid: _override(policy, config) for pid, policy in br.POLICIES.items()}
    key = config.internal_secret.reveal().encode() if config.internal_secret else b""
    queue = config.tasks_queue or (
        f"projects/{project_id(env)}/locations/us-central1/queues/video-jobs"
    )
    return Service(
        jobs=FirestoreJobStore(client, usage),
        breakers=SharedBreaker(FirestoreBreakerBackend(client, usage), policies=policies),
        docs=FirestoreDocumentStore(client, usage),
        providers=providers_from_settings(config),
        scheduler=CloudTasksScheduler(
            queue=queue,
            target_url=f"{functions_base(config, env)}/videoJobTask",
            key=key,
            emulator_host=config.tasks_emulator_host,
            service_account=config.tasks_service_account,
        ),
        rules=business_rules(config),
        webhook_base_url=config.public_webhook_base_url,
        token_key=key,
        breaker_enabled=config.circuit_breaker_enabled,
        tracking_enabled=config.performance_tracking_enabled,
        max_attempts=config.max_retry_attempts + 1,
        user_jobs_per_hour=config.user_jobs_per_hour,
        daily_spend_cap_usd=config.daily_spend_cap_usd,
        webhook_wait_s=config.webhook_wait_s,
        vault=vault(config, env, key),
    )


def vault(config: Settings, env: Mapping[str, str], key: bytes) -> CloudStorageVault:
    """Where finished videos are copied: the bucket of ``CVPLUS_VIDEO_BUCKET``, else the
    project's default Firebase bucket; on the storage emulator when ``STORAGE_EMULATOR_HOST``
    is set (google-cloud-storage then talks to it without credentials). ``key``: the internal
    secret, from which each object's download token is derived."""
    from google.cloud.storage import Client

    project = project_id(env)
    bucket = config.video_bucket or f"{project}.firebasestorage.app"
    if config.storage_emulator_host:
        from google.auth.credentials import AnonymousCredentials

        client = Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    else:
        client = Client(project=project)
    return CloudStorageVault(
        client, bucket, emulator_host=config.storage_emulator_host, token_key=key
    )


def _override(policy: br.BreakerPolicy, config: Settings) -> br.BreakerPolicy:
    from dataclasses import replace

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
