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


# --- behaving as the providers document ----------------------------------------


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


# --- RunwayML's presenter avatar ----------------------------------------------------------


def test_runwayml_instances_share_one_presenter_avatar(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Two instances (two adapters): the first makes the avatar, the second finds it by its
    name and makes none; both jobs are spoken by it."""
    first, second = make_adapter("runwayml"), make_adapter("runwayml")

    first.submit(a_request())
    second.submit(a_request())

    counters = sim.stats()["runwayml"]["counters"]
    assert counters["avatars_created"] == 1
    assert sim.stats()["runwayml"]["charges"] == 2


def test_a_lost_avatar_create_answer_makes_no_second_avatar(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The create was made but its answer dropped: the next submit finds it by name."""
    sim.add_fault("runwayml", "drop", op="avatar", skip=1)  # the list answers, the create drops
    adapter = make_adapter("runwayml")

    error = raised(lambda: adapter.submit(a_request()))
    made_before_retry = sim.stats()["runwayml"]["counters"]["avatars_created"]
    adapter.submit(a_request())

    assert made_before_retry == 1  # the create was made; only its answer was lost
    assert error.charged is False  # no render was asked for
    assert sim.stats()["runwayml"]["counters"]["avatars_created"] == 1
    assert sim.stats()["runwayml"]["charges"] == 1


def test_a_submit_waits_for_a_processing_avatar_to_be_ready(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The new avatar is PROCESSING for a while: the submit polls it and then speaks."""
    sim.configure("runwayml", avatar_ready_s=0.5)
    adapter = make_adapter("runwayml", avatar_poll_s=0.2)

    submission = adapter.submit(a_request())

    assert submission.provider_job_id
    assert sim.stats()["runwayml"]["counters"]["requests:avatar"] >= 4  # list, make, list, get


def test_an_avatar_that_is_not_ready_in_time_refuses_the_submit_unbilled(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Still PROCESSING after the wait: a transient refusal with a Retry-After, nothing billed;
    once READY the same adapter speaks."""
    sim.configure("runwayml", avatar_ready_s=1.0)
    adapter = make_adapter("runwayml", avatar_wait_s=0.0)

    error = raised(lambda: adapter.submit(a_request()))
    time.sleep(1.1)
    adapter.submit(a_request())

    assert error.category is ErrorCategory.TRANSIENT
    assert error.retry_after is not None
    assert sim.stats()["runwayml"]["charges"] == 1


def test_a_failed_avatar_is_reported_and_no_render_is_asked_for(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    sim.configure("runwayml", avatar_fails=True)

    error = raised(lambda: make_adapter("runwayml").submit(a_request()))

    assert error.provider_code == "avatar_failed"
    assert sim.stats()["runwayml"]["charges"] == 0


def test_runwaymls_simulated_avatar_videos_refuse_what_the_sdk_does_not_allow(
    sim: ProviderSim,
) -> None:
    """The simulator checks the documented body: model gwm1_avatars, a known READY custom
    avatar or a preset, and a text (or audio) speech."""
    headers = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
    url = f"{sim.base_url('runwayml')}/v1/avatar_videos"
    speech = {"type": "text", "text": "Hello there."}
    bodies = [
        {"model": "gen4_turbo", "avatar": {"type": "runway-preset", "presetId": "influencer"}},
        {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": "nobody"}},
        {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "nobody"}},
    ]
    refused = [httpx.post(url, json=b | {"speech": speech}, headers=headers) for b in bodies]
    preset = {"type": "runway-preset", "presetId": "influencer"}
    bad_voice = speech | {"voice": {"type": "runway-live-preset", "presetId": "clara"}}
    refused.append(
        httpx.post(
            url,
            json={"model": "gwm1_avatars", "avatar": preset, "speech": bad_voice},
            headers=headers,
        )
    )
    accepted = httpx.post(
        url, json={"model": "gwm1_avatars", "avatar": preset, "speech": speech}, headers=headers
    )

    assert [r.status_code for r in refused] == [400] * 4
    assert accepted.status_code == 200
    assert accepted.json()["id"]


def test_a_deleted_avatar_is_looked_up_again_and_made_anew(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The avatar this instance remembered is gone (deleted at Runway; here: the simulator
    forgot everything): the refused submit is unbilled, and the next one makes a new avatar."""
    adapter = make_adapter("runwayml")
    adapter.submit(a_request())
    sim.reset()

    error = raised(lambda: adapter.submit(a_request()))
    adapter.submit(a_request())

    assert error.status == 400
    assert sim.stats()["runwayml"]["counters"]["avatars_created"] == 1
    assert sim.stats()["runwayml"]["charges"] == 1
