"""Delays between attempts: each kind, the cap, full jitter, and Retry-After as a floor."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.backoff import BackoffKind as K
from shared.core.backoff import BackoffPolicy, delay

POLICY = BackoffPolicy(base_s=2.0, cap_s=60.0, multiplier=2.0)
ALMOST_ONE = 1.0 - 1e-12


@pytest.mark.parametrize(
    ("kind", "retry", "rand", "expected"),
    [
        (K.EXPONENTIAL, 1, ALMOST_ONE, 2.0),
        (K.EXPONENTIAL, 2, ALMOST_ONE, 4.0),
        (K.EXPONENTIAL, 3, ALMOST_ONE, 8.0),
        (K.EXPONENTIAL, 3, 0.5, 4.0),
        (K.EXPONENTIAL, 10, ALMOST_ONE, 60.0),  # 2 * 2**9 = 1024, capped
        (K.LINEAR, 1, 0.9, 2.0),
        (K.LINEAR, 3, 0.9, 6.0),
        (K.LINEAR, 100, 0.9, 60.0),
        (K.FIXED, 1, 0.9, 2.0),
        (K.FIXED, 7, 0.9, 2.0),
        (K.RETRY_AFTER, 1, 0.9, 2.0),  # no Retry-After sent: the base
        (K.NONE, 5, 0.9, 0.0),
    ],
)
def test_each_kind_gives_its_documented_delay(
    kind: K, retry: int, rand: float, expected: float
) -> None:
    """Exponential, linear, fixed, retry-after and none follow their formulas, capped."""
    assert delay(kind, retry, rand=rand, policy=POLICY) == pytest.approx(expected)


@pytest.mark.parametrize("kind", list(K))
def test_retry_zero_is_treated_as_the_first_retry(kind: K) -> None:
    """A retry number below 1 never shrinks or negates the delay."""
    assert delay(kind, 0, rand=0.5, policy=POLICY) == delay(kind, 1, rand=0.5, policy=POLICY)


def test_a_fixed_base_above_the_cap_is_capped() -> None:
    """The cap bounds every kind of our own delays, even a misconfigured base."""
    policy = BackoffPolicy(base_s=100.0, cap_s=10.0)
    for kind in (K.LINEAR, K.FIXED, K.RETRY_AFTER):
        assert delay(kind, 1, rand=0.5, policy=policy) == 10.0


@given(
    retry=st.integers(min_value=1, max_value=60),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    base=st.floats(min_value=0.01, max_value=30.0),
    cap=st.floats(min_value=0.01, max_value=600.0),
    mult=st.floats(min_value=1.0, max_value=4.0),
)
def test_full_jitter_stays_between_zero_and_the_capped_ceiling(
    retry: int, rand: float, base: float, cap: float, mult: float
) -> None:
    """Exponential delay is rand times min(cap, base * mult ** (retry - 1)), so in [0, ceiling)."""
    policy = BackoffPolicy(base_s=base, cap_s=cap, multiplier=mult)
    ceiling = min(cap, base * mult ** (retry - 1))
    wait = delay(K.EXPONENTIAL, retry, rand=rand, policy=policy)
    assert 0.0 <= wait <= ceiling
    assert wait == pytest.approx(rand * ceiling)


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    """rand = 0 waits nothing; rand close to 1 waits close to the capped ceiling."""
    assert delay(K.EXPONENTIAL, 4, rand=0.0, policy=POLICY) == 0.0
    assert delay(K.EXPONENTIAL, 4, rand=ALMOST_ONE, policy=POLICY) == pytest.approx(16.0)
    assert delay(K.EXPONENTIAL, 9, rand=ALMOST_ONE, policy=POLICY) == pytest.approx(60.0)


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("retry_after", [0.5, 45.0, 600.0])
def test_retry_after_is_a_floor_for_every_kind_even_above_the_cap(
    kind: K, retry_after: float
) -> None:
    """We never come back earlier than the provider asked, whatever the kind or cap."""
    for rand in (0.0, 0.5, ALMOST_ONE):
        wait = delay(kind, 3, rand=rand, policy=POLICY, retry_after=retry_after)
        assert wait >= retry_after


def test_the_retry_after_kind_waits_what_the_provider_asked() -> None:
    """With a Retry-After, the retry-after kind waits exactly that long (not the base)."""
    assert delay(K.RETRY_AFTER, 1, rand=0.5, policy=POLICY, retry_after=0.5) == 0.5
    assert delay(K.RETRY_AFTER, 1, rand=0.5, policy=POLICY, retry_after=30.0) == 30.0
    assert delay(K.RETRY_AFTER, 1, rand=0.5, policy=POLICY, retry_after=600.0) == 600.0


def test_the_default_policy_is_used_when_none_is_given() -> None:
    """Defaults: base 2 s, cap 60 s, doubling."""
    assert delay(K.LINEAR, 2, rand=0.0) == 4.0
    assert delay(K.LINEAR, 50, rand=0.0) == 60.0
