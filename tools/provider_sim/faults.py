"""Fault injection for the provider simulator: what can go wrong, and a thread-safe book of armed
faults per provider, fed by the control endpoint or a fault-schedule JSON file.

A fault fires on matching requests: ``count`` times (default 1), or, with ``probability``, on
each match with that chance (unlimited unless ``count`` is also set). ``skip`` lets that many
matching requests through first; ``op`` (submit | status | probe) narrows request faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PROVIDERS = ("heygen", "runwayml", "did")


class FaultKind(StrEnum):
    # Request faults: shape the HTTP answer to one API call.
    SERVER_ERROR = "server_error"  # 5xx (status: 500 default, 502, 504...)
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After
    AUTH = "auth"  # 401
    QUOTA = "quota"  # out of credits; mode daily_cap: a 429 for a daily / usage cap
    OVERLOAD = "overload"  # 503 (status overridable, e.g. 529)
    SLOW = "slow"  # answer after delay_s; mode p99: the provider's documented submit p99
    DROP = "drop"  # close the connection without an answer
    MALFORMED = "malformed"  # 200 with a body that is not JSON
    # The request itself refused (a validation or content-policy 400); HeyGen mode
    # "resource": a 403 resource_access_denied (an avatar or voice the key may not use).
    INVALID_REQUEST = "invalid_request"
    # Render faults: decided when a render is accepted.
    RENDER_FAILED = "render_failed"
    LOW_QUALITY = "low_quality"  # mode: no_url | wrong_duration | silent (a file without audio)
    # Webhook faults: how the completion notice is delivered.
    WEBHOOK_LOST = "webhook_lost"
    WEBHOOK_DUPLICATE = "webhook_duplicate"
    WEBHOOK_LATE = "webhook_late"  # delivered delay_s after the render finished
    WEBHOOK_BAD_SIGNATURE = "webhook_bad_signature"


REQUEST_FAULTS = frozenset(
    {
        FaultKind.SERVER_ERROR,
        FaultKind.RATE_LIMIT,
        FaultKind.AUTH,
        FaultKind.QUOTA,
        FaultKind.OVERLOAD,
        FaultKind.SLOW,
        FaultKind.DROP,
        FaultKind.MALFORMED,
        FaultKind.INVALID_REQUEST,
    }
)
RENDER_FAULTS = frozenset({FaultKind.RENDER_FAILED, FaultKind.LOW_QUALITY})
WEBHOOK_FAULTS = frozenset(
    {
        FaultKind.WEBHOOK_LOST,
        FaultKind.WEBHOOK_DUPLICATE,
        FaultKind.WEBHOOK_LATE,
        FaultKind.WEBHOOK_BAD_SIGNATURE,
    }
)
OPS = frozenset({"submit", "status", "probe", "avatar"})  # avatar: RunwayML's /v1/avatars
# Documented submit latency p99 (seconds), for slow faults with mode "p99". HeyGen: POST
# /v3/videos "runs to a Datadog p99 of ~31s" (heygen-com/heygen-cli cmd/heygen/timeouts.go).
# RunwayML and D-ID publish none: their p99 faults keep delay_s.
SUBMIT_P99_S = {"heygen": 31.0}


class FaultSpecError(ValueError):
    """A fault spec that cannot be armed; the control endpoint answers 400 with it."""


@dataclass(slots=True, kw_only=True)
class Fault:
    provider: str
    kind: FaultKind
    op: str | None = None
    count: int | None = 1
    probability: float | None = None
    skip: int = 0
    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 2.0
    mode: str = "no_url"
    code: str | None = None  # provider failure code for render_failed (RunwayML failureCode)
    # For submit: does a slow/dropped answer come after the render was accepted (and billed)?
    after_accept: bool = True
    id: int = 0
    fired: int = field(default=0)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Fault:
        try:
            provider = str(spec["provider"])
            kind = FaultKind(str(spec.get("fault", spec.get("kind"))))
        except (KeyError, ValueError) as exc:
            raise FaultSpecError(f"bad fault spec {spec!r}: {exc}") from exc
        if provider not in PROVIDERS:
            raise FaultSpecError(f"unknown provider {provider!r}")
        op = spec.get("op")
        if op is not None and op not in OPS:
            raise FaultSpecError(f"unknown op {op!r}")
        probability = spec.get("probability")
        count = spec.get("count", None if probability is not None else 1)
        retry_after = spec.get("retry_after")
        mode = str(spec.get("mode", "no_url"))
        delay_s = float(spec.get("delay_s", 2.0))
        if kind is FaultKind.SLOW and mode == "p99":
            delay_s = SUBMIT_P99_S.get(provider, delay_s)
        return cls(
            provider=provider,
            kind=kind,
            op=op,
            count=None if count is None else int(count),
            probability=None if probability is None else float(probability),
            skip=int(spec.get("skip", 0)),
            status=None if spec.get("status") is None else int(spec["status"]),
            retry_after=None if retry_after is None else str(retry_after),
            delay_s=delay_s,
            mode=mode,
            code=None if spec.get("code") is None else str(spec["code"]),
            after_accept=bool(spec.get("after_accept", True)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "fault": self.kind.value,
            "op": self.op,
            "count": self.count,
            "probability": self.probability,
            "skip": self.skip,
            "fired": self.fired,
        }


class FaultBook:
    """Armed faults, consulted by request handlers under one lock; seeded for reproducibility."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(seed)

    def arm(self, fault: Fault) -> Fault:
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self, provider: str | None = None) -> None:
        """Disarm every fault, or only ``provider``'s."""
        with self._lock:
            self._faults = [
                f for f in self._faults if provider is not None and f.provider != provider
            ]

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def take(self, provider: str, kinds: frozenset[FaultKind], op: str | None) -> Fault | None:
        """The first armed fault of ``kinds`` that fires on this request, consumed by one."""
        with self._lock:
            for fault in self._faults:
                if fault.provider != provider or fault.kind not in kinds:
                    continue
                if fault.op is not None and op is not None and fault.op != op:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                if fault.probability is not None and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
            return None

    def take_all(self, provider: str, kinds: frozenset[FaultKind]) -> list[Fault]:
        """Every distinct kind among ``kinds`` that fires now (a render can be late and doubled)."""
        fired: list[Fault] = []
        for kind in sorted(kinds):
            fault = self.take(provider, frozenset({kind}), None)
            if fault is not None:
                fired.append(fault)
        return fired
