"""The gcloud commands that set up Cloud Tasks for the video backend in a project: the API, the
queue (its region is the functions' one, shared/shell/deployment.REGION), and the two IAM grants
the functions' runtime account needs to enqueue tasks that carry an OIDC token of the tasks'
account. Printed by default; ``--run`` runs them one by one and stops at the first failure.

    venv/bin/python -m tools.tasks_queue --project getmycv-ai --project-number 123456789012
    venv/bin/python -m tools.tasks_queue --project P --project-number N --run

The tasks' account defaults to the runtime account itself (2nd gen functions run as the
Compute Engine default service account, PROJECT_NUMBER-compute@developer.gserviceaccount.com,
unless a function names another); set CVPLUS_TASKS_SERVICE_ACCOUNT in .env.<project> to the
same email (the deploy refuses to go on without it: functions/runtime.py tasks_invoker).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

from shared.core.orchestration import JOB_TIMEOUT_S
from shared.shell.deployment import QUEUE_ID, REGION

# Delivery retries only (the code schedules its own backoff as each task's time): a few short,
# bounded ones, never past a job's deadline, which fails the job anyway.
MAX_ATTEMPTS = 5
MIN_BACKOFF_S = 10
MAX_BACKOFF_S = 300
MAX_DOUBLINGS = 4
MAX_RETRY_DURATION_S = int(JOB_TIMEOUT_S)
# At least the sum of the providers' concurrency limits (HeyGen 10, D-ID 5, RunwayML 1 at tier
# 1, more with RUNWAYML_CONCURRENCY); raise it with the provider plans. videoJobTask's
# max_instances x concurrency (functions/deploy.py WORKER: 20 x 8) is above it, so the queue,
# not the function, is the limit.
MAX_CONCURRENT_DISPATCHES = 20
MAX_DISPATCHES_PER_SECOND = 10


def runtime_account(project_number: str) -> str:
    return f"{project_number}-compute@developer.gserviceaccount.com"


def commands(project: str, runtime: str, tasks: str) -> list[list[str]]:
    return [
        ["gcloud", "services", "enable", "cloudtasks.googleapis.com", f"--project={project}"],
        [
            "gcloud",
            "tasks",
            "queues",
            "create",
            QUEUE_ID,
            f"--location={REGION}",
            f"--project={project}",
            f"--max-attempts={MAX_ATTEMPTS}",
            f"--min-backoff={MIN_BACKOFF_S}s",
            f"--max-backoff={MAX_BACKOFF_S}s",
            f"--max-doublings={MAX_DOUBLINGS}",
            f"--max-retry-duration={MAX_RETRY_DURATION_S}s",
            f"--max-dispatches-per-second={MAX_DISPATCHES_PER_SECOND}",
            f"--max-concurrent-dispatches={MAX_CONCURRENT_DISPATCHES}",
        ],
        # The runtime account creates the tasks...
        [
            "gcloud",
            "projects",
            "add-iam-policy-binding",
            project,
            f"--member=serviceAccount:{runtime}",
            "--role=roles/cloudtasks.enqueuer",
            "--condition=None",
        ],
        # ...that carry an OIDC token of the tasks' account: it must be able to act as it.
        [
            "gcloud",
            "iam",
            "service-accounts",
            "add-iam-policy-binding",
            tasks,
            f"--project={project}",
            f"--member=serviceAccount:{runtime}",
            "--role=roles/iam.serviceAccountUser",
        ],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True, help="the project id (e.g. getmycv-ai)")
    parser.add_argument(
        "--project-number",
        required=True,
        help="gcloud projects describe PROJECT --format='value(projectNumber)'",
    )
    parser.add_argument("--runtime-account", help="default: the Compute Engine default account")
    parser.add_argument("--tasks-account", help="default: the runtime account")
    parser.add_argument("--run", action="store_true", help="run the commands, not print them")
    args = parser.parse_args(argv)
    runtime = args.runtime_account or runtime_account(args.project_number)
    tasks = args.tasks_account or runtime
    for command in commands(args.project, runtime, tasks):
        print(shlex.join(command), flush=True)
        if args.run and subprocess.run(command, check=False).returncode != 0:
            return 1
    print(f"# then, in .env.{args.project}: CVPLUS_TASKS_SERVICE_ACCOUNT={tasks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
