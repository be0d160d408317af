"""The dashboard page's Content-Security-Policy, as the ``dashboard`` function sends it: requests
only to its own origin and Google's sign-in; the emulators on this machine only in the
emulator. (tests/browser/test_dashboard_links.py drives the page itself with crafted links.)"""

from __future__ import annotations

import pytest

from tests.support.harness import Harness

GOOGLE = "https://identitytoolkit.googleapis.com https://securetoken.googleapis.com"


def _connect_src(harness: Harness) -> str:
    answer_headers = _headers(harness)
    policy = answer_headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    return directives["connect-src"]


def _headers(harness: Harness) -> dict[str, str]:
    import flask

    with harness.app.test_request_context("/dashboard/", method="GET"):
        response = flask.make_response(harness.handler("dashboard")(flask.request))
    assert response.status_code == 200
    return dict(response.headers)


def test_in_production_the_page_may_reach_only_its_origin_and_google_sign_in(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FUNCTIONS_EMULATOR", raising=False)
    assert _connect_src(harness) == f"'self' {GOOGLE}"


def test_in_the_emulator_the_page_may_also_reach_this_machine(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNCTIONS_EMULATOR", "true")
    sources = _connect_src(harness).split()
    assert sources[:3] == ["'self'", *GOOGLE.split()]
    assert set(sources[3:]) == {"http://127.0.0.1:*", "http://localhost:*"}
    assert "https:" not in sources


def test_the_rest_of_the_policy_still_holds(harness: Harness) -> None:
    headers = _headers(harness)
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'none'" in policy
    assert headers["Referrer-Policy"] == "no-referrer"
