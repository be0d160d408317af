"""Delays between attempts: exponential with full jitter, linear, fixed, or the provider's own
``Retry-After`` — always capped. Pure: the random draw is passed in as ``rand`` in [0, 1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BackoffKind(StrEnum):
    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    FIXED = "fixed"
    RETRY_AFTER = "retry_after"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """``base_s`` is the first delay, ``cap_s`` the largest any kind may return."""

    base_s: float = 2.0
    cap_s: float = 60.0
    multiplier: float = 2.0


def delay(
    kind: BackoffKind,
    retry: int,
    *,
    rand: float,
    policy: BackoffPolicy = BackoffPolicy(),
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first retry).

    - exponential, full jitter: ``rand * min(cap, base * multiplier ** (retry - 1))``
    - linear: ``min(cap, base * retry)``
    - fixed: ``min(cap, base)``
    - retry_after: the provider's ``Retry-After`` (``base`` when it sent none), capped
    - none: 0

    The cap bounds our own delays; a provider's ``Retry-After`` is a floor above it for every
    kind: we never come back earlier than asked. Whether a long ``Retry-After`` is worth waiting
    for at all is the recovery policy's call, not this function's.
    """
    n = max(1, retry)
    match kind:
        case BackoffKind.EXPONENTIAL:
            wait = rand * min(policy.cap_s, policy.base_s * policy.multiplier ** (n - 1))
        case BackoffKind.LINEAR:
            wait = min(policy.cap_s, policy.base_s * n)
        case BackoffKind.FIXED:
            wait = min(policy.cap_s, policy.base_s)
        case BackoffKind.RETRY_AFTER:
            wait = policy.base_s if retry_after is None else retry_after
        case BackoffKind.NONE:
            wait = 0.0
    wait = min(policy.cap_s, max(0.0, wait))
    return wait if retry_after is None else max(wait, retry_after)
