"""The graceful-degradation ladder (DESIGN section 7): what a job may give up, in order, so that
some provider can still make its video. Every step taken is recorded; none is silent. Its last
rung, a 10 s silent clip, is for a provider that can make nothing more; no configured provider
is one any more (RunwayML speaks since its avatar videos), but stored jobs carry that step and a
provider configured without a voice still fits through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

from shared.core.model import (
    AspectRatio,
    Capabilities,
    Duration,
    Feature,
    QualityLevel,
    Resolution,
    VideoOptions,
)


class Degradation(StrEnum):
    DURATION_LONG_TO_MEDIUM = "duration long -> medium"
    DURATION_MEDIUM_TO_SHORT = "duration medium -> short"
    RESOLUTION_1080P_TO_720P = "resolution 1080p -> 720p"
    PREMIUM_TO_STANDARD = "quality premium -> standard"
    DROP_CUSTOM_AVATAR = "custom avatar dropped"
    SQUARE_TO_LANDSCAPE = "aspect ratio 1:1 -> 16:9"
    DROP_VOICE = "voice and lip-sync dropped"
    SHORT_TO_CLIP = "duration short -> 10 s clip of the presenter image, no voice (last resort)"


@dataclass(frozen=True, slots=True)
class _Rung:
    step: Degradation
    applies: Callable[[VideoOptions], bool]
    apply: Callable[[VideoOptions], VideoOptions]
    last_resort: bool = False  # only to fit a provider that can make nothing more (`fit`)


_SPOKEN = frozenset({Feature.VOICE, Feature.LIP_SYNC})

LADDER: tuple[_Rung, ...] = (
    _Rung(
        Degradation.DURATION_LONG_TO_MEDIUM,
        lambda o: o.duration is Duration.LONG,
        lambda o: replace(o, duration=Duration.MEDIUM),
    ),
    _Rung(
        Degradation.DURATION_MEDIUM_TO_SHORT,
        lambda o: o.duration is Duration.MEDIUM,
        lambda o: replace(o, duration=Duration.SHORT),
    ),
    _Rung(
        Degradation.RESOLUTION_1080P_TO_720P,
        lambda o: o.resolution is Resolution.P1080,
        lambda o: replace(o, resolution=Resolution.P720),
    ),
    _Rung(
        Degradation.PREMIUM_TO_STANDARD,
        lambda o: o.quality_level is QualityLevel.PREMIUM,
        lambda o: replace(o, quality_level=QualityLevel.STANDARD),
    ),
    _Rung(
        Degradation.DROP_CUSTOM_AVATAR,
        lambda o: Feature.CUSTOM_AVATAR in o.features,
        lambda o: replace(o, features=o.features - {Feature.CUSTOM_AVATAR}),
    ),
    # A square video from a provider that frames only 16:9 and 9:16 (D-ID's presenter images,
    # RunwayML's): landscape, the app's own default orientation.
    _Rung(
        Degradation.SQUARE_TO_LANDSCAPE,
        lambda o: o.aspect_ratio is AspectRatio.SQUARE,
        lambda o: replace(o, aspect_ratio=AspectRatio.LANDSCAPE),
    ),
    _Rung(
        Degradation.DROP_VOICE,
        lambda o: bool(o.features & _SPOKEN),
        lambda o: replace(o, features=o.features - _SPOKEN),
    ),
    # The last resort: a silent 10 s clip animated from the presenter's image, which is all
    # RunwayML made before its avatar videos (none of today's providers needs it; jobs stored
    # then still name the step). Only `fit` takes it (a provider that cannot do more), never
    # recovery's `next_step`; scoring ranks every degraded candidate after every undegraded
    # one, so it is chosen only when no provider can make the spoken video, and never for a
    # job that does not allow fallback.
    _Rung(
        Degradation.SHORT_TO_CLIP,
        lambda o: o.duration is Duration.SHORT,
        lambda o: replace(o, duration=Duration.CLIP),
        last_resort=True,
    ),
)


def next_step(options: VideoOptions) -> tuple[VideoOptions, Degradation] | None:
    """The first rung of the ladder that still lowers ``options``; None at the bottom (the
    last resort is `fit`'s only)."""
    for rung in LADDER:
        if not rung.last_resort and rung.applies(options):
            return rung.apply(options), rung.step
    return None


@lru_cache(maxsize=4096)
def fit(
    options: VideoOptions, capabilities: Capabilities
) -> tuple[VideoOptions, tuple[Degradation, ...]] | None:
    """The least-degraded options ``capabilities`` can serve: rungs are taken in ladder order,
    but only those that remove something the provider lacks. None when no rung helps.
    (Pure and called on every ranking, so its few distinct answers are cached.)"""
    missing = capabilities.missing_for(options)
    taken: list[Degradation] = []
    for rung in LADDER:
        if not missing:
            break
        if not rung.applies(options):
            continue
        lowered = rung.apply(options)
        still = capabilities.missing_for(lowered)
        if still != missing:
            options, missing = lowered, still
            taken.append(rung.step)
    return None if missing else (options, tuple(taken))
