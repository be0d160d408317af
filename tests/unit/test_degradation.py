"""The degradation ladder: what a job gives up, in order, and only what a provider needs."""

from __future__ import annotations

import pytest

from shared.core.degradation import LADDER, Degradation, fit, next_step
from shared.core.model import (
    AspectRatio,
    Capabilities,
    Duration,
    Feature,
    QualityLevel,
    Resolution,
    VideoOptions,
)

D = Degradation
RICHEST = VideoOptions(
    aspect_ratio=AspectRatio.SQUARE,
    duration=Duration.LONG,
    resolution=Resolution.P1080,
    quality_level=QualityLevel.PREMIUM,
    features=frozenset(Feature),
)


def caps(**overrides: object) -> Capabilities:
    """A provider that can do everything unless told otherwise."""
    values: dict[str, object] = {
        "provider_id": "p",
        "priority": 1,
        "features": frozenset(Feature),
        "max_duration_s": 90,
        "resolutions": frozenset(Resolution),
        "price_per_video": 1.0,
        "concurrency_limit": 5,
    }
    values.update(overrides)
    return Capabilities(**values)  # type: ignore[arg-type]


def test_the_ladder_is_walked_in_the_documented_order() -> None:
    """long->medium->short, 1080p->720p, premium->standard, custom avatar, square, voice."""
    steps: list[Degradation] = []
    options = RICHEST
    while (step := next_step(options)) is not None:
        options, taken = step
        steps.append(taken)
    assert steps == [
        D.DURATION_LONG_TO_MEDIUM,
        D.DURATION_MEDIUM_TO_SHORT,
        D.RESOLUTION_1080P_TO_720P,
        D.PREMIUM_TO_STANDARD,
        D.DROP_CUSTOM_AVATAR,
        D.SQUARE_TO_LANDSCAPE,
        D.DROP_VOICE,
    ]
    assert [r.step for r in LADDER] == [*steps, D.SHORT_TO_CLIP]  # the last resort: fit's only
    assert options == VideoOptions(
        duration=Duration.SHORT,
        resolution=Resolution.P720,
        quality_level=QualityLevel.STANDARD,
        features=frozenset(),
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (VideoOptions(duration=Duration.MEDIUM), D.DURATION_MEDIUM_TO_SHORT),
        (VideoOptions(duration=Duration.SHORT), D.RESOLUTION_1080P_TO_720P),
        (
            VideoOptions(duration=Duration.SHORT, resolution=Resolution.P720),
            D.DROP_VOICE,  # standard quality and no custom avatar: those rungs are skipped
        ),
    ],
)
def test_next_step_takes_the_first_rung_that_still_lowers_something(
    options: VideoOptions, expected: Degradation
) -> None:
    """Rungs that do not apply are skipped."""
    step = next_step(options)
    assert step is not None
    assert step[1] is expected


def test_next_step_at_the_bottom_is_none() -> None:
    """Nothing left to give up: no rung."""
    bottom = VideoOptions(duration=Duration.SHORT, resolution=Resolution.P720, features=frozenset())
    assert next_step(bottom) is None


def test_fit_changes_nothing_for_a_provider_that_can_do_it_all() -> None:
    """No missing capability: the options as asked, no degradation."""
    assert fit(RICHEST, caps()) == (RICHEST, ())


@pytest.mark.parametrize(
    ("provider", "expected_steps"),
    [
        (caps(max_duration_s=60), (D.DURATION_LONG_TO_MEDIUM,)),
        (caps(max_duration_s=30), (D.DURATION_LONG_TO_MEDIUM, D.DURATION_MEDIUM_TO_SHORT)),
        (caps(resolutions=frozenset({Resolution.P720})), (D.RESOLUTION_1080P_TO_720P,)),
        (caps(features=frozenset({Feature.VOICE, Feature.LIP_SYNC})), (D.DROP_CUSTOM_AVATAR,)),
        (caps(features=frozenset()), (D.DROP_CUSTOM_AVATAR, D.DROP_VOICE)),
        (
            caps(features=frozenset({Feature.CUSTOM_AVATAR}), max_duration_s=60),
            (D.DURATION_LONG_TO_MEDIUM, D.DROP_VOICE),
        ),
    ],
)
def test_fit_takes_only_the_rungs_the_provider_needs(
    provider: Capabilities, expected_steps: tuple[Degradation, ...]
) -> None:
    """Premium quality and the other unneeded rungs are kept; the result is servable."""
    fitted = fit(RICHEST, provider)
    assert fitted is not None
    options, steps = fitted
    assert steps == expected_steps
    assert provider.missing_for(options) == ()
    assert options.quality_level is QualityLevel.PREMIUM  # never needed: never given up


def test_fit_is_none_when_no_rung_helps() -> None:
    """A provider whose longest video is shorter than even the 10 s clip cannot be fitted."""
    assert fit(RICHEST, caps(max_duration_s=5)) is None


def test_the_last_resort_fits_a_silent_clip_provider_and_only_it() -> None:
    """RunwayML's capabilities (10 s, no voice, 720p): every rung it needs, the clip last."""
    clip_only = caps(
        max_duration_s=10, features=frozenset(), resolutions=frozenset({Resolution.P720})
    )
    fitted = fit(VideoOptions(), clip_only)
    assert fitted is not None
    options, steps = fitted
    assert steps == (
        D.DURATION_MEDIUM_TO_SHORT,
        D.RESOLUTION_1080P_TO_720P,
        D.DROP_VOICE,
        D.SHORT_TO_CLIP,
    )
    assert options.duration is Duration.CLIP
    assert options.duration.seconds == 10
    assert options.features == frozenset()
    assert fit(VideoOptions(), caps(max_duration_s=30)) == (
        VideoOptions(duration=Duration.SHORT),
        (D.DURATION_MEDIUM_TO_SHORT,),
    )


def test_fit_is_none_when_an_aspect_ratio_is_missing() -> None:
    """The ladder never changes the aspect ratio, so a provider without it cannot serve."""
    assert fit(VideoOptions(), caps(aspect_ratios=frozenset())) is None
