"""Fixtures of the browser tests: where the dashboard lives (`stack`) and a headless Debian
Chromium driven by Playwright (`browser`).

`stack` has two variants, and every browser test runs against each:

- ``local-stack`` (marker e2e): the real functions on the local emulator stack, started for the
  session on free ports by tests/browser/local_stack.py, with real traffic through
  generateVideo (HeyGen failing half-way) before the browser opens. Skipped, saying why, when
  the stack is not installed (`make install`).
- ``fake``: tests/browser/fake_stack.py, the real shell on memory stores with a day of history
  and traffic between refreshes: no emulators, a few seconds; it covers what a fresh stack
  cannot show (24 h charts with trends, figures moving between redraws).

To drive an already running stack as ``local-stack`` instead, set CVPLUS_DASHBOARD_URL (the
page), CVPLUS_AUTH_BASE (the Auth emulator's
``http://127.0.0.1:<port>/identitytoolkit.googleapis.com``), CVPLUS_FUNCTIONS_BASE
(``http://127.0.0.1:5001/<project>/us-central1``), and the accounts CVPLUS_ADMIN_EMAIL,
CVPLUS_ADMIN_PASSWORD, CVPLUS_USER_EMAIL, CVPLUS_USER_PASSWORD (created beforehand, the admin
with the custom claim admin: true); CVPLUS_API_KEY is optional, CVPLUS_ADMIN_AUDIT_NAME is how
setCircuitState names the admin in the audit trail (default: the email).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.fake_stack import Account, Stack, fake_stack
from tests.support.stacks import local_stack_missing

CHROMIUM = Path("/usr/bin/chromium")
# LOCAL-STACK.md: no GPU, no sandbox (containers), nothing fetched in the background.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _stack_from_env() -> Stack | None:
    url = os.environ.get("CVPLUS_DASHBOARD_URL")
    if not url:
        return None
    env = os.environ
    return Stack(
        page_url=url,
        auth_base=env["CVPLUS_AUTH_BASE"],
        functions_base=env["CVPLUS_FUNCTIONS_BASE"],
        api_key=env.get("CVPLUS_API_KEY", "local"),
        admin=Account(env["CVPLUS_ADMIN_EMAIL"], env["CVPLUS_ADMIN_PASSWORD"], admin=True),
        user=Account(env["CVPLUS_USER_EMAIL"], env["CVPLUS_USER_PASSWORD"]),
        audit_name=env.get("CVPLUS_ADMIN_AUDIT_NAME", ""),
    )


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("local-stack", marks=pytest.mark.e2e),
        pytest.param("fake"),
    ],
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if request.param == "fake":
        with fake_stack() as fake:
            yield fake
        return
    real = _stack_from_env()
    if real is not None:
        yield real
        return
    missing = local_stack_missing()
    if missing:
        pytest.skip(f"the local stack is not installed (run `make install`): {missing}")
    from tests.browser.local_stack import local_stack

    run_dir = tmp_path_factory.mktemp("browser-stack-run")
    with local_stack(tmp_path_factory.mktemp("browser-stack-project"), run_dir) as running:
        yield running
    print(f"\nlocal stack stopped; its logs: {run_dir}", file=sys.stderr)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM} "
            "(`make install` adds it with apt-get; the browser tests need it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
