"""Who may spend money at all: App Check, anonymous users, and the global daily spend cap
(issue 14, item 2). Production defaults: App Check enforced and anonymous users refused outside
the emulator; no spend cap unless DAILY_SPEND_CAP_USD is set."""

from __future__ import annotations

import time
from dataclasses import replace

from functions import runtime
from shared.adapters.stores.base import JOBS, SPEND
from shared.core import spend
from shared.shell.settings import Settings
from tests.support.harness import SCRIPT, Harness


def test_production_defaults_enforce_app_check_and_refuse_anonymous_users() -> None:
    production = Settings.from_env({"CVPLUS_INTERNAL_SECRET": "s" * 32})
    emulator = Settings.from_env({"FUNCTIONS_EMULATOR": "true"})
    assert (production.enforces_app_check, production.refuses_anonymous) == (True, True)
    assert (emulator.enforces_app_check, emulator.refuses_anonymous) == (False, False)
    turned_off = Settings.from_env(
        {
            "CVPLUS_INTERNAL_SECRET": "s" * 32,
            "ENFORCE_APP_CHECK": "false",
            "REFUSE_ANONYMOUS_USERS": "false",
        }
    )
    assert (turned_off.enforces_app_check, turned_off.refuses_anonymous) == (False, False)


def test_a_call_without_an_app_check_token_is_refused_when_enforced(harness: Harness) -> None:
    runtime._settings = replace(runtime.settings(), enforce_app_check=True)
    answer = harness.call("generateVideo", {"script": SCRIPT}, {"uid": "u1"})
    assert answer.error["status"] == "UNAUTHENTICATED"
    assert "App Check" in answer.error["message"]
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
