"""The provider simulator itself: started as a child process and stopped by PID, configured from
a schedule file, and strict about the fault specs it accepts."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from shared.adapters.providers.heygen import HeyGenProvider
from shared.adapters.providers.runwayml import RunwayMLProvider
from shared.core.errors import ErrorCategory, ProviderError
from tests.support.adapters import AdapterFactory, a_request, poll, raised
from tools.provider_sim import ProviderSim
from tools.provider_sim.faults import Fault

EXAMPLE_SCHEDULE = Path(__file__).resolve().parents[2] / "tools/provider_sim/example_schedule.json"


def test_subprocess_simulator_starts_on_a_free_port_and_stops_by_pid() -> None:
    """Started with --port 0 it reports its port, answers, and is gone after stop()."""
    sim = ProviderSim.subprocess()
    pid = sim.pid
    try:
        assert pid is not None
        assert sim.port > 0
        assert httpx.get(f"{sim.url}/_control/health", timeout=5).json() == {"ok": True}
    finally:
        sim.stop()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_schedule_file_arms_faults_and_sets_latency() -> None:
    """The example schedule's faults and per-provider latency are in force at start-up."""
    with ProviderSim.subprocess(schedule_file=EXAMPLE_SCHEDULE) as sim:
        stats = sim.stats()

    armed = {(f["provider"], f["fault"]) for f in stats["faults_armed"]}
    assert ("heygen", "server_error") in armed
    assert ("did", "webhook_duplicate") in armed
    assert stats["heygen"]["latency_s"] == 0.5


def test_scheduled_faults_fire_in_order_with_skip() -> None:
    """A 502 first, then one clean submit (skip), then a 429 with the scheduled Retry-After."""
    schedule = json.loads(EXAMPLE_SCHEDULE.read_text())
    with ProviderSim.in_process(schedule=schedule) as sim:
        adapter = HeyGenProvider(api_key="k", base_url=sim.base_url("heygen"))
        try:
            first = raised(lambda: adapter.submit(a_request()))
            second = adapter.submit(a_request())
            third = raised(lambda: adapter.submit(a_request()))
        finally:
            adapter.close()

    assert first.category is ErrorCategory.TRANSIENT
    assert second.provider_job_id
    assert third.category is ErrorCategory.RATE_LIMIT
    assert third.retry_after == 3.0


@pytest.mark.parametrize(
    "spec",
    [
        {"provider": "vimeo", "fault": "auth"},
        {"provider": "heygen", "fault": "meteor_strike"},
        {"provider": "heygen", "fault": "auth", "op": "delete"},
        {"fault": "auth"},
    ],
    ids=["unknown-provider", "unknown-fault", "unknown-op", "no-provider"],
)
def test_control_endpoint_rejects_a_bad_fault_spec(spec: dict[str, str], sim: ProviderSim) -> None:
    """A spec the simulator cannot honour is a 400, and nothing is armed."""
    answer = httpx.post(f"{sim.url}/_control/faults", json=spec, timeout=5)

    assert answer.status_code == 400
    assert sim.stats()["faults_armed"] == []


def run_probes(seed: int) -> list[bool]:
    with ProviderSim.in_process(seed=seed) as sim:
        sim.add_fault("runwayml", "server_error", probability=0.5, status=502)
        adapter = RunwayMLProvider(api_key="k", base_url=sim.base_url("runwayml"))
        outcomes: list[bool] = []
        try:
            for _ in range(40):
                try:
                    adapter.probe()
                    outcomes.append(True)
                except ProviderError:
                    outcomes.append(False)
        finally:
            adapter.close()
    return outcomes


def test_probability_fault_fires_on_some_requests_and_repeats_with_its_seed() -> None:
    """A 0.5-probability fault fails some of 40 probes, and the same seed fails the same ones."""
    first, again = run_probes(seed=11), run_probes(seed=11)

    assert 0 < first.count(False) < 40
    assert first == again


def test_requests_without_credentials_are_refused_like_the_real_apis(sim: ProviderSim) -> None:
    """No X-Api-Key / Bearer / Basic header: each simulated provider answers 401."""
    paths = ["/heygen/v3/voices", "/runwayml/v1/organization", "/did/credits"]

    statuses = [httpx.get(f"{sim.url}{path}", timeout=5).status_code for path in paths]

    assert statuses == [401, 401, 401]


def test_stats_count_charges_in_usd(sim: ProviderSim, make_adapter: AdapterFactory) -> None:
    """A 60 s HeyGen render is billed at the simulator's $0.10/s list price."""
    make_adapter("heygen").submit(a_request())

    heygen = sim.stats()["heygen"]

    assert heygen["charges"] == 1
    assert heygen["charged_usd"] == pytest.approx(6.0)


# --- behaving as the providers document (issue 12) ----------------------------------------


def test_video_urls_are_presigned_and_expire_like_the_providers(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """RunwayML's output URLs "will expire within 24-48 hours" (docs.dev.runwayml.com/assets/
    outputs), D-ID's and HeyGen's are presigned too: a stored URL stops working; a fresh status
    hands out a new one."""
    sim.configure("did", url_ttl_s=0.5)
    adapter = make_adapter("did")
    submission = adapter.submit(a_request())
    first = poll(adapter, submission.provider_job_id, expected_duration_s=None).video_url
    assert first is not None

    assert httpx.get(first).status_code == 200
    time.sleep(0.6)
    assert httpx.get(first).status_code == 403
    fresh = adapter.status(submission.provider_job_id).video_url
    assert fresh is not None
    assert httpx.get(fresh).status_code == 200
    assert httpx.get(first.split("?", 1)[0]).status_code == 403  # never without a signature


def test_url_lifetimes_default_to_a_day(sim: ProviderSim) -> None:
    stats = sim.stats()
    assert {p: stats[p]["url_ttl_s"] for p in ("heygen", "runwayml", "did")} == {
        "heygen": 86_400.0,
        "runwayml": 86_400.0,
        "did": 86_400.0,
    }


def test_a_p99_slow_submit_takes_the_documented_p99() -> None:
    """heygen-cli cmd/heygen/timeouts.go: POST /v3/videos runs to a p99 of ~31 s. Providers that
    publish none keep the fault's own delay."""
    heygen = Fault.from_spec({"provider": "heygen", "fault": "slow", "op": "submit", "mode": "p99"})
    did = Fault.from_spec(
        {"provider": "did", "fault": "slow", "op": "submit", "mode": "p99", "delay_s": 3}
    )
    assert heygen.delay_s == 31.0
    assert did.delay_s == 3.0


@pytest.mark.parametrize("provider", ["runwayml", "did"])
def test_a_second_post_is_a_second_paid_render_without_idempotency(
    provider: str, sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """RunwayML and D-ID document no idempotency: the same request (same key) sent twice is
    two renders, both billed. HeyGen replays the first instead."""
    adapter = make_adapter(provider)
    request = a_request()

    first = adapter.submit(request)
    second = adapter.submit(request)

    assert first.provider_job_id != second.provider_job_id
    assert sim.stats()[provider]["charges"] == 2


def test_webhook_urls_in_the_simulators_inbox_answer_options(sim: ProviderSim) -> None:
    assert httpx.request("OPTIONS", sim.inbox_url("anything")).status_code == 200
