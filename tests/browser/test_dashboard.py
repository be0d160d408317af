"""The admin dashboard in headless Chromium: an admin sees the three providers with live
figures, opens a circuit with a reason and sees it recorded; a non-admin sees no figures.

Each test runs against the real local stack (``[local-stack]``, which saves run/dashboard.png)
and against the fake (``[fake]``); see conftest.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.fake_stack import Account, Stack

pytestmark = pytest.mark.e2e

RUN = Path(__file__).resolve().parents[2] / "run"
PROVIDERS = ("heygen", "did", "runwayml")
TARGET = "runwayml"  # the circuit the test opens (and resets afterwards)


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], f"the page threw or broke its CSP: {errors}"


def sign_in(page: Page, stack: Stack, account: Account) -> None:
    page.goto(stack.dashboard_url(refresh_s=1))
    form = page.locator("#sign-in-form")
    expect(form).to_be_visible()
    form.get_by_label("Email").fill(account.email)
    form.get_by_label("Password").fill(account.password)
    form.get_by_role("button", name="Sign in").click()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def system_dashboard(stack: Stack) -> dict[str, Any]:
    """What `systemDashboard` answers the admin, asked as the page asks it."""
    with httpx.Client(timeout=30, trust_env=False) as http:
        signed_in = http.post(
            f"{stack.auth_base}/v1/accounts:signInWithPassword",
            params={"key": stack.api_key},
            json={
                "email": stack.admin.email,
                "password": stack.admin.password,
                "returnSecureToken": True,
            },
        )
        signed_in.raise_for_status()
        answer = http.post(
            f"{stack.functions_base}/systemDashboard",
            json={"data": {}},
            headers={"Authorization": f"Bearer {signed_in.json()['idToken']}"},
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()["result"]
        return result


def _secs(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{round(value * 1000)} ms"
    return f"{value:.1f} s" if value < 100 else f"{round(value)} s"


def expect_the_callables_figures(page: Page, stack: Stack) -> None:
    data = system_dashboard(stack)
    with_traffic = []
    for p in data["performance"]["providers"]:
        pid = p["providerId"]
        row = page.locator(f"#providers tr[data-provider={pid}]")
        state = {"half_open": "half-open"}.get(p["circuitState"], p["circuitState"])
        expect(row.locator(".badge")).to_contain_text(state)
        cell = row.locator("[data-figure=success24h]")
        expect(cell).to_contain_text(_pct(p.get("successRate24h")))
        calls = int(p.get("calls24h") or 0)
        if calls:
            with_traffic.append(pid)
            noun = "call" if calls == 1 else "calls"
            expect(cell.locator("small")).to_have_text(f"{calls} {noun}")
            expect(row.locator("[data-figure=p95]")).to_have_text(_secs(p.get("latencyP95")))
            chart = page.locator(f".chart-card[data-provider={pid}]")
            expect(chart.locator("svg.success .dot").first).to_be_attached()
    assert len(with_traffic) >= 2, f"the traffic reached only {with_traffic}"
    expect(page.locator("#overview [data-figure=reliability] .tile-value")).to_have_text(
        _pct(data["overallHealth"]["systemReliability"])
    )
    # Every automatic transition the traffic caused is in the audit table, by the breaker.
    automatic = [t for t in data["circuitBreaker"]["transitions"] if t["by"] is None]
    assert automatic, "the traffic opened no circuit"
    for t in automatic:
        audit = page.locator(f"#transitions tbody tr[data-provider={t['providerId']}]")
        expect(audit.filter(has_text=t["reason"])).to_have_count(1)
        expect(audit.filter(has_text=t["reason"]).locator("td").nth(4)).to_have_text("breaker")
    for job_id in stack.failed_job_ids:
        expect(page.locator("#failed-jobs tbody tr", has_text=job_id)).to_have_count(1)


def test_an_admin_sees_live_figures_and_opens_a_circuit_with_a_reason(
    page: Page, stack: Stack
) -> None:
    """Three providers with figures that refresh; opening a circuit needs a reason, changes the
    state and leaves an audit entry naming who and why."""
    sign_in(page, stack, stack.admin)
    expect(page.locator("#dashboard")).to_be_visible()
    rows = page.locator("#providers tbody tr")
    expect(rows).to_have_count(3)
    for pid in PROVIDERS:
        chart = page.locator(f".chart-card[data-provider={pid}]")
        expect(chart.locator("svg.chart")).to_have_count(2)
        expect(chart.locator(".trend").first).to_contain_text("confidence")
        if stack.day_of_history:
            row = page.locator(f"#providers tr[data-provider={pid}]")
            expect(row.locator("[data-figure=success24h]")).to_have_text(re.compile(r"\d+\.\d %"))
            expect(row.locator("[data-figure=p95]")).to_have_text(re.compile(r"\d+(\.\d)? (s|ms)"))
            expect(chart.locator("svg.success polyline").first).to_be_attached()
    expect(page.locator("#overview [data-figure=reliability] .tile-value")).to_have_text(
        re.compile(r"\d+\.\d %")
    )
    if not stack.live_traffic:
        # Figures that stand still between refreshes: the page shows exactly what the
        # callable answers, and that is what the traffic made.
        expect_the_callables_figures(page, stack)

    # Live: the page redraws without a reload; with traffic, the 24 h call count moves too.
    status = page.locator("#status-line")
    stamp = status.inner_text()
    expect(status).not_to_have_text(stamp, timeout=10_000)
    if stack.live_traffic:
        calls = page.locator("#providers tr[data-provider=heygen] [data-figure=success24h] small")
        before = calls.inner_text()
        expect(calls).not_to_have_text(before, timeout=10_000)
    elif stack.more_traffic is not None:
        counts = page.locator("#providers [data-figure=success24h] small")
        before = counts.all_inner_texts()
        stack.more_traffic()
        expect(counts).not_to_have_text(before, timeout=10_000)

    control = page.locator(f".circuit[data-provider={TARGET}]")
    open_button = control.locator("button[data-action=open]")
    expect(open_button).to_be_disabled()
    control.locator("input[data-reason]").fill("   ")
    expect(open_button).to_be_disabled()
    reason = "browser test: planned maintenance window"
    control.locator("input[data-reason]").fill(reason)
    expect(open_button).to_be_enabled()
    open_button.click()

    expect(control.locator(".badge")).to_have_text("open (manual)")
    expect(page.locator(f"#providers tr[data-provider={TARGET}] .badge")).to_have_text(
        "open (manual)"
    )
    expect(control.locator(".detail")).to_contain_text(reason)
    audit = page.locator(f"#transitions tbody tr[data-provider={TARGET}]").first
    expect(audit).to_contain_text(reason)
    expect(audit.locator("td").nth(4)).to_have_text(stack.admin_by)
    expect(control.locator("input[data-reason]")).to_have_value("")
    expect(page.locator("#overview [data-figure=open] .tile-value")).to_have_text(
        re.compile(r"^[1-9]")
    )

    RUN.mkdir(exist_ok=True)
    page.screenshot(path=str(RUN / stack.screenshot), full_page=True)

    # Leave the stack as found (matters when it is the real emulator stack).
    control.locator("input[data-reason]").fill("browser test done")
    control.locator("button[data-action=reset]").click()
    expect(control.locator(".badge")).to_have_text("closed")


def test_an_admin_sees_costs_job_reliability_alerts_and_every_period(
    page: Page, stack: Stack
) -> None:
    """The analytics card answers 1 h, 24 h, 7 d and 30 d (job-level reliability,
    spend per provider, tier and day, cost and quality trends), and the alerts table is there."""
    sign_in(page, stack, stack.admin)
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#alerts tbody tr").first).to_be_attached()
    finished = page.locator("#job-reliability .figure").first.locator(".tile-value")
    expect(finished).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#period-trends tr[data-trend=cost]")).to_be_attached()
    expect(page.locator("#period-trends tr[data-trend=quality]")).to_be_attached()
    expect(page.locator("#spend-days tbody tr[data-day]").first).to_contain_text("$")
    for period in ("1h", "7d", "30d", "24h"):
        page.locator(f"button.period[data-period='{period}']").click()
        expect(page.locator(f"button.period[data-period='{period}']")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator("#period-from")).to_contain_text("Since")
    spend = page.locator("#period-providers tr[data-provider] [data-figure=spend]").first
    expect(spend).to_have_text(re.compile(r"^\$\d+\.\d\d$"))


def test_a_signed_in_user_who_is_not_an_admin_is_refused_and_sees_no_figures(
    page: Page, stack: Stack
) -> None:
    """The callable refuses a non-admin; the page says so and shows nothing of the system."""
    sign_in(page, stack, stack.user)
    refused = page.locator("#refused")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("Admins only")
    expect(refused).to_contain_text(stack.user.email)
    expect(page.locator("#dashboard")).to_be_hidden()
    expect(page.locator("#providers tbody tr")).to_have_count(0)
    assert "%" not in page.locator("body").inner_text()


def test_wrong_credentials_keep_the_sign_in_form_with_an_error(page: Page, stack: Stack) -> None:
    """A failed sign-in explains itself and calls nothing else."""
    sign_in(page, stack, Account(stack.admin.email, "not-the-password"))
    expect(page.locator("#sign-in-error")).to_have_text("Wrong email or password.")
    expect(page.locator("#dashboard")).to_be_hidden()


def test_the_page_works_served_without_a_trailing_slash(page: Page, stack: Stack) -> None:
    """At /dashboard (no slash) the page moves itself under /dashboard/, so its relative
    stylesheet and script load."""
    assert not stack.page_url.endswith("/")
    page.goto(stack.dashboard_url())
    expect(page.locator("#sign-in-form")).to_be_visible()
    assert page.evaluate("location.pathname").endswith("/dashboard/")
    card = page.locator("#sign-in")
    assert card.evaluate("e => getComputedStyle(e).borderRadius") == "8px"
