"""The dashboard on the real local emulator stack, with real figures in it.

`local_stack(folder)` starts `tools.stack.Stack` on a copy of the functions project on free ports
(`isolated_project`, so it never collides with another stack), with the provider simulator, then:

1. creates two Auth-emulator accounts with email and password (so the page can sign in): an
   admin (custom claim ``admin: true``) and a normal user;
2. makes real traffic through `generateVideo` as that user, each wave waited for until every
   job is terminal in Firestore: jobs while every provider is healthy (HeyGen renders them);
   then HeyGen answers 5xx (the simulator's control API), so the next jobs fail over to D-ID
   and HeyGen's circuit opens; then D-ID and RunwayML answer 5xx too, so the last jobs fail and
   are listed as failed jobs (RunwayML speaks, so with only D-ID down it would render them);
3. runs the health check once so `provider_stats` hold the figures. The scheduled
   `providerHealthCheck` has no trigger in the Functions emulator (it would need Pub/Sub and
   Cloud Scheduler), so the same code runs here in-process: `shared.shell.deployment.build` wired to
   the stack's Firestore, Cloud Tasks queue and simulator with the functions' own environment,
   then `health.health_check` - what the scheduled function's body does. The same runs
   while waiting for jobs when a wave takes over 20 s (it re-drives overdue jobs);
4. yields the browser test's `Stack`, whose ``more_traffic`` makes one more job (as the admin)
   and runs the health check while the page is open, so the test sees the figures move.

Everything it started is stopped on exit: the Stack's processes (checked: none of them or
their children is left running), the Firestore clients and the provider clients.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.browser.fake_stack import Account, Stack
from tools.stack import Stack as EmulatorStack
from tools.stack._stack import LOCAL_SECRETS
from tools.stack.client import API_KEY, OWNER, call
from tools.stack.config import StackConfig
from tools.stack.processes import descendants, is_alive
from tools.stack.project import isolated_project

ADMIN = Account("ops-admin@cvplus.test", "admin-password-1", admin=True)
USER = Account("someone@cvplus.test", "user-password-1")
# The traffic comes from several users, as a real day's does: one user's failing jobs alone may
# not open a provider's circuit (shared.core.breaker.user_allowance).
TRAFFIC_USERS = (USER, *(Account(f"user{n}@cvplus.test", "user-password-1") for n in (1, 2, 3)))

# About 150 words: a 60 s introduction, as the web app would send it.
SCRIPT = " ".join(
    [
        "Hello, I am Dana Ortiz, a data engineer with ten years of experience building",
        "reliable pipelines for retail and logistics companies. At my current company I lead",
        "a team of five engineers who move four billion events a day from point-of-sale",
        "systems into a warehouse that analysts trust. I redesigned our ingestion layer",
        "around idempotent batch loads, which cut failed nightly runs from twice a week to",
        "twice a year and saved the finance team a full day of reconciliation every month.",
        "Before that I built forecasting features for a delivery startup, working closely",
        "with product managers to turn messy requirements into clear data contracts. I enjoy",
        "mentoring junior engineers, writing documentation people actually read, and making",
        "on-call rotations quieter. I am looking for a role where data quality matters as",
        "much as speed, and where I can help a growing team scale its platform without",
        "losing the simplicity that makes it dependable. Thank you for watching.",
    ]
)
# Ten jobs in all: the free tier lets one user ask for ten an hour.
HEALTHY_JOBS = 3  # before the fault: HeyGen renders these
FAULTED_JOBS = 5  # during it: HeyGen answers 5xx, the jobs fail over, its circuit opens
FAILING_JOBS = 2  # every render fails: these fail
JOBS_DEADLINE_S = 90.0
# The simulator renders in 0.2 s by default, and its webhook can then arrive before the job has
# stored the provider's job id; `webhooks.on_webhook` drops it as stale, and the job waits for
# its poll (3 typical renders: minutes). Renders of 1.5 s keep the real order of events, and a
# webhook wait of 10 s bounds the wait if it still happens.
WEBHOOK_PROVIDERS = ("heygen", "did")
RENDER_S = 1.5
FUNCTIONS_ENV = {"WEBHOOK_WAIT_SECONDS": "10"}
REDRIVE_AFTER_S = 20.0  # a wave takes a few seconds; longer, and a job waits to be re-driven


@dataclass
class Traffic:
    """What the fixture did to the stack before the browser opened."""

    job_ids: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    providers: dict[str, str | None] = field(default_factory=dict)
    health: dict[str, object] = field(default_factory=dict)
    redrives: int = 0  # health checks run while waiting for jobs
    seconds: float = 0.0


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block (the Firestore client reads its host there)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def create_account(http: httpx.Client, config: StackConfig, account: Account) -> str:
    """An Auth-emulator user with the account's email and password (and the admin claim if it
    is an admin), as the page will sign in with them; returns its uid."""
    api = config.auth_api
    created = http.post(
        f"{api}/accounts:signUp",
        params={"key": API_KEY},
        json={"email": account.email, "password": account.password, "returnSecureToken": True},
    )
    created.raise_for_status()
    uid = str(created.json()["localId"])
    if account.admin:
        updated = http.post(
            f"{api}/projects/{config.project_id}/accounts:update",
            headers=OWNER,
            json={"localId": uid, "customAttributes": json.dumps({"admin": True})},
        )
        updated.raise_for_status()
    return uid


def id_token(http: httpx.Client, config: StackConfig, account: Account) -> str:
    answer = http.post(
        f"{config.auth_api}/accounts:signInWithPassword",
        params={"key": API_KEY},
        json={"email": account.email, "password": account.password, "returnSecureToken": True},
    )
    answer.raise_for_status()
    return str(answer.json()["idToken"])


def _submit(http: httpx.Client, config: StackConfig, tokens: list[str], n: int) -> str:
    token = tokens[n % len(tokens)]
    data = {
        "script": SCRIPT,
        "requestId": f"browser-{n:02d}-{uuid.uuid4().hex[:12]}",
        "options": {"duration": "medium"},
    }
    answer = call(http, config, "generateVideo", data, token)
    if answer.status_code != 200:
        raise RuntimeError(f"generateVideo answered {answer.status_code}: {answer.text}")
    return str(answer.json()["result"]["jobId"])


def _wait_terminal(
    db: Any,
    job_ids: list[str],
    traffic: Traffic,
    deadline_s: float,
    redrive: Callable[[], object],
) -> None:
    """Poll enhanced_video_jobs until every job is completed or failed. When jobs wait longer
    than the scheduled health check's period would allow here, ``redrive`` plays its part
    (it re-drives overdue jobs), as every minute in production."""
    give_up = time.monotonic() + deadline_s
    next_redrive = time.monotonic() + REDRIVE_AFTER_S
    pending = set(job_ids)
    while pending:
        if time.monotonic() > next_redrive:
            redrive()
            next_redrive = time.monotonic() + REDRIVE_AFTER_S
        for job_id in sorted(pending):
            doc = db.collection("enhanced_video_jobs").document(job_id).get()
            data = doc.to_dict() or {}
            if data.get("status") in {"completed", "failed"}:
                traffic.statuses[job_id] = str(data["status"])
                traffic.providers[job_id] = data.get("providerId")
                pending.discard(job_id)
        if not pending:
            return
        if time.monotonic() > give_up:
            stuck = {
                j: db.collection("enhanced_video_jobs").document(j).get().to_dict()
                for j in sorted(pending)
            }
            raise RuntimeError(
                f"jobs not terminal after {deadline_s:.0f} s: {sorted(pending)} "
                f"(done: {traffic.statuses}); stuck: {stuck}"
            )
        time.sleep(0.5)


def _arm(http: httpx.Client, sim: str, fault: dict[str, object]) -> None:
    http.post(f"{sim}/_control/faults", json=fault).raise_for_status()


def make_traffic(running: EmulatorStack, http: httpx.Client, db: Any) -> Traffic:
    """Real jobs through the real functions; HeyGen fails mid-way."""
    config = running.config
    assert config.provider_sim is not None, "the stack runs without the provider simulator"
    sim = config.provider_sim.url
    began = time.monotonic()
    traffic = Traffic()
    tokens = [id_token(http, config, account) for account in TRAFFIC_USERS]
    for provider in WEBHOOK_PROVIDERS:
        http.post(
            f"{sim}/_control/config", json={"provider": provider, "latency_s": RENDER_S}
        ).raise_for_status()

    def redrive() -> None:
        traffic.redrives += 1
        health_check_in_process(running)

    healthy = [_submit(http, config, tokens, n) for n in range(HEALTHY_JOBS)]
    traffic.job_ids += healthy
    _wait_terminal(db, healthy, traffic, JOBS_DEADLINE_S, redrive)
    # HeyGen answers 5xx from now on: these jobs fail over to D-ID, HeyGen's circuit opens.
    _arm(http, sim, {"provider": "heygen", "fault": "server_error", "count": 50})
    faulted = [_submit(http, config, tokens, HEALTHY_JOBS + n) for n in range(FAULTED_JOBS)]
    traffic.job_ids += faulted
    _wait_terminal(db, faulted, traffic, JOBS_DEADLINE_S, redrive)
    # Every provider's renders fail now (RunwayML speaks, so it would take them otherwise):
    # these jobs spend their render budget and fail (the last failed jobs on the page). A
    # refused submit would not do: it uses no budget, and the job waits out its deadline.
    for provider in ("heygen", "did", "runwayml"):
        _arm(http, sim, {"provider": provider, "fault": "render_failed", "count": 50})
    failing = [
        _submit(http, config, tokens, HEALTHY_JOBS + FAULTED_JOBS + n) for n in range(FAILING_JOBS)
    ]
    traffic.job_ids += failing
    _wait_terminal(db, failing, traffic, JOBS_DEADLINE_S, redrive)
    traffic.seconds = time.monotonic() - began
    return traffic


def health_check_in_process(running: EmulatorStack) -> dict[str, object]:
    """`providerHealthCheck`'s body, `health.health_check(runtime.shell())`, run here against the
    stack with the functions' environment (the emulator cannot fire the schedule)."""
    from shared.shell import deployment, health
    from shared.shell.settings import Settings

    env = {
        **running.functions_env,
        **LOCAL_SECRETS,
        "GCLOUD_PROJECT": running.config.project_id,
    }
    with _environ(env):
        shell = deployment.build(Settings.from_env(env), env)
        try:
            return health.health_check(shell)
        finally:
            for provider in shell.ports.providers.values():
                provider.close()
            client = getattr(shell.ports.jobs, "client", None)
            if client is not None:
                client.close()


@contextmanager
def local_stack(folder: Path, run_dir: Path) -> Iterator[Stack]:
    """The real stack with real traffic in it, as the browser test's `Stack`."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    project = isolated_project(folder)
    family: list[tuple[int, int]] = []
    with (
        EmulatorStack(project, run_dir=run_dir, functions_env=FUNCTIONS_ENV) as running,
        httpx.Client(timeout=60, trust_env=False) as http,
    ):
        config = running.config
        print(f"\nlocal stack ready: {running.timings} s; logs in {run_dir}", file=sys.stderr)
        for account in (ADMIN, *TRAFFIC_USERS):
            create_account(http, config, account)
        env = {"FIRESTORE_EMULATOR_HOST": config.firestore.address}
        with _environ(env):
            db = firestore.Client(project=config.project_id, credentials=AnonymousCredentials())
        try:
            with _environ(env):
                traffic = make_traffic(running, http, db)
            traffic.health = health_check_in_process(running)
            print(
                f"traffic: {traffic.statuses} on {traffic.providers} in {traffic.seconds:.1f} s "
                f"({traffic.redrives} re-drives); health check: {traffic.health}",
                file=sys.stderr,
            )

            def one_more_job() -> None:
                """While the page is open: the simulator healthy again, one job as the admin
                (the users have used much of the hour's ten), then the minute's health check."""
                assert config.provider_sim is not None
                sim = config.provider_sim.url
                http.post(f"{sim}/_control/reset").raise_for_status()
                for provider in WEBHOOK_PROVIDERS:
                    http.post(
                        f"{sim}/_control/config", json={"provider": provider, "latency_s": RENDER_S}
                    ).raise_for_status()
                job_id = _submit(http, config, [id_token(http, config, ADMIN)], 99)
                with _environ(env):
                    _wait_terminal(
                        db,
                        [job_id],
                        traffic,
                        JOBS_DEADLINE_S,
                        lambda: health_check_in_process(running),
                    )
                health_check_in_process(running)

            family = _family(running)
            yield Stack(
                page_url=config.function_url("dashboard"),
                auth_base=f"{config.auth.url}/identitytoolkit.googleapis.com",
                functions_base=config.function_url("").rstrip("/"),
                api_key=API_KEY,
                admin=ADMIN,
                user=USER,
                failed_job_ids=tuple(
                    j for j, status in traffic.statuses.items() if status == "failed"
                ),
                more_traffic=one_more_job,
            )
        finally:
            db.close()
    survivors = [pid for pid, ticks in family if is_alive(pid, ticks)]
    if survivors:
        raise RuntimeError(f"the local stack left processes running: {survivors}")


def _family(running: EmulatorStack) -> list[tuple[int, int]]:
    """(pid, start ticks) of every process the stack runs, descendants included."""
    family: list[tuple[int, int]] = []
    for record in running.records:
        family.append((record.pid, record.start_ticks))
        family.extend(descendants(record.pid))
    return family
