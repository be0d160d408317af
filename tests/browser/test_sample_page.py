"""The web app's sample page (web/sample, built with esbuild from tools/node_modules, no CDN) in
headless Chromium against the real emulator stack, security rules enforced: the page signs in on
the Auth emulator, calls the functions through the client module and follows its job with an
onSnapshot listener the rules must allow. A screenshot of each state is kept in run/screenshots/
sample-page/ (gitignored): the request, live progress, the completed video playing, a
cancellation, a failure and its retry; and a premium user of the CVPlus app making their video
introduction through the app's own call, the CV job watched until the video plays.
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
from tests.support.cvplus import LIFETIME, PARSER_CV
from tests.support.stacks import local_stack_missing

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "run" / "screenshots" / "sample-page"
USER = Account("sample-user@cvplus.test", "sample-password-1")
PREMIUM = Account("premium-user@cvplus.test", "premium-password-1")
RENDER_S = 8.0  # long enough to see the bar move
STEP_MS = 90_000
# The player read our copy of the video: its container and a length ("loaded"), or it plays.
# The simulator's tiny MP4s (tools/mp4.py) carry placeholder samples, so Chromium reads them
# but has nothing to decode; a real render plays.
PLAYER_READ = (
    "['loaded', 'playing'].includes(document.body.dataset.video)"
    " && Number(document.body.dataset.videoDuration) > 0"
)
APP_PLAYER_READ = (
    "['loaded', 'playing'].includes(document.body.dataset.appVideo)"
    " && Number(document.body.dataset.appVideoDuration) > 0"
)

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    url: str
    sim: str
    http: httpx.Client
    config: Any  # tools.stack.config.StackConfig


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
                config=config,
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
    page.wait_for_function(PLAYER_READ, timeout=STEP_MS)
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

    # A failure (every provider's renders fail, so the job spends its render budget: a refused
    # submit would use none, and the job would wait out its deadline), explained; then a retry
    # that works.
    site.http.post(f"{site.sim}/_control/reset").raise_for_status()
    for provider in ("heygen", "did", "runwayml"):
        site.http.post(
            f"{site.sim}/_control/faults",
            json={"provider": provider, "fault": "render_failed", "count": 100},
        ).raise_for_status()
    _ask(page)
    _state(page, "failed")
    # It spent every render it may have: no retry is offered (retryVideoJob would refuse it);
    # the user asks for a new video, which works.
    assert not page.is_visible("#retry")
    assert page.text_content("#error")
    _shot(page, "05-failed")
    site.http.post(f"{site.sim}/_control/reset").raise_for_status()
    _renders_take(site, 2.0)
    _ask(page)
    _state(page, "completed")
    page.wait_for_function(PLAYER_READ, timeout=STEP_MS)
    _shot(page, "06-retried-completed")
    assert errors == []
    page.close()


def test_a_premium_user_makes_their_introduction_through_the_apps_own_call_and_watches_it(
    site: Site, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user the app's premium guard entitles (userSubscriptions/{uid}: lifetimeAccess and
    features.videoIntroduction) asks for the video of their CV job (jobs/{id} with the parser's
    parsedData) with the app's own request - generateVideoIntroduction({jobId, duration,
    style, avatarStyle, background, includeSubtitles, includeNameCard}), cvplus-frontend
    src/services/features/MediaService.ts L19-27 - and the page, watching jobs/{id} as the
    app does, plays the video once ``video.url`` is set, with its WebVTT captions as a track."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    _renders_take(site, 2.0)
    uid = create_account(site.http, site.config, PREMIUM)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", site.config.firestore.address)
    db = firestore.Client(project=site.config.project_id, credentials=AnonymousCredentials())
    cv_job = "cv-premium-1"
    try:
        db.collection("userSubscriptions").document(uid).set({"userId": uid, **LIFETIME})
        db.collection("jobs").document(cv_job).set(
            {"userId": uid, "status": "analyzed", "parsedData": PARSER_CV}
        )
        page = browser.new_page(viewport={"width": 900, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(site.url)
        page.fill("#email", PREMIUM.email)
        page.fill("#password", PREMIUM.password)
        page.click("#signin-button")
        _state(page, "signed-in")
        page.fill("#cv-job", cv_job)
        page.click("#app-request")
        page.wait_for_function("document.body.dataset.appState === 'completed'", timeout=STEP_MS)
        page.wait_for_function(APP_PLAYER_READ, timeout=STEP_MS)
        page.wait_for_function("document.body.dataset.appAnswer !== 'waiting'", timeout=STEP_MS)
        _shot(page, "07-app-call-playing")
        cv = db.collection("jobs").document(cv_job).get().to_dict() or {}
        video = cv["video"]
        assert cv["videoStatus"] == "completed"
        assert page.eval_on_selector("#app-video", "v => v.src") == video["url"]
        assert page.eval_on_selector("#app-track", "t => t.src") == video["subtitles"]
        # Rendered in 2 s: the call itself answered with the video (MediaService.ts L28).
        assert page.evaluate("document.body.dataset.appAnswer") == "video"
        assert "Made without a name card" in (page.text_content("#app-notes") or "")
        captions = site.http.get(video["subtitles"])
        assert captions.status_code == 200
        blocks = captions.text.strip().split("\n\n")
        assert blocks[0] == "WEBVTT"
        words = " ".join(b.split("\n", 2)[2] for b in blocks[1:]).split()
        assert words == video["script"].replace("&", "&amp;").split()
        assert errors == []
        page.close()
    finally:
        db.close()
