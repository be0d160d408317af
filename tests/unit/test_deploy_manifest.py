"""The manifest firebase-tools deploys from: the SDK's ``__/functions.yaml``, made as the CLI's
discovery makes it (firebase_functions/private/serving.py loads main.py from the source
directory; the CLI sets ADMIN_PORT, GCLOUD_PROJECT, FIREBASE_CONFIG and the .env values), in a
fresh interpreter so the decorators read that environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TASKS_ACCOUNT = "cvplus-video-tasks@demo-cvplus.iam.gserviceaccount.com"
WORKER = ["CVPLUS_INTERNAL_SECRET", "DID_API_KEY", "HEYGEN_API_KEY", "RUNWAYML_API_KEY"]
KEYS = ["DID_API_KEY", "HEYGEN_API_KEY", "RUNWAYML_API_KEY"]
USER = {"memory": 512, "concurrency": 80, "timeout": 60, "max": 20}
ADMIN = {"memory": 512, "concurrency": 20, "timeout": 60, "max": 2}
BIG = {"memory": 1024, "concurrency": 8, "timeout": 300, "max": 20}
HEALTH = {"memory": 1024, "concurrency": 1, "timeout": 300, "max": 2}
# function: (sizing, secrets, trigger, invoker); callables and schedules carry no invoker.
EXPECTED: dict[str, tuple[dict[str, int], list[str], str, list[str] | None]] = {
    "generateVideo": (USER, [], "callableTrigger", None),
    "generateVideoIntroduction": (USER, [], "callableTrigger", None),
    "regenerateVideoIntroduction": (USER, [], "callableTrigger", None),
    "getVideoStatus": (USER, [], "callableTrigger", None),
    "getMediaStatus": (USER, [], "callableTrigger", None),
    "getGenerationStatus": (USER, [], "callableTrigger", None),
    "getVideoQuota": (USER, [], "callableTrigger", None),
    "retryVideoJob": (USER, [], "callableTrigger", None),
    "cancelVideoJob": (USER, KEYS, "callableTrigger", None),
    "cancelGeneration": (USER, KEYS, "callableTrigger", None),
    "rateVideo": (USER, [], "callableTrigger", None),
    "systemDashboard": (ADMIN, [], "callableTrigger", None),
    "setCircuitState": (ADMIN, [], "callableTrigger", None),
    "rotateVideoLinks": (ADMIN, [], "callableTrigger", None),
    "deleteVideo": (USER, [], "callableTrigger", None),
    # No invoker: firebase-tools makes an https function public on create (fabricator.js L374).
    "dashboard": (ADMIN, [], "httpsTrigger", None),
    "providerWebhook": (BIG, ["CVPLUS_INTERNAL_SECRET", "HEYGEN_API_KEY"], "httpsTrigger", None),
    "videoJobTask": (BIG, WORKER, "httpsTrigger", [TASKS_ACCOUNT]),
    "processVideoJob": (BIG, WORKER, "eventTrigger", None),
    "providerHealthCheck": (HEALTH, WORKER, "scheduleTrigger", None),
}


def discover(**env: str) -> subprocess.CompletedProcess[str]:
    """serving.py's manifest of main.py, under the environment the CLI's deploy gives it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CVPLUS_", "FUNCTIONS_"))}
    clean.pop("ENFORCE_APP_CHECK", None)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from firebase_functions.private import serving\n"
            "print(serving.functions_as_yaml(serving.get_functions()))",
        ],
        cwd=ROOT,
        env={
            **clean,
            "ADMIN_PORT": "8081",
            "GCLOUD_PROJECT": "demo-cvplus",
            "FIREBASE_CONFIG": '{"projectId": "demo-cvplus"}',
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manifest() -> dict[str, Any]:
    done = discover(CVPLUS_TASKS_SERVICE_ACCOUNT=TASKS_ACCOUNT)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = yaml.safe_load(done.stdout)
    return loaded


def test_every_function_deploys_in_one_region_with_its_familys_sizing_secrets_and_invoker() -> None:
    """Region, memory, a full CPU, concurrency, timeout, instance cap, secrets, invoker."""
    endpoints = manifest()["endpoints"]
    assert sorted(endpoints) == sorted(EXPECTED)
    for name, (size, secrets, trigger, invoker) in EXPECTED.items():
        got = endpoints[name]
        assert got["region"] == ["us-central1"], name
        assert got["cpu"] == 1, name  # not gcf_gen1, whose fraction of a CPU forces concurrency 1
        seen = {
            "memory": got["availableMemoryMb"],
            "concurrency": got["concurrency"],
            "timeout": got["timeoutSeconds"],
            "max": got["maxInstances"],
        }
        assert seen == size, name
        assert got["minInstances"] is None, name  # import main: 0.8 s, no warm instance kept
        assert sorted(s["key"] for s in got["secretEnvironmentVariables"]) == secrets, name
        assert trigger in got, name
        assert got.get(trigger, {}).get("invoker") == invoker, name


def test_the_task_function_has_a_timeout_the_task_queue_allows() -> None:
    """The queue's dispatch deadline is at most 1800 s; the worker's timeout stays below."""
    endpoints = manifest()["endpoints"]
    assert endpoints["videoJobTask"]["timeoutSeconds"] <= 1800


def test_a_deploy_without_the_tasks_service_account_stops_naming_it() -> None:
    """Without it every task would be a 403 (private function, tokenless tasks)."""
    done = discover()
    assert done.returncode != 0
    assert "CVPLUS_TASKS_SERVICE_ACCOUNT is unset" in done.stderr
    in_emulator = discover(FUNCTIONS_EMULATOR="true")
    assert in_emulator.returncode == 0, in_emulator.stderr
    endpoints = yaml.safe_load(in_emulator.stdout)["endpoints"]
    assert endpoints["videoJobTask"]["httpsTrigger"]["invoker"] == ["private"]


def test_app_check_is_off_by_default_and_the_deploy_says_so() -> None:
    """The warning is in the CLI's output (and each instance's log) until it is turned on."""
    done = discover(CVPLUS_TASKS_SERVICE_ACCOUNT=TASKS_ACCOUNT)
    assert "App Check is not enforced" in done.stderr
    turned_on = discover(CVPLUS_TASKS_SERVICE_ACCOUNT=TASKS_ACCOUNT, ENFORCE_APP_CHECK="true")
    assert turned_on.returncode == 0, turned_on.stderr
    assert "App Check is not enforced" not in turned_on.stderr
    bad = discover(CVPLUS_TASKS_SERVICE_ACCOUNT=TASKS_ACCOUNT, ENFORCE_APP_CHECK="maybe")
    assert bad.returncode != 0
    assert "ENFORCE_APP_CHECK" in bad.stderr


def _rows(section: str) -> dict[str, list[str]]:
    """Each function named in the first column of a table in ``section`` -> its row's cells."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) > 1:
            for name in re.findall(r"`(\w+)`", cells[0]):
                rows[name] = cells[1:]
    return rows


def test_operations_lists_every_function_its_secrets_and_its_deployed_sizing() -> None:
    """Section 1 and the secrets table name all functions; section 8's table is the manifest's."""
    text = (ROOT / "docs" / "OPERATIONS.md").read_text()
    section_1 = text[text.index("## 1. What gets deployed") : text.index("## 2. First deployment")]
    secrets = text[text.index("Each function is given only") : text.index("### 2.2")]
    section_8 = text[text.index("## 8. Deploying into the CVPlus project") :]
    assert set(_rows(section_1)) >= set(EXPECTED)
    assert set(_rows(secrets)) == set(EXPECTED)
    for name, cells in _rows(secrets).items():
        listed = sorted(re.findall(r"`([A-Z_]+)`", cells[0]))
        assert listed == EXPECTED[name][1], name
    sizing = _rows(section_8[section_8.index("| function | memory") :])
    for name, (size, *_) in EXPECTED.items():
        memory = (
            f"{size['memory']} MiB" if size["memory"] < 1024 else f"{size['memory'] // 1024} GiB"
        )
        shown = [memory, str(size["concurrency"]), f"{size['timeout']} s", str(size["max"])]
        assert sizing[name][:4] == shown, name
