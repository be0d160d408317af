"""Where each part of the local stack listens: read from the "emulators" block of firebase.json,
the one place ports are written down, and checked to be loopback only.

Keys firebase-tools knows keep their sense: `functions`, `auth`, `hub`, `logging` and `tasks`
(firebase-tools starts its own task-queue emulator with the Functions emulator, even under
`--only functions,auth`), and `firestore` (Google's emulator, through tools.emulators).
`cloudTasks` (gcloud-tasks-emulator: the Cloud Tasks gRPC API, honouring schedule times),
`cloudStorage` (gcp-storage-emulator: the Cloud Storage JSON API, where finished videos are
copied; firebase-tools' own `storage` emulator downloads a rules runtime at start, which these
machines cannot) and `providerSim` are ours; firebase-tools logs unknown keys at debug level
and ignores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ID = "demo-cvplus"  # demo-: firebase-tools needs no credentials and reaches no cloud
REGION = "us-central1"
TASKS_QUEUE_ID = "video-jobs"
LOOPBACK = "127.0.0.1"
FIREBASE_JSON = "firebase.json"

# Emulators of firebase.json that the stack starts or needs; each must name a port.
_REQUIRED = (
    "functions",
    "auth",
    "firestore",
    "cloudTasks",
    "cloudStorage",
    "tasks",
    "hub",
    "logging",
)
_OPTIONAL = ("providerSim",)


class StackConfigError(ValueError):
    """firebase.json is missing, or an emulator entry has no port or a non-loopback host."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        """host:port, as FIRESTORE_EMULATOR_HOST and friends want it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StackConfig:
    source_dir: Path
    project_id: str
    functions: Endpoint
    auth: Endpoint
    firestore: Endpoint
    cloud_tasks: Endpoint  # ours: gcloud-tasks-emulator
    cloud_storage: Endpoint  # ours: gcp-storage-emulator
    firebase_tasks: Endpoint  # firebase-tools' task-queue emulator (started with functions)
    hub: Endpoint
    logging: Endpoint
    provider_sim: Endpoint | None

    @property
    def video_bucket(self) -> str:
        """The bucket the stack creates: the project's default Firebase bucket."""
        return f"{self.project_id}.firebasestorage.app"

    @property
    def tasks_queue(self) -> str:
        """The queue the stack creates, as google-cloud-tasks names it."""
        return f"projects/{self.project_id}/locations/{REGION}/queues/{TASKS_QUEUE_ID}"

    def function_url(self, name: str) -> str:
        """The Functions emulator's URL of an HTTP or callable function."""
        return f"{self.functions.url}/{self.project_id}/{REGION}/{name}"

    @property
    def auth_api(self) -> str:
        """Base URL of the Auth emulator's Identity Toolkit REST API."""
        return f"{self.auth.url}/identitytoolkit.googleapis.com/v1"

    def ports(self) -> dict[str, Endpoint]:
        named = {
            "functions": self.functions,
            "auth": self.auth,
            "firestore": self.firestore,
            "cloudTasks": self.cloud_tasks,
            "cloudStorage": self.cloud_storage,
            "tasks": self.firebase_tasks,
            "hub": self.hub,
            "logging": self.logging,
        }
        if self.provider_sim is not None:
            named["providerSim"] = self.provider_sim
        return named

    @classmethod
    def load(cls, source_dir: Path, *, project_id: str = PROJECT_ID) -> StackConfig:
        path = source_dir / FIREBASE_JSON
        try:
            emulators = json.loads(path.read_text())["emulators"]
        except FileNotFoundError:
            raise StackConfigError(f"{path} does not exist") from None
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise StackConfigError(f"{path} has no readable 'emulators' block: {exc}") from exc
        found = {name: _endpoint(path, name, emulators.get(name)) for name in _REQUIRED}
        optional = {name: emulators.get(name) for name in _OPTIONAL}
        return cls(
            source_dir=source_dir.resolve(),
            project_id=project_id,
            functions=found["functions"],
            auth=found["auth"],
            firestore=found["firestore"],
            cloud_tasks=found["cloudTasks"],
            cloud_storage=found["cloudStorage"],
            firebase_tasks=found["tasks"],
            hub=found["hub"],
            logging=found["logging"],
            provider_sim=(
                None
                if optional["providerSim"] is None
                else _endpoint(path, "providerSim", optional["providerSim"])
            ),
        )


def _endpoint(path: Path, name: str, entry: Any) -> Endpoint:
    if not isinstance(entry, dict) or not isinstance(entry.get("port"), int):
        raise StackConfigError(
            f'{path}: emulators.{name} needs {{"host": "{LOOPBACK}", "port": N}}'
        )
    host = entry.get("host", LOOPBACK)
    if host != LOOPBACK:
        raise StackConfigError(
            f"{path}: emulators.{name}.host is {host!r}; the stack binds only {LOOPBACK}"
        )
    return Endpoint(host, entry["port"])
