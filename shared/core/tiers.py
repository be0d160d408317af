"""What each tier may ask for, and what a caller may still do. Pure.

    check(limits_for(tier), options)     # TierRefusedError naming each option it disallows
    Quota(tier=..., per_hour=..., used_hour=...).remaining    # what getVideoQuota answers

A tier comes from the caller's ``tier`` custom claim (free without one). ``USER_JOBS_PER_HOUR``
caps every tier's hourly count (an operator's brake); the tier's own figures apply below it. The
counts live in ``user_quotas/{uid}`` (`shared.core.quota`), bumped in the write that creates a job.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.core.model import (
    ASKABLE_DURATIONS,
    Duration,
    QualityLevel,
    Resolution,
    Tier,
    Urgency,
    VideoOptions,
)
from shared.core.refusals import PermissionDenied

# The web app's own premium feature name for the video introduction.
APP_FEATURE = "videoIntroduction"


@dataclass(frozen=True, slots=True, kw_only=True)
class TierLimits:
    tier: Tier
    resolutions: frozenset[Resolution]
    durations: frozenset[Duration]
    urgencies: frozenset[Urgency]
    quality_levels: frozenset[QualityLevel]
    jobs_per_hour: int
    jobs_per_day: int


LIMITS = {
    Tier.FREE: TierLimits(
        tier=Tier.FREE,
        resolutions=frozenset(Resolution),
        durations=frozenset({Duration.SHORT, Duration.MEDIUM}),
        urgencies=frozenset({Urgency.LOW, Urgency.NORMAL}),
        quality_levels=frozenset({QualityLevel.STANDARD}),
        jobs_per_hour=10,
        jobs_per_day=20,
    ),
    Tier.PREMIUM: TierLimits(
        tier=Tier.PREMIUM,
        resolutions=frozenset(Resolution),
        durations=frozenset(ASKABLE_DURATIONS),
        urgencies=frozenset({Urgency.LOW, Urgency.NORMAL, Urgency.HIGH}),
        quality_levels=frozenset(QualityLevel),
        jobs_per_hour=30,
        jobs_per_day=100,
    ),
    Tier.ENTERPRISE: TierLimits(
        tier=Tier.ENTERPRISE,
        resolutions=frozenset(Resolution),
        durations=frozenset(ASKABLE_DURATIONS),
        urgencies=frozenset(Urgency),
        quality_levels=frozenset(QualityLevel),
        jobs_per_hour=100,
        jobs_per_day=1000,
    ),
}

_ORDER = {
    "resolutions": [r.value for r in Resolution],
    "durations": [d.value for d in ASKABLE_DURATIONS],
    "urgencies": [u.value for u in Urgency],
    "quality_levels": [q.value for q in QualityLevel],
}


def limits_for(tier: Tier) -> TierLimits:
    return LIMITS[tier]


@dataclass(frozen=True, slots=True)
class Disallowed:
    """One option the tier does not allow: the option as the client spells it, and why."""

    field: str
    message: str


class TierRefusedError(PermissionDenied):
    """The options ask for more than the user's tier allows; ``disallowed`` names each limit."""

    def __init__(self, disallowed: list[Disallowed]) -> None:
        self.disallowed = disallowed
        super().__init__(
            "; ".join(f"{d.field}: {d.message}" for d in disallowed),
            [{"field": d.field, "message": d.message} for d in disallowed],
        )


def check(limits: TierLimits, options: VideoOptions) -> None:
    """TierRefusedError naming every option of ``options`` that ``limits`` does not allow."""
    disallowed = refused(limits, options)
    if disallowed:
        raise TierRefusedError(disallowed)


def refused(limits: TierLimits, options: VideoOptions) -> list[Disallowed]:
    """Every option of ``options`` that ``limits`` does not allow, naming the limit."""
    out: list[Disallowed] = []
    checks = (
        ("options.resolution", options.resolution.value, limits.resolutions, "resolutions"),
        ("options.duration", options.duration.value, limits.durations, "durations"),
        ("options.urgency", options.urgency.value, limits.urgencies, "urgencies"),
        (
            "options.qualityLevel",
            options.quality_level.value,
            limits.quality_levels,
            "quality_levels",
        ),
    )
    for field, value, permitted, kind in checks:
        if value not in {a.value for a in permitted}:
            names = allowed_values(limits, kind)
            out.append(
                Disallowed(
                    field,
                    f"{value!r} is not in the {limits.tier.value} tier; it allows "
                    f"{', '.join(names)}",
                )
            )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Quota:
    tier: Tier
    per_hour: int
    per_day: int
    used_hour: int
    used_day: int

    @property
    def remaining(self) -> int:
        return max(0, min(self.per_hour - self.used_hour, self.per_day - self.used_day))


def allowed_values(limits: TierLimits, kind: str) -> list[str]:
    """The values of one option (``resolutions``, ``durations``, ``urgencies``,
    ``quality_levels``) that ``limits`` allows, in their natural order."""
    values = {v.value for v in getattr(limits, kind)}
    return [v for v in _ORDER[kind] if v in values]


# ---------------------------------------------------------------------------------------------
# The web app's entitlements: its own subscription document ``userSubscriptions/{uid}``
# (CVPLUS functions/src/middleware/premiumGuard.ts L19-70 and cvplus-multimedia
# src/backend/middleware/simplePremiumGuard.ts L9-29: lifetime access plus the feature).


def app_entitled(subscription: object) -> bool:
    """Whether the app's subscription document grants the video introduction: lifetime access
    and ``features.videoIntroduction``, both true."""
    if not isinstance(subscription, dict):
        return False
    features = subscription.get("features")
    return (
        subscription.get("lifetimeAccess") is True
        and isinstance(features, dict)
        and features.get(APP_FEATURE) is True
    )


def app_tier(claimed: Tier | None, subscription: object) -> Tier:
    """The tier of a caller of the app's callables: the ``tier`` claim when it names one (an
    operator's override), else premium when the app's subscription grants the feature."""
    if claimed is not None:
        return claimed
    return Tier.PREMIUM if app_entitled(subscription) else Tier.FREE


def app_refusal(subscription: object) -> PermissionDenied:
    """The original guard's refusal, message and details as it answered them
    (premiumGuard.ts L30-70)."""
    sub = subscription if isinstance(subscription, dict) else {}
    status = (
        sub.get("subscriptionStatus") if isinstance(sub.get("subscriptionStatus"), str) else None
    )
    if sub.get("lifetimeAccess") is not True:
        return PermissionDenied(
            f"This feature requires lifetime premium access. Please upgrade to access "
            f"'{APP_FEATURE}'.",
            {
                "feature": APP_FEATURE,
                "upgradeUrl": "/pricing",
                "accessType": "lifetime",
                "currentStatus": status or "free",
                "reason": "no-lifetime-access",
            },
        )
    features = sub.get("features")
    return PermissionDenied(
        f"Your premium subscription does not include access to '{APP_FEATURE}'. "
        "Please upgrade your plan.",
        {
            "feature": APP_FEATURE,
            "upgradeUrl": "/pricing",
            "availableFeatures": {
                k: v
                for k, v in (features if isinstance(features, dict) else {}).items()
                if isinstance(k, str) and isinstance(v, bool)
            },
            "reason": "feature-not-included",
        },
    )
