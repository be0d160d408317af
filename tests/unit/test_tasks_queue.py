"""One region for the functions, the task URL and the queue; and the queue tools/tasks_queue.py
creates holds the settings the code assumes."""

from __future__ import annotations

import pytest

from functions import deploy
from shared.adapters.providers import did, heygen, runwayml
from shared.core.orchestration import JOB_TIMEOUT_S
from shared.shell import deployment
from shared.shell.settings import Settings
from tools import tasks_queue

PROJECT = "getmycv-ai"


def flags(command: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in command if a.startswith("--") and "=" in a)


def test_the_task_url_and_the_queue_are_in_the_functions_region_whatever_the_trigger_says() -> None:
    """A Firestore trigger runs where the database is told; the task URL must not follow it."""
    env = {"GCLOUD_PROJECT": PROJECT, "FUNCTION_REGION": "europe-west1"}
    assert deployment.functions_base(Settings(), env) == (
        f"https://{deploy.GLOBAL['region']}-{PROJECT}.cloudfunctions.net"
    )
    assert deployment.default_queue(env) == (
        f"projects/{PROJECT}/locations/{deploy.GLOBAL['region']}/queues/video-jobs"
    )


def test_the_queue_is_created_where_the_code_looks_for_it_with_bounded_retries() -> None:
    """Delivery retries stop at the job deadline; dispatches cover the providers' concurrency and
    stay within what videoJobTask's instances can take."""
    create = tasks_queue.commands(PROJECT, "rt@x.iam.gserviceaccount.com", "t@x")[1]
    given = flags(create)
    queue = create[create.index("create") + 1]
    assert f"projects/{PROJECT}/locations/{given['location']}/queues/{queue}" == (
        deployment.default_queue({"GCLOUD_PROJECT": PROJECT})
    )
    assert given["max-retry-duration"] == f"{int(JOB_TIMEOUT_S)}s"
    providers = sum(m.CAPABILITIES.concurrency_limit for m in (heygen, did, runwayml))
    assert int(given["max-concurrent-dispatches"]) >= providers
    worker = deploy.WORKER["max_instances"] * deploy.WORKER["concurrency"]
    assert int(given["max-concurrent-dispatches"]) <= worker
    assert int(given["max-attempts"]) >= 2


def test_the_runtime_account_may_enqueue_and_act_as_the_tasks_account() -> None:
    """roles/cloudtasks.enqueuer on the project; roles/iam.serviceAccountUser on the account the
    tasks' OIDC tokens name (else create_task is refused)."""
    runtime = tasks_queue.runtime_account("123456789012")
    assert runtime == "123456789012-compute@developer.gserviceaccount.com"
    grants = tasks_queue.commands(PROJECT, runtime, "tasks@x.iam.gserviceaccount.com")[2:]
    assert [flags(c)["role"] for c in grants] == [
        "roles/cloudtasks.enqueuer",
        "roles/iam.serviceAccountUser",
    ]
    assert all(flags(c)["member"] == f"serviceAccount:{runtime}" for c in grants)
    assert "tasks@x.iam.gserviceaccount.com" in grants[1]


def test_the_script_prints_the_commands_and_the_setting_to_make(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """By default it runs nothing: the operator reads, then runs or passes --run."""
    assert tasks_queue.main(["--project", PROJECT, "--project-number", "42"]) == 0
    out = capsys.readouterr().out
    assert "gcloud tasks queues create video-jobs --location=us-central1" in out
    assert "CVPLUS_TASKS_SERVICE_ACCOUNT=42-compute@developer.gserviceaccount.com" in out
