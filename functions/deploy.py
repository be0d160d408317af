"""How each function is deployed: the one region, and memory, CPU, concurrency, timeout and
instance cap per family (docs/OPERATIONS.md, "Deploying into the CVPlus project", gives the
table and the figures behind it). functions/__init__.py applies the globals before any handler
module is imported; each decorator spreads its family (``**deploy.USER``).

Figures (2 shared cores): ``import main`` takes 0.8 s (``python -X importtime``: 0.80 s, most of
it firebase_functions.https_fn and firebase_admin) and 90 MB RSS; the first call adds the Google
clients (0.13 s). A cold start is then about a second plus the platform's container start,
against a video that takes minutes: no function keeps a warm instance (``min_instances``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Final

from firebase_functions import options

from shared.shell.deployment import REGION
from shared.shell.settings import APP_WAIT_MAX_S, Settings

log = logging.getLogger("cvplus")
MiB = options.MemoryOption

# Every function: the region of the task URL and the queue, and one full CPU. The CPU must be
# given: set_global_options' own default is cpu="gcf_gen1", a fraction of a CPU, with which
# firebase-tools forces concurrency 1 (prepare.js: e.concurrency = e.cpu >= 1 ? 80 : 1).
GLOBAL: Final[dict[str, Any]] = {"region": REGION, "cpu": 1}

# User callables (the web app's and generateVideo): they read and write a few documents and
# answer at once; the web SDK gives up after 70 s. 80 concurrent calls share an instance.
USER: Final[dict[str, Any]] = {
    "memory": MiB.MB_512,
    "concurrency": 80,
    "timeout_sec": 60,
    "max_instances": 20,
}
# generate/regenerateVideoIntroduction wait for the video up to APP_WAIT_SECONDS: that wait,
# the job's creation and a cold start must end within the USER timeout.
assert APP_WAIT_MAX_S + 10 <= USER["timeout_sec"] < 70
# The admin callables and the dashboard page: a handful of people.
ADMIN: Final[dict[str, Any]] = {
    "memory": MiB.MB_512,
    "concurrency": 20,
    "timeout_sec": 60,
    "max_instances": 2,
}
# The workers (processVideoJob, videoJobTask) and the webhook: a provider call may wait out
# HeyGen's 120 s submit budget (shared/adapters/providers/heygen.py), and a finished video is
# copied into the bucket, streamed in chunks (shared/adapters/storage.py), so memory holds the
# instance (90 MB) plus a few chunks per call, never the video: 1 GiB for 8 calls at once.
WORKER: Final[dict[str, Any]] = {
    "memory": MiB.GB_1,
    "concurrency": 8,
    "timeout_sec": 300,
    "max_instances": 20,
}
# The health check, every minute: probes, recoveries and the copies of stranded videos, one run
# at a time (a second instance only while a slow run overlaps the next).
HEALTH: Final[dict[str, Any]] = {
    "memory": MiB.GB_1,
    "concurrency": 1,
    "timeout_sec": 300,
    "max_instances": 2,
}


def app_check(env: Mapping[str, str]) -> bool:
    """Whether the callables require an App Check token: ``ENFORCE_APP_CHECK``, off unless set
    (the CVPlus web app sends none). Decided when the CLI loads the functions to deploy them
    and again when an instance loads them, from the same ``.env.<project>``; passed to each
    ``on_call(enforce_app_check=...)``, since set_global_options' value is ignored by on_call in
    firebase_functions 0.6.0 (https_fn.py imports _GLOBAL_OPTIONS by value)."""
    given = {"ENFORCE_APP_CHECK": env.get("ENFORCE_APP_CHECK", "")}
    return Settings.from_env(given).enforce_app_check


APP_CHECK: Final = app_check(os.environ)
if not APP_CHECK and os.environ.get("FUNCTIONS_EMULATOR") != "true":
    log.warning(
        "App Check is not enforced: the callables accept calls from any client with a valid ID "
        "token. Set ENFORCE_APP_CHECK=true in .env.<project> and deploy again once the web app "
        "sends App Check tokens (docs/OPERATIONS.md, Deploying into the CVPlus project)."
    )
