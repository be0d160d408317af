"""Submitting renders: the happy path of each provider end to end, idempotent retries and what
they cost (counted by the simulator), and secrets kept out of reprs, messages and logs."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import httpx
import pytest

from shared.adapters.providers import (
    RenderState,
    SubmitRequest,
    VideoProvider,
    did,
    failure_of,
    heygen,
    idempotency_key,
)
from shared.core.errors import ErrorCategory
from shared.core.model import AspectRatio, Duration, Resolution, VideoOptions
from shared.shell.deployment import providers as from_settings
from shared.shell.settings import Settings
from tests.support.adapters import (
    API_KEY,
    AdapterFactory,
    a_request,
    as_request,
    poll,
    raised,
)
from tools.provider_sim import ProviderSim

PROVIDER_IDS = ("heygen", "did", "runwayml")


def without_query(url: str | None) -> str | None:
    """A presigned URL without its signature and expiry, which change with every answer."""
    return None if url is None else url.split("?", 1)[0]


# --- happy paths --------------------------------------------------------------------------


def test_heygen_render_completes_and_its_callback_reports_it(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """HeyGen: submit, the tokened success callback arrives, and polling agrees it completed."""
    adapter = make_adapter("heygen")
    inbox = f"heygen-ok-{uuid.uuid4().hex[:8]}"
    request = a_request(callback_url=sim.inbox_url(inbox), callback_token="per-job-secret")

    submission = adapter.submit(request)
    [entry] = sim.wait_inbox(inbox)
    event = adapter.parse_webhook(as_request(entry), expected_token="per-job-secret")
    status = poll(adapter, submission.provider_job_id, expected_duration_s=60)

    assert submission.requested_duration_s == 60
    assert (event.provider_job_id, event.job_id) == (submission.provider_job_id, request.job_id)
    assert failure_of(event) is None
    assert status.state is RenderState.COMPLETED
    assert without_query(status.video_url) == without_query(event.video_url)
    assert sim.stats()["heygen"]["charges"] == 1


def test_did_render_completes_and_calls_back_with_the_jobs_token(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """D-ID: submit with a per-job token; the callback carries it and verifies; polling agrees."""
    adapter = make_adapter("did")
    inbox = f"did-ok-{uuid.uuid4().hex[:8]}"
    request = a_request(callback_url=sim.inbox_url(inbox), callback_token="per-job-secret")

    submission = adapter.submit(request)
    [entry] = sim.wait_inbox(inbox)
    event = adapter.parse_webhook(as_request(entry), expected_token="per-job-secret")
    status = poll(adapter, submission.provider_job_id, expected_duration_s=60)

    assert submission.provider_job_id.startswith("tlk_")
    assert event.succeeded
    assert event.job_id == request.job_id
    assert without_query(status.video_url) == without_query(event.video_url)


def test_runwayml_speaks_the_script_and_is_polled_to_completion(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """RunwayML: its presenter avatar is made once, speaks the 60 s script, and the task is
    polled until it succeeds with a video as long as the script takes to say."""
    adapter = make_adapter("runwayml")

    submission = adapter.submit(a_request())
    status = poll(adapter, submission.provider_job_id, expected_duration_s=60.0)

    assert status.state is RenderState.COMPLETED
    assert status.video_url
    assert status.duration_s == 60.0
    assert sim.stats()["runwayml"]["counters"]["avatars_created"] == 1


def test_runwayml_is_framed_like_its_landscape_presenter_image_at_720p(
    make_adapter: AdapterFactory,
) -> None:
    """Avatar videos take no ratio or resolution (types/avatar_video_create_params.py): a
    portrait or 1080p request is not RunwayML's as asked."""
    caps = make_adapter("runwayml").capabilities
    landscape = VideoOptions(resolution=Resolution.P720)

    assert caps.missing_for(landscape) == ()
    assert caps.missing_for(replace(landscape, aspect_ratio=AspectRatio.PORTRAIT)) == (
        "aspect ratio 9:16",
    )
    assert caps.missing_for(VideoOptions()) == ("resolution 1080p",)


def test_wrong_length_video_fails_the_quality_check(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A render far shorter than asked (20 s for 60 s) is a charged quality_failure."""
    sim.add_fault("heygen", "low_quality", mode="wrong_duration")
    adapter = make_adapter("heygen")
    submission = adapter.submit(a_request())

    error = raised(lambda: poll(adapter, submission.provider_job_id, expected_duration_s=60))

    assert error.category is ErrorCategory.QUALITY_FAILURE
    assert error.charged


# --- idempotency and what retries cost ------------------------------------------------------


def test_idempotency_key_is_stable_for_an_attempt_and_new_for_the_next() -> None:
    """Same job and attempt give the same key; another attempt or job gives another."""
    assert idempotency_key("job-1", 1) == idempotency_key("job-1", 1)
    assert idempotency_key("job-1", 1) != idempotency_key("job-1", 2)
    assert idempotency_key("job-1", 1) != idempotency_key("job-2", 1)
    assert SubmitRequest(job_id="job-1", attempt=1, script="x").idempotency_key == (
        idempotency_key("job-1", 1)
    )


def test_retried_heygen_submit_after_a_lost_answer_is_charged_once(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The answer to a submit is lost to a read timeout (maybe charged); the retry with the same
    key gets the same video back and HeyGen bills once."""
    sim.add_fault("heygen", "slow", op="submit", delay_s=1.0)
    adapter = make_adapter("heygen")
    request = a_request()

    first = raised(lambda: adapter.submit(request))
    retry = adapter.submit(request)
    stats = sim.stats()["heygen"]

    assert first.category is ErrorCategory.TIMEOUT
    assert first.charged
    assert retry.idempotency_key == request.idempotency_key
    assert stats["charges"] == 1
    assert stats["counters"]["idempotent_replays"] == 1


def test_heygen_submit_timeout_follows_heygens_documented_write_latency() -> None:
    """heygen-cli cmd/heygen/timeouts.go: POST /v3/videos p99 ~31 s, writes get 120 s. The
    adapter used to give up at 30 s and treat a render HeyGen was about to accept as lost."""
    assert heygen.SUBMIT_P99_S == 31.0
    assert heygen.SUBMIT_TIMEOUT.read == 120.0
    assert heygen.SUBMIT_TIMEOUT.read <= heygen.SUBMIT_DEADLINE_S
    assert heygen.SUBMIT_TIMEOUT.read >= 3 * heygen.SUBMIT_P99_S
    assert heygen.DEFAULT_TIMEOUT.read == 30.0  # reads: p99 < 2 s


def test_a_slow_heygen_submit_is_waited_for_past_the_read_timeout(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """The submit has its own, longer budget than status reads: a submit slower than the read
    timeout is accepted once, not given up on and paid for by a retry elsewhere."""
    sim.add_fault("heygen", "slow", op="submit", delay_s=1.0)
    adapter = make_adapter("heygen", submit_timeout=httpx.Timeout(3.0, connect=1.0))

    submission = adapter.submit(a_request())

    assert submission.provider_job_id
    assert sim.stats()["heygen"]["charges"] == 1


def test_a_new_attempt_is_a_new_render_and_a_new_charge(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Attempt 2 of the same job carries a new key: a second render, billed again."""
    adapter = make_adapter("heygen")
    first = adapter.submit(a_request(job_id="job-a", attempt=1))
    second = adapter.submit(a_request(job_id="job-a", attempt=2))

    assert first.provider_job_id != second.provider_job_id
    assert sim.stats()["heygen"]["charges"] == 2


def test_retried_did_submit_is_billed_twice_because_did_ignores_the_key(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """D-ID documents no idempotency key: a blind retry after a lost answer pays twice. This is
    why a lost D-ID answer is marked charged and recovery must weigh resubmitting."""
    sim.add_fault("did", "drop", op="submit")
    adapter = make_adapter("did")
    request = a_request()

    first = raised(lambda: adapter.submit(request))
    adapter.submit(request)

    assert first.category is ErrorCategory.NETWORK_ERROR
    assert first.charged
    assert sim.stats()["did"]["charges"] == 2


def test_submit_refused_before_acceptance_is_not_charged(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A 429 on submit bills nothing, and the error says so."""
    sim.add_fault("runwayml", "rate_limit", op="submit")

    error = raised(lambda: make_adapter("runwayml").submit(a_request()))

    assert error.charged is False
    assert sim.stats()["runwayml"]["charges"] == 0


# --- secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["heygen", "runwayml", "did"])
def test_api_key_never_appears_in_repr_errors_or_logs(
    provider: str,
    sim: ProviderSim,
    make_adapter: AdapterFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The key is sent, but not shown: not in the adapter's repr, an error's text, or a log."""
    sim.add_fault(provider, "auth")
    adapter = make_adapter(provider)
    caplog.set_level(logging.DEBUG, logger="cvplus.providers")

    error = raised(adapter.probe)

    shown = " ".join([repr(adapter), str(error), repr(error), caplog.text])
    assert error.category is ErrorCategory.AUTHENTICATION
    assert API_KEY not in shown
    assert caplog.records, "the failure should have been logged"


def test_did_callback_token_is_not_in_the_request_repr() -> None:
    """The per-job callback token stays out of SubmitRequest's repr."""
    request = SubmitRequest(job_id="j", attempt=1, script="s", callback_token="tok-123456")

    assert "tok-123456" not in repr(request)


# --- construction -------------------------------------------------------------------------


def test_factory_builds_all_three_adapters_from_the_environment(sim: ProviderSim) -> None:
    """The settings read *_API_KEY and *_BASE_URL; each adapter answers its probe via the sim."""
    environ = {
        "HEYGEN_API_KEY": "k1",
        "RUNWAYML_API_KEY": "k2",
        "DID_API_KEY": "k3",
        "HEYGEN_BASE_URL": sim.base_url("heygen"),
        "RUNWAYML_BASE_URL": sim.base_url("runwayml"),
        "DID_BASE_URL": sim.base_url("did"),
    }
    adapters = from_settings(Settings.from_env(environ | {"FUNCTIONS_EMULATOR": "true"}))
    try:
        results = {pid: adapter.probe() for pid, adapter in adapters.items()}
    finally:
        for adapter in adapters.values():
            adapter.close()

    assert set(results) == {"heygen", "runwayml", "did"}
    assert all(isinstance(a, VideoProvider) for a in adapters.values())
    assert all(r.latency_s >= 0 for r in results.values())


def test_declared_capabilities_let_all_three_speak_a_talking_head_job(
    make_adapter: AdapterFactory,
) -> None:
    """HeyGen, D-ID and RunwayML all have voice and lip-sync; RunwayML lacks only 1080p."""
    default = VideoOptions()
    missing = {p: make_adapter(p).capabilities.missing_for(default) for p in PROVIDER_IDS}

    assert missing == {"heygen": (), "did": (), "runwayml": ("resolution 1080p",)}


def test_the_settings_build_the_adapters_with_their_placeholders_where_unset() -> None:
    """One reading of the environment: the adapters take every value from `Settings`, and a
    presenter left unset keeps the adapter's own placeholder (in the emulator only)."""
    settings = Settings.from_env(
        {
            "FUNCTIONS_EMULATOR": "true",
            "HEYGEN_API_KEY": "hg-key",
            "DID_BASE_URL": "http://127.0.0.1:8103",
            "DID_SOURCE_URL_PORTRAIT": "https://img.test/portrait.jpg",
        }
    )
    adapters = from_settings(settings)
    assert sorted(adapters) == ["did", "heygen", "runwayml"]
    assert not adapters["runwayml"].capabilities.webhooks
    d_id = adapters["did"]
    assert isinstance(d_id, did.DIDProvider)
    assert d_id._source_urls == {
        AspectRatio.PORTRAIT: "https://img.test/portrait.jpg",
        AspectRatio.LANDSCAPE: did._DEFAULT_SOURCES[AspectRatio.LANDSCAPE],
    }
    for adapter in adapters.values():
        adapter.close()


# --- cancelling -----------------------------------------------------------------------------


def test_runwayml_cancels_a_running_task_and_its_status_then_says_so(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """DELETE /v1/tasks/{id}: the running task stops; a later poll reports it cancelled (a
    failed render, which a cancelled job never looks at), and a second cancel is harmless."""
    sim.configure("runwayml", latency_s=30.0)
    adapter = make_adapter("runwayml")
    submission = adapter.submit(
        a_request(options=VideoOptions(duration=Duration.SHORT, features=frozenset()))
    )
    assert adapter.status(submission.provider_job_id).state is not RenderState.COMPLETED

    assert adapter.cancel(submission.provider_job_id) is True
    error = raised(lambda: adapter.status(submission.provider_job_id))
    assert "cancelled" in error.message
    assert adapter.cancel(submission.provider_job_id) is True
    assert adapter.cancel("no-such-task") is True  # gone is as good as cancelled
    assert sim.stats()["runwayml"]["counters"]["cancels"] == 2


@pytest.mark.parametrize("provider", ["heygen", "did"])
def test_providers_without_a_cancel_say_so(provider: str, make_adapter: AdapterFactory) -> None:
    assert make_adapter(provider).cancel("any") is False


@pytest.mark.parametrize("honoured", [True, False])
def test_heygen_finds_the_render_of_a_submit_whose_answer_was_lost(
    sim: ProviderSim, make_adapter: AdapterFactory, honoured: bool
) -> None:
    """Whether or not HeyGen honours the Idempotency-Key (not confirmed for POST /v3/videos),
    the render of a lost answer is found by its exact title, and nothing is found for another
    key of the same job (titles "... #1" and "... #11" differ)."""
    sim.configure("heygen", honour_idempotency=honoured)
    adapter = make_adapter("heygen")
    assert isinstance(adapter, heygen.HeyGenProvider)
    request = a_request(job_id="job-lost", attempt=1)
    sim.add_fault("heygen", "drop", op="submit")
    lost = raised(lambda: adapter.submit(request))
    adapter.submit(a_request(job_id="job-lost", attempt=11))

    found = adapter.find(request)

    assert lost.charged
    assert found is not None
    assert poll(adapter, found.provider_job_id, expected_duration_s=None).state is (
        RenderState.COMPLETED
    )
    assert adapter.find(a_request(job_id="job-lost", attempt=2)) is None
    assert sim.stats()["heygen"]["charges"] == 2  # the lost one and attempt 11: none again
