"""The local emulator stack on 127.0.0.1, for running the functions end to end and for e2e tests.

    python -m tools.stack up [--wait]     # start everything; print ports, env and timings
    python -m tools.stack status          # is each part alive (from run/stack.json)
    python -m tools.stack down            # stop a stack started by `up`, by PID

    with Stack(source_dir=...) as stack:  # the same from Python (tests/stack, tests/e2e)
        uid, token = sign_up(http, stack.config, {"admin": True})     # tools.stack.client
        call(http, stack.config, "generateVideo", {...}, token)

Parts: firebase-tools `emulators:start --only firestore,functions,auth` (project demo-cvplus;
Google's Firestore emulator through tools.emulators, which delivers the Firestore triggers
itself), gcloud-tasks-emulator (own venv, .tools/tasks-venv) with the queue created, and the
provider simulator (tools.provider_sim, when it exists). Ports: firebase.json "emulators".
Logs: run/<part>.log. See config.py for the port keys and _stack.py for the env the functions get.
"""

from tools.stack._stack import (
    ENV_FIRESTORE,
    ENV_FUNCTIONS_BASE,
    ENV_TASKS_HOST,
    ENV_TASKS_QUEUE,
    PartStatus,
    Stack,
    StackError,
    read_pid_file,
    status,
    stop_from_pid_file,
)
from tools.stack.client import call, sign_up
from tools.stack.config import Endpoint, StackConfig, StackConfigError
from tools.stack.processes import StackProcessError

__all__ = [
    "ENV_FIRESTORE",
    "ENV_FUNCTIONS_BASE",
    "ENV_TASKS_HOST",
    "ENV_TASKS_QUEUE",
    "Endpoint",
    "PartStatus",
    "Stack",
    "StackConfig",
    "StackConfigError",
    "StackError",
    "StackProcessError",
    "call",
    "read_pid_file",
    "sign_up",
    "status",
    "stop_from_pid_file",
]
