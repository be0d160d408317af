"""Who may spend money at all: App Check, anonymous users, and the global daily spend cap.
Production defaults: App Check off unless ENFORCE_APP_CHECK is set (the web app sends no
token), anonymous users refused outside the emulator; no spend cap unless DAILY_SPEND_CAP_USD
is set."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator

import pytest

from functions import deploy
from shared.adapters.stores.base import JOBS, SPEND
from shared.core import spend
from shared.shell.settings import Settings
from tests.support.harness import HANDLERS, SCRIPT, Harness


def test_app_check_is_off_unless_set_and_anonymous_users_are_refused_outside_the_emulator() -> None:
    """The CVPlus web app sends no App Check token, so enforcing it is opt-in (issue 20)."""
    production = Settings.from_env({"CVPLUS_INTERNAL_SECRET": "s" * 32})
    emulator = Settings.from_env({"FUNCTIONS_EMULATOR": "true"})
    assert (production.enforce_app_check, production.refuses_anonymous) == (False, True)
    assert (emulator.enforce_app_check, emulator.refuses_anonymous) == (False, False)
    turned_on = Settings.from_env(
        {
            "CVPLUS_INTERNAL_SECRET": "s" * 32,
            "ENFORCE_APP_CHECK": "true",
            "REFUSE_ANONYMOUS_USERS": "false",
        }
    )
    assert (turned_on.enforce_app_check, turned_on.refuses_anonymous) == (True, False)
    assert deploy.app_check({}) is False
    assert deploy.app_check({"ENFORCE_APP_CHECK": "yes"}) is True


CALLABLES = [
    *sorted(n for n, m in HANDLERS.items() if m in {"generate", "videos", "feedback"}),
    "systemDashboard",
    "setCircuitState",
]


@pytest.fixture
def app_check_enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handler modules loaded again as an instance loads them with ENFORCE_APP_CHECK=true
    (the SDK's on_call option is fixed when the decorator runs), and back afterwards."""
    modules = [importlib.import_module(f"functions.{m}") for m in ("deploy", *_MODULES)]
    monkeypatch.setenv("ENFORCE_APP_CHECK", "true")
    for module in modules:
        importlib.reload(module)
    try:
        yield
    finally:
        monkeypatch.delenv("ENFORCE_APP_CHECK")
        for module in modules:
            importlib.reload(module)


_MODULES = ("generate", "videos", "feedback", "admin")


@pytest.mark.parametrize("name", CALLABLES)
def test_with_app_check_enforced_every_callable_refuses_a_call_without_a_token(
    harness: Harness, app_check_enforced: None, name: str
) -> None:
    """The SDK refuses the call before the handler runs, so nothing is stored."""
    answer = harness.call(name, {"script": SCRIPT}, {"uid": "u1", "admin": True})
    assert answer.error["status"] == "UNAUTHENTICATED"
    assert harness.db.coll(JOBS) == {}


def test_an_anonymous_user_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    anonymous = {"uid": "anon-1", "firebase": {"sign_in_provider": "anonymous"}}
    answer = harness.call("generateVideo", {"script": SCRIPT}, anonymous)
    assert answer.error["status"] == "PERMISSION_DENIED"
    assert harness.db.coll(JOBS) == {}
    signed_in = {"uid": "ada", "firebase": {"sign_in_provider": "password"}}
    assert harness.call("generateVideo", {"script": SCRIPT}, signed_in).status == 200


def test_past_the_daily_spend_cap_new_videos_are_refused_with_the_figures(
    harness: Harness,
) -> None:
    harness.choose(daily_spend_cap_usd=50.0)
    today = spend.day_key(time.time())
    harness.db.put(SPEND, today, {"billedUsd": 49.0, "renders": 20})
    assert harness.call("generateVideo", {"script": SCRIPT}, {"uid": "u1"}).status == 200

    harness.db.put(SPEND, today, {"billedUsd": 50.5, "renders": 21})
    harness.shell._spend = None  # the instance re-reads the day's figure every 10 s
    answer = harness.call("generateVideo", {"script": SCRIPT + " Hello."}, {"uid": "u1"})
    assert answer.error["status"] == "RESOURCE_EXHAUSTED"
    assert "daily spend cap of $50.00 is reached ($50.50 billed today)" in answer.error["message"]
    assert len(harness.db.coll(JOBS)) == 1


def test_without_a_cap_the_spend_is_not_even_read(harness: Harness) -> None:
    harness.db.put(SPEND, spend.day_key(time.time()), {"billedUsd": 1e9})
    assert harness.call("generateVideo", {"script": SCRIPT}, {"uid": "u1"}).status == 200
    assert harness.shell._spend is None
