"""The local stack end to end, against a fixture functions project: Auth + callable through the
Functions emulator, Firestore triggers delivered by Google's Firestore emulator, a scheduled
Cloud Task, loopback-only
ports, and `up`/`down` from separate shells leaving nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import grpc
import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.tasks_v2 import CloudTasksClient, HttpMethod, HttpRequest, Task
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.protobuf import timestamp_pb2

from tests.support.stacks import make_fixture_project
from tools.stack import Stack, read_pid_file
from tools.stack._stack import REPO_ROOT
from tools.stack.client import call, sign_up
from tools.stack.processes import descendants, is_alive, listening_addresses

pytestmark = pytest.mark.e2e


def test_a_signed_in_user_reaches_the_callable_with_their_claims(
    stack: Stack, http: httpx.Client
) -> None:
    """Auth emulator sign-up, custom claims by the owner, then a callable sees uid and claims."""
    uid, token = sign_up(http, stack.config, {"admin": True, "tier": "premium"})
    answer = call(http, stack.config, "ping", {"hello": "world"}, token)
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert result["echo"] == {"hello": "world"}
    assert result["uid"] == uid
    assert result["admin"] is True
    assert result["tier"] == "premium"


def test_an_anonymous_call_is_unauthenticated(stack: Stack, http: httpx.Client) -> None:
    """No ID token: the callable's error code is UNAUTHENTICATED (HTTP 401)."""
    answer = call(http, stack.config, "ping", {"hello": "world"})
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"


def test_the_functions_get_the_stack_environment(stack: Stack, http: httpx.Client) -> None:
    """Firestore, Cloud Tasks, Cloud Storage, the functions' own base URL and the provider
    simulator's URLs reach the functions' environment."""
    _, token = sign_up(http, stack.config)
    env = call(http, stack.config, "ping", None, token).json()["result"]["env"]
    config = stack.config
    assert config.provider_sim is not None
    sim = config.provider_sim.url
    assert env == {
        "FIRESTORE_EMULATOR_HOST": config.firestore.address,
        "CVPLUS_TASKS_EMULATOR_HOST": config.cloud_tasks.address,
        "CVPLUS_TASKS_QUEUE": config.tasks_queue,
        "STORAGE_EMULATOR_HOST": config.cloud_storage.url,
        "CVPLUS_VIDEO_BUCKET": "demo-cvplus.firebasestorage.app",
        "CVPLUS_FUNCTIONS_BASE_URL": f"{config.functions.url}/demo-cvplus/us-central1",
        "PUBLIC_WEBHOOK_BASE_URL": f"{config.functions.url}/demo-cvplus/us-central1",
        "GCLOUD_PROJECT": "demo-cvplus",
        "CVPLUS_PROVIDER_SIM_URL": sim,
        "HEYGEN_BASE_URL": f"{sim}/heygen",
        "RUNWAYML_BASE_URL": f"{sim}/runwayml",
        "DID_BASE_URL": f"{sim}/did",
    }


@pytest.fixture
def db(firestore_env: str) -> Iterator[firestore.Client]:
    client = firestore.Client(project="demo-cvplus", credentials=AnonymousCredentials())
    yield client
    client.close()


def _wait_for(
    db: firestore.Client, job_id: str, until: Any, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        snapshot = db.collection("markers").document(job_id).get()
        seen = snapshot.to_dict() if snapshot.exists else None
        if seen is not None and until(seen):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"marker for {job_id} never matched; last seen {seen}")


def test_writing_a_job_runs_the_trigger_with_before_and_after(db: firestore.Client) -> None:
    """Create, update and delete a job: each reaches on_document_written from the emulator, with
    old and new values."""
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    job = db.collection("enhanced_video_jobs").document(job_id)

    job.set({"status": "queued", "attempt": 0})
    created = _wait_for(db, job_id, lambda m: m["after"] is not None)
    assert created["before"] is None
    assert created["after"] == {"status": "queued", "attempt": 0}
    assert created["document"] == f"enhanced_video_jobs/{job_id}"

    job.update({"status": "processing", "attempt": 1})
    updated = _wait_for(db, job_id, lambda m: m["after"] and m["after"]["status"] == "processing")
    assert updated["before"] == {"status": "queued", "attempt": 0}
    assert updated["after"] == {"status": "processing", "attempt": 1}

    job.delete()
    deleted = _wait_for(db, job_id, lambda m: m["after"] is None)
    assert deleted["before"] == {"status": "processing", "attempt": 1}


def test_a_burst_of_writes_ends_with_the_trigger_seeing_the_last_state(
    db: firestore.Client,
) -> None:
    """Ten quick updates: never more events than writes, and the last event carries the
    final state (what a state-reading handler needs)."""
    job_id = f"burst-{uuid.uuid4().hex[:8]}"
    job = db.collection("enhanced_video_jobs").document(job_id)
    job.set({"n": 0})
    _wait_for(db, job_id, lambda m: m["after"] == {"n": 0})
    for n in range(1, 11):
        job.update({"n": n})
    _wait_for(db, job_id, lambda m: m["after"] == {"n": 10})
    time.sleep(1.0)  # let any straggler land before counting
    counted = db.collection("deliveries").document(job_id).get().to_dict() or {}
    assert 2 <= counted["n"] <= 11
    print(f"\nburst of 10 updates -> {counted['n'] - 1} trigger runs", file=sys.stderr)


class _Recorder(BaseHTTPRequestHandler):
    arrivals: ClassVar[list[tuple[float, str, bytes, dict[str, str]]]] = []
    arrived: ClassVar[threading.Event] = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        _Recorder.arrivals.append((time.time(), self.path, body, dict(self.headers)))
        self.send_response(200)
        self.end_headers()
        _Recorder.arrived.set()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reports what matters."""


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.arrivals = []
    _Recorder.arrived = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_cloud_task_arrives_no_earlier_than_scheduled(stack: Stack, recorder: str) -> None:
    """A task for +3 s reaches its HTTP target after its schedule time, body and headers intact."""
    channel = grpc.insecure_channel(stack.config.cloud_tasks.address)
    client = CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
    scheduled = datetime.now(UTC) + timedelta(seconds=3)
    when = timestamp_pb2.Timestamp()
    when.FromDatetime(scheduled)
    task = Task(
        http_request=HttpRequest(
            url=f"{recorder}/videoJobTask?job=j-1",
            http_method=HttpMethod.POST,
            headers={"Content-Type": "application/json", "X-Job": "j-1"},
            body=b'{"jobId": "j-1", "action": "poll"}',
        ),
        schedule_time=when,
    )
    client.create_task(parent=stack.config.tasks_queue, task=task)
    channel.close()
    assert _Recorder.arrived.wait(20), "the task never arrived"
    arrived_at, path, body, headers = _Recorder.arrivals[0]
    late = arrived_at - scheduled.timestamp()
    print(f"\ntask scheduled +3 s arrived {late:+.2f} s after its schedule time", file=sys.stderr)
    assert late >= 0
    assert late < 3.0
    assert path == "/videoJobTask?job=j-1"
    assert body == b'{"jobId": "j-1", "action": "poll"}'
    assert headers["X-Job"] == "j-1"


def test_every_port_listens_on_loopback_only(stack: Stack, http: httpx.Client) -> None:
    """Nothing the stack starts is reachable from the network."""
    for name, endpoint in stack.config.ports().items():
        addresses = listening_addresses(endpoint.port)
        assert addresses, f"{name}: nothing listens on {endpoint.port}"
        assert addresses <= {"127.0.0.1"}, f"{name} listens on {addresses}"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.stack", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_up_in_one_shell_and_down_in_another_leave_nothing_running(
    tmp_path: Path, http: httpx.Client
) -> None:
    """`up` returns with the stack running in the background; `down` from another process
    stops every process and worker it started, and the pid file goes away."""
    project = make_fixture_project(tmp_path / "project")
    run_dir = tmp_path / "run"
    up = _cli("up", "--source", str(project), "--run-dir", str(run_dir), "--no-provider-sim")
    assert up.returncode == 0, up.stdout + up.stderr
    records = read_pid_file(run_dir)
    assert {r.name for r in records} == {"cloud_tasks", "cloud_storage", "firebase"}
    status = _cli("status", "--run-dir", str(run_dir))
    assert status.returncode == 0, status.stdout
    # Make the Functions emulator start a Python worker, so down has one to stop.
    functions = json.loads((run_dir / "stack.json").read_text())["ports"]["functions"]
    http.post(f"http://{functions}/demo-cvplus/us-central1/ping", json={"data": None})
    family = [(r.pid, r.start_ticks) for r in records]
    for record in records:
        family.extend(descendants(record.pid))
    assert len(family) > len(records)

    down = _cli("down", "--run-dir", str(run_dir))

    assert down.returncode == 0, down.stdout + down.stderr
    assert [pid for pid, ticks in family if is_alive(pid, ticks)] == []
    assert not (run_dir / "stack.json").exists()
    assert _cli("status", "--run-dir", str(run_dir)).returncode == 1
