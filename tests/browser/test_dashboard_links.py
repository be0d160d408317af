"""A crafted dashboard link cannot send the admin's password or ID token anywhere.

The page is served the way the ``dashboard`` function serves it (``asset`` and
``security_headers``), at a production-like origin, by Playwright's request interception: every
request the page makes is recorded, Google's sign-in and the callables are answered in-process,
and anything else is aborted. Nothing leaves the machine; no emulator, no fake stack.

Each case runs twice: with the page's Content-Security-Policy, and with it bypassed, so the
page's own logic is shown to refuse the link (the policy is the second line).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from functions.dashboard_page import asset, security_headers

pytestmark = pytest.mark.e2e  # needs Chromium, like the other browser tests

SITE = "https://us-central1-cvplus-prod.cloudfunctions.net"  # where production serves the page
LOCAL = "http://localhost:5001/demo-cvplus/us-central1"  # the emulator's equivalent
SIGN_IN = "https://identitytoolkit.googleapis.com"
ATTACKER = "https://attacker.example"
EMULATOR_AUTH = "http://127.0.0.1:9099/identitytoolkit.googleapis.com"
PASSWORD = "correct horse battery staple"


@dataclass
class Network:
    """What the page asked for, by URL, and the servers it may reach."""

    page_base: str
    emulator: bool
    requests: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)

    @property
    def page_origin(self) -> str:
        return "{0.scheme}://{0.netloc}".format(urlsplit(self.page_base))

    def handle(self, route: Route) -> None:
        request = route.request
        self.requests.append(request.url)
        self.bodies.append(request.post_data or "")
        url = urlsplit(request.url)
        origin = f"{url.scheme}://{url.netloc}"
        sign_in_servers = {SIGN_IN, self.page_origin}
        if self.emulator:
            sign_in_servers.add("{0.scheme}://{0.netloc}".format(urlsplit(EMULATOR_AUTH)))
        cors = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Allow-Methods": "POST",
        }
        if origin in sign_in_servers and url.path.endswith("/v1/accounts:signInWithPassword"):
            if request.method == "OPTIONS":
                route.fulfill(status=204, headers=cors)
                return
            answer = {"idToken": "id-token", "email": "ops@example.test", "expiresIn": "3600"}
            route.fulfill(status=200, json=answer, headers=cors)
        elif origin == self.page_origin and url.path.endswith("/systemDashboard"):
            route.fulfill(status=200, json={"result": {}})
        elif origin == self.page_origin and "/dashboard" in url.path:
            found = asset(url.path.rsplit("/dashboard", 1)[1])
            if found is None:
                route.fulfill(status=404, body="not found")
                return
            body, content_type = found
            headers = security_headers(emulator=self.emulator)
            route.fulfill(status=200, body=body, content_type=content_type, headers=headers)
        else:
            route.abort()

    def elsewhere(self) -> list[str]:
        """Requests to anything but the page's origin and Google's sign-in."""
        allowed = (self.page_origin + "/", SIGN_IN + "/")
        return [u for u in self.requests if not u.startswith(allowed)]


@pytest.fixture(params=["csp", "no-csp"])
def bypass_csp(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "no-csp")


def _open(browser: Any, network: Network, query: str, bypass_csp: bool) -> Iterator[Page]:
    context = browser.new_context(bypass_csp=bypass_csp)
    context.route("**/*", network.handle)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{network.page_base}/dashboard/{query}")
    try:
        yield page
    finally:
        context.close()
    assert problems == [], f"the page threw or its policy refused something: {problems}"


def _try_to_sign_in(page: Page) -> None:
    form = page.locator("#sign-in-form")
    expect(form).to_be_visible()
    form.get_by_label("Email").fill("ops@example.test")
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Password").press("Enter")
    page.evaluate("document.getElementById('sign-in-form').requestSubmit()")
    page.wait_for_timeout(500)


def test_a_link_naming_another_host_sends_it_nothing(browser: Any, bypass_csp: bool) -> None:
    network = Network(SITE, emulator=False)
    query = f"?auth={ATTACKER}&functions={ATTACKER}&key=k"
    for page in _open(browser, network, query, bypass_csp):
        _try_to_sign_in(page)
        expect(page.locator("#sign-in-form button")).to_be_disabled()
        expect(page.locator("#sign-in-error")).to_contain_text(ATTACKER)
        expect(page.locator("#dashboard")).to_be_hidden()
    assert network.elsewhere() == []
    assert not [b for b in network.bodies if PASSWORD in b]  # not even to Google


@pytest.mark.parametrize(
    "query",
    [
        f"?functions={ATTACKER}",
        f"?auth={ATTACKER}",
        f"?auth={EMULATOR_AUTH}",  # the emulator, but the page is not on this machine
        "?auth=//attacker.example/x",
        "?auth=https://identitytoolkit.googleapis.com@attacker.example/",
        "?functions=javascript:alert(1)",
    ],
)
def test_any_foreign_endpoint_refuses_the_whole_link(
    browser: Any, bypass_csp: bool, query: str
) -> None:
    network = Network(SITE, emulator=False)
    for page in _open(browser, network, query, bypass_csp):
        _try_to_sign_in(page)
        expect(page.locator("#sign-in-form button")).to_be_disabled()
    assert network.elsewhere() == []
    assert not [b for b in network.bodies if PASSWORD in b]


def test_a_plain_link_signs_in_with_google_and_calls_its_own_origin(browser: Any) -> None:
    network = Network(SITE, emulator=False)
    for page in _open(browser, network, "?key=k", bypass_csp=False):
        _try_to_sign_in(page)
        expect(page.locator("#dashboard")).to_be_visible()
    assert any(u.startswith(f"{SIGN_IN}/v1/accounts:signInWithPassword") for u in network.requests)
    assert f"{SITE}/systemDashboard" in network.requests
    assert network.elsewhere() == []


def test_a_page_on_this_machine_may_use_the_emulators(browser: Any) -> None:
    network = Network(LOCAL, emulator=True)
    for page in _open(browser, network, f"?auth={EMULATOR_AUTH}&key=k", bypass_csp=False):
        _try_to_sign_in(page)
        expect(page.locator("#dashboard")).to_be_visible()
    assert any(
        u.startswith(f"{EMULATOR_AUTH}/v1/accounts:signInWithPassword") for u in network.requests
    )
    assert f"{LOCAL}/systemDashboard" in network.requests
