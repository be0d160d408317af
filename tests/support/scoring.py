"""Candidates for the scorer, as the scoring tests build them."""

from __future__ import annotations

from dataclasses import replace

from shared.core.model import Capabilities, Feature, Resolution
from shared.core.scoring import ProviderStats

NOW = 50_000.0


def caps(pid: str, **changes: object) -> Capabilities:
    """A provider that can do everything unless told otherwise."""
    base = Capabilities(
        provider_id=pid,
        priority=1,
        features=frozenset(Feature),
        max_duration_s=90,
        resolutions=frozenset(Resolution),
        price_per_video=1.0,
        concurrency_limit=10,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def healthy(pid: str, **changes: object) -> ProviderStats:
    base = ProviderStats(
        provider_id=pid,
        calls_1h=100,
        successes_1h=98,
        calls_24h=1_000,
        successes_24h=980,
        latency_p50_s=60.0,
        latency_p95_s=90.0,
        quality=9.2,
        quality_samples=200,
    )
    return replace(base, **changes)  # type: ignore[arg-type]
