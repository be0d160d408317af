"""The length check of a finished render (`check_render`), the same for polls and webhooks:
only a render far from its script's spoken length is refused."""

from __future__ import annotations

import pytest

from shared.adapters.providers.base import WebhookEvent, check_render, failure_of
from shared.core.errors import ErrorCategory, ProviderError


def _check(duration_s: float, expected_s: float) -> None:
    check_render(
        provider_id="did",
        provider_job_id="tlk_1",
        video_url="https://example.test/v.mp4",
        duration_s=duration_s,
        expected_duration_s=expected_s,
    )


@pytest.mark.parametrize("duration_s", [0.0, 5.9, 65.1, 300.0])
def test_a_render_far_from_its_scripts_length_is_a_charged_quality_failure(
    duration_s: float,
) -> None:
    with pytest.raises(ProviderError) as refused:
        _check(duration_s, expected_s=30.0)  # accepted: 10 s .. 65 s
    assert refused.value.category is ErrorCategory.QUALITY_FAILURE
    assert refused.value.charged


@pytest.mark.parametrize("duration_s", [10.0, 20.0, 30.0, 45.0, 65.0])
def test_a_voice_that_speaks_faster_or_slower_is_not_held_against_the_render(
    duration_s: float,
) -> None:
    _check(duration_s, expected_s=30.0)


def test_a_webhook_is_held_to_the_same_check() -> None:
    event = WebhookEvent(
        provider_id="did",
        provider_job_id="tlk_1",
        job_id="job-1",
        succeeded=True,
        event_id="tlk_1:done",
        video_url="https://example.test/v.mp4",
        duration_s=3.0,
    )
    failure = failure_of(event, expected_duration_s=30.0)
    assert failure is not None
    assert failure.category is ErrorCategory.QUALITY_FAILURE
    assert failure_of(event, expected_duration_s=None) is None  # unknown script: not judged
