"""The web app's sample page (web/sample, built with esbuild from tools/node_modules, no CDN) in
headless Chromium against the real emulator stack, security rules enforced: the page signs in on
the Auth emulator, calls the functions through the client module and follows its job with an
onSnapshot listener the rules must allow. A screenshot of each state is kept in run/screenshots/
sample-page/ (gitignored): the request, live progress, the completed video playing, a
cancellation, a failure and its retry.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.browser.fake_stack import Account
from tests.browser.local_stack import create_account
from tests.support.stacks import local_stack_missing

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "run" / "screenshots" / "sample-page"
USER = Account("sample-user@cvplus.test", "sample-password-1")
RENDER_S = 8.0  # long enough to see the bar move
STEP_MS = 90_000

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    url: str
    sim: str
    http: httpx.Client


def _build(out: Path) -> None:
    esbuild = ROOT / "tools" / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.skip("esbuild is not installed (make install)")
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(esbuild),
            str(ROOT / "web" / "sample" / "app.ts"),
            "--bundle",
            "--format=esm",
            f"--outfile={out / 'app.js'}",
            "--log-level=warning",
            f"--alias:firebase={ROOT / 'tools' / 'node_modules' / 'firebase'}",
        ],
        check=True,
        timeout=120,
    )
    shutil.copy(ROOT / "web" / "sample" / "index.html", out / "index.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tools.stack import Stack as EmulatorStack
    from tools.stack.client import API_KEY
    from tools.stack.project import isolated_project

    missing = local_stack_missing()
    if missing:
        pytest.skip(f"the local stack is not installed (run `make install`): {missing}")
    public = tmp_path_factory.mktemp("sample-page")
    _build(public)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = isolated_project(tmp_path_factory.mktemp("sample-project"))
    run_dir = tmp_path_factory.mktemp("sample-run")
    try:
        with (
            EmulatorStack(
                project, run_dir=run_dir, functions_env={"WEBHOOK_WAIT_SECONDS": "15"}
            ) as running,
            httpx.Client(timeout=60, trust_env=False) as http_client,
        ):
            config = running.config
            assert config.provider_sim is not None
            create_account(http_client, config, USER)
            query = urlencode(
                {
                    "project": config.project_id,
                    "apiKey": API_KEY,
                    "auth": config.auth.url,
                    "firestore": config.firestore.address,
                    "functions": config.functions.address,
                }
            )
            print(f"\nsample page stack: logs in {run_dir}", file=sys.stderr)
            yield Site(
                url=f"http://127.0.0.1:{server.server_address[1]}/index.html?{query}",
                sim=config.provider_sim.url,
                http=http_client,
            )
    finally:
        server.shutdown()
        server.server_close()


def _renders_take(site: Site, seconds: float) -> None:
    site.http.post(f"{site.sim}/_control/reset").raise_for_status()
    for provider in ("heygen", "did"):
        site.http.post(
            f"{site.sim}/_control/config", json={"provider": provider, "latency_s": seconds}
        ).raise_for_status()


def _shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _state(page: Any, *names: str) -> None:
    wanted = " || ".join(f"document.body.dataset.state === '{n}'" for n in names)
    page.wait_for_function(wanted, timeout=STEP_MS)


def _ask(page: Any) -> str:
    """Ask for a video; the page then follows the new job."""
    before = page.text_content("#job-id") or ""
    page.click("#request")
    page.wait_for_function(
        "before => !['', before].includes(document.getElementById('job-id').textContent)",
        arg=before,
        timeout=30_000,
    )
    return str(page.text_content("#job-id"))


def test_the_sample_page_makes_follows_cancels_and_retries_a_video(
    site: Site, browser: Any
) -> None:
    _renders_take(site, RENDER_S)
    page = browser.new_page(viewport={"width": 900, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site.url)
    page.fill("#email", USER.email)
    page.fill("#password", USER.password)
    page.click("#signin-button")
    _state(page, "signed-in")
    assert "free plan" in (page.text_content("#quota") or "")

    # A request, then its progress while the provider renders (the bar moves between writes).
    first = _ask(page)
    _shot(page, "01-request")
    _state(page, "rendering")
    start = float(page.eval_on_selector("#bar", "bar => bar.value"))
    page.wait_for_function(f"document.getElementById('bar').value > {start}", timeout=STEP_MS)
    assert page.text_content("#stage") == "Rendering your video"
    assert "s left" in (page.text_content("#eta") or "")
    _shot(page, "02-live-progress")

    # Completed: the video plays.
    _state(page, "completed")
    page.wait_for_function("document.body.dataset.video === 'playing'", timeout=STEP_MS)
    assert float(page.eval_on_selector("#bar", "bar => bar.value")) == 100
    _shot(page, "03-completed-playing")

    # A cancellation while the provider renders: it stays cancelled when the render ends.
    _renders_take(site, 20.0)
    second = _ask(page)
    assert second != first
    _state(page, "rendering")
    page.click("#cancel")
    _state(page, "cancelled")
    assert page.text_content("#error") == "You cancelled this video."
    _shot(page, "04-cancelled")

    # A failure (every provider answers 5xx: with only HeyGen and D-ID down, RunwayML's avatar
    # would speak it), explained; then a retry that works.
    site.http.post(f"{site.sim}/_control/reset").raise_for_status()
    for provider in ("heygen", "did", "runwayml"):
        site.http.post(
            f"{site.sim}/_control/faults",
            json={"provider": provider, "fault": "server_error", "count": 100},
        ).raise_for_status()
    third = _ask(page)
    _state(page, "failed")
    assert page.is_visible("#retry")
    assert page.text_content("#error")
    _shot(page, "05-failed")
    _renders_take(site, 2.0)
    page.click("#retry")
    page.wait_for_function(
        f"document.getElementById('job-id').textContent === '{third}-r1'", timeout=30_000
    )
    _state(page, "completed")
    page.wait_for_function("document.body.dataset.video === 'playing'", timeout=STEP_MS)
    _shot(page, "06-retried-completed")
    assert errors == []
    page.close()
