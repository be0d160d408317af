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

from shared.shell import deployment
from shared.shell.context import Shell
from shared.shell.settings import Settings

log = logging.getLogger("cvplus")

ENV_TASKS_SERVICE_ACCOUNT = "CVPLUS_TASKS_SERVICE_ACCOUNT"
INVOKER_KEYWORDS = frozenset({"public", "private"})
# Benchmarks only: each instance keeps its Firestore usage (reads, writes, read-modify-writes and
# their attempts) in <dir>/<pid>.json, rewritten every half second (bench/load.py sums them).
ENV_USAGE_DIR = "CVPLUS_USAGE_DIR"

_lock = threading.Lock()
_shell: Shell | None = None
_settings: Settings | None = None
usage = deployment.usage


def settings() -> Settings:
    global _settings
    with _lock:
        if _settings is None:
            _settings = Settings.from_env(os.environ)
        return _settings


def shell(uses: Sequence[SecretParam] = ()) -> Shell:
    """The instance's Shell: its ports and the deployment's setup, built once. ``uses``: the
    secrets the calling function declares; a required one that is unset (CVPLUS_INTERNAL_SECRET
    outside the emulator) fails the call with a SettingsError naming it."""
    global _shell
    config = settings()
    config.require(p.name for p in uses)
    with _lock:
        if _shell is None:
            _shell = deployment.build(config, os.environ)
            log.info("cold start: shell ready (instance %s)", _shell.instance_id)
            if os.environ.get(ENV_USAGE_DIR):
                _keep_usage(Path(os.environ[ENV_USAGE_DIR]))
        return _shell


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
    and when an instance loads them (both from ``.env.<project>``). Unset, the function would
    be private with tasks carrying no token, every task a 403: so outside the emulator (the CLI
    deploying, ``ADMIN_PORT``; an instance, ``K_SERVICE``) it is refused, naming the variable,
    and the deploy stops before it changes anything. In the emulator and tests: ``private``."""
    account = env.get(ENV_TASKS_SERVICE_ACCOUNT, "").strip()
    if not account:
        deployed = env.get("ADMIN_PORT") or env.get("K_SERVICE")
        if deployed and env.get("FUNCTIONS_EMULATOR") != "true":
            raise ValueError(
                f"{ENV_TASKS_SERVICE_ACCOUNT} is unset: set it in .env.<project> to the service "
                "account the tasks' OIDC tokens name, e.g. the functions' runtime account "
                "PROJECT_NUMBER-compute@developer.gserviceaccount.com (docs/OPERATIONS.md, "
                "Deploying into the CVPlus project)"
            )
        return "private"
    if "@" not in account or any(c.isspace() for c in account) or account in INVOKER_KEYWORDS:
        raise ValueError(f"{ENV_TASKS_SERVICE_ACCOUNT}={account!r}: not a service account email")
    return account
