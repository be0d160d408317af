"""A provider configured with placeholders renders nothing usable, so the
factory refuses them outside the emulator (naming each); usage caps answered with 429 are
quota, not a burst rate limit; RunwayML's concurrency follows its documented tiers."""

from __future__ import annotations

import pytest

from shared.adapters.providers import runwayml
from shared.adapters.providers._http import HttpAdapter
from shared.adapters.providers.heygen import DEFAULT_AVATAR_ID
from shared.core.errors import ErrorCategory
from shared.shell.deployment import placeholder_problems as problems_of
from shared.shell.deployment import providers
from shared.shell.settings import Settings, SettingsError
from tests.support.adapters import AdapterFactory, a_request, raised
from tools.provider_sim import ProviderSim

REQUIRED = (
    "HEYGEN_AVATAR_ID",
    "HEYGEN_VOICE_ID",
    "DID_SOURCE_URL_LANDSCAPE",
    "DID_SOURCE_URL_PORTRAIT",
    "RUNWAYML_PROMPT_IMAGE_URL",
)
REAL = {
    "HEYGEN_AVATAR_ID": "Daisy-inskirt-20220818",
    "HEYGEN_VOICE_ID": "2d5b0e6cf36f460aa7fc47e3eee4ba54",
    "DID_SOURCE_URL_LANDSCAPE": "https://img.test/landscape.jpg",
    "DID_SOURCE_URL_PORTRAIT": "https://img.test/portrait.jpg",
    "RUNWAYML_PROMPT_IMAGE_URL": "https://img.test/still.jpg",
}


def test_production_without_avatar_voice_and_presenter_image_is_refused_naming_each() -> None:
    with pytest.raises(SettingsError) as info:
        providers(Settings.from_env({}))
    named = [problem.name for problem in info.value.problems]
    assert named == list(REQUIRED)
    for name in REQUIRED:
        assert name in str(info.value)


def placeholder_problems(env: dict[str, str]) -> tuple[object, ...]:
    return problems_of(Settings.from_env(env))


def test_a_placeholder_set_explicitly_is_refused_too() -> None:
    env = REAL | {"HEYGEN_AVATAR_ID": DEFAULT_AVATAR_ID}
    assert [p.name for p in problems_of(Settings.from_env(env))] == ["HEYGEN_AVATAR_ID"]


def test_real_values_build_the_three_adapters() -> None:
    adapters = providers(Settings.from_env(REAL))
    try:
        assert set(adapters) == {"heygen", "did", "runwayml"}
    finally:
        for adapter in adapters.values():
            adapter.close()


def test_the_emulator_and_the_simulator_may_run_on_placeholders(sim: ProviderSim) -> None:
    assert placeholder_problems({"FUNCTIONS_EMULATOR": "true"}) == ()
    on_loopback = {
        "HEYGEN_BASE_URL": sim.base_url("heygen"),
        "DID_BASE_URL": sim.base_url("did"),
        "RUNWAYML_BASE_URL": sim.base_url("runwayml"),
    }
    assert placeholder_problems(on_loopback) == ()
    # Only the provider on loopback is let off: a real D-ID still needs its presenter photos.
    mixed = on_loopback | {"DID_BASE_URL": "https://api.d-id.com"}
    assert [p.name for p in problems_of(Settings.from_env(mixed))] == [
        "DID_SOURCE_URL_LANDSCAPE",
        "DID_SOURCE_URL_PORTRAIT",
    ]


# --- quota-type 429s ----------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["heygen", "runwayml"])
def test_a_daily_or_usage_cap_answered_429_is_quota_not_a_rate_limit(
    provider: str, sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """RunwayML's tier cap of generations per day and HeyGen's usage quota (quota_exceeded)
    answer 429; retrying them as a passing rate limit spends the job's attempts for nothing."""
    sim.add_fault(provider, "quota", op="submit", mode="daily_cap")
    error = raised(lambda: make_adapter(provider).submit(a_request()))
    assert error.status == 429
    assert error.category is ErrorCategory.QUOTA_EXCEEDED
    assert not error.charged


@pytest.mark.parametrize("provider", ["heygen", "did"])
def test_a_plain_429_stays_a_rate_limit(
    provider: str, sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    sim.add_fault(provider, "rate_limit", op="submit")
    error = raised(lambda: make_adapter(provider).submit(a_request()))
    assert error.category is ErrorCategory.RATE_LIMIT


# --- RunwayML concurrency -----------------------------------------------------------------


def test_runwayml_concurrency_defaults_to_the_first_tiers_limit() -> None:
    """docs.dev.runwayml.com/usage/tiers: tier 1 runs 1-2 generations at once, not 5."""
    adapter = runwayml.RunwayMLProvider(api_key="k")
    try:
        assert adapter.capabilities.concurrency_limit == 1
    finally:
        adapter.close()


@pytest.mark.parametrize(("asked", "limit"), [(3, 3), (5, 5), (99, 20), (0, 1)])
def test_runwayml_concurrency_is_set_for_the_projects_tier(asked: int, limit: int) -> None:
    adapter = runwayml.RunwayMLProvider(api_key="k", concurrency_limit=asked)
    try:
        assert adapter.capabilities.concurrency_limit == limit
    finally:
        adapter.close()


def test_runwayml_concurrency_reaches_the_adapter_through_the_settings() -> None:
    adapters = providers(Settings.from_env(REAL | {"RUNWAYML_CONCURRENCY": "3"}))
    try:
        assert adapters["runwayml"].capabilities.concurrency_limit == 3
    finally:
        for adapter in adapters.values():
            adapter.close()


def test_media_hosts_are_set_per_provider_through_the_settings() -> None:
    adapters = providers(
        Settings.from_env(REAL | {"DID_MEDIA_HOSTS": "cdn.example.net, .media.example.org"})
    )
    try:
        did = adapters["did"]
        assert isinstance(did, HttpAdapter)
        assert did.media_hosts == ("cdn.example.net", ".media.example.org")
        heygen = adapters["heygen"]
        assert isinstance(heygen, HttpAdapter)
        assert ".heygen.ai" in heygen.media_hosts
    finally:
        for adapter in adapters.values():
            adapter.close()
    with pytest.raises(SettingsError, match="DID_MEDIA_HOSTS"):
        Settings.from_env({"DID_MEDIA_HOSTS": "https://cdn.example.net/x"})


def test_runwaymls_daily_cap_is_quota_even_when_its_429_says_nothing_of_it(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Runway publishes no wording for its daily cap, and needs none: it documents no
    per-minute limit, only daily quotas (runwayml/skills rw-api-reference/SKILL.md:375-386)."""
    sim.configure("runwayml", daily_cap=2)
    adapter = make_adapter("runwayml")
    adapter.submit(a_request())
    adapter.submit(a_request())

    capped = raised(lambda: adapter.submit(a_request()))

    assert capped.status == 429
    assert capped.category is ErrorCategory.QUOTA_EXCEEDED
    assert sim.stats()["runwayml"]["charges"] == 2


def test_every_runwayml_429_is_a_quota_and_costs_no_further_call(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """A 429 with a burst's wording under the daily cap is still the quota (no retries in
    seconds that cannot help), told without asking GET /v1/organization. Before: a rate
    limit, retried."""
    sim.configure("runwayml", daily_cap=50)
    sim.add_fault("runwayml", "rate_limit", op="submit")
    before = dict(sim.stats()["runwayml"]["counters"])
    error = raised(lambda: make_adapter("runwayml").submit(a_request()))
    after = sim.stats()["runwayml"]["counters"]
    assert error.category is ErrorCategory.QUOTA_EXCEEDED
    assert after.get("requests:probe", 0) == before.get("requests:probe", 0)
