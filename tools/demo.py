"""`python -m tools.demo` (`make demo`): the whole system on the local emulator stack, in about two
minutes. Starts the stack on a copy of the project on free ports, signs up a user and an admin
with the Auth emulator, makes every simulated render take a few seconds, asks for 20 videos,
takes HeyGen down after the tenth (its API answers 500 for --outage seconds, then recovers), shows
progress once a second, and ends with a summary: each job's provider, attempts and degradations,
the circuit-breaker transitions, the recovery logs, what each simulated provider charged and how
many of those renders were paid and not used (0: the renders HeyGen accepted before its outage are
waited for, not paid again elsewhere), every finished video played back from the Cloud Storage
emulator (with a command that opens one), and where to open the admin dashboard.

Exits 1 if any job is not finished (completed or failed) within --timeout seconds, or if a
completed job's video does not play from Cloud Storage. The stack is
always stopped (by PID), also on Ctrl-C; with --keep-open (the default on a terminal) it stays up
after the summary until Ctrl-C so the dashboard can be opened.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from tools.stack._stack import REPO_ROOT
from tools.stack.client import API_KEY, OWNER, call, sign_up
from tools.stack.config import StackConfig

PROVIDERS = ("heygen", "runwayml", "did")
NAMES = {"heygen": "HeyGen", "runwayml": "RunwayML", "did": "D-ID"}
TERMINAL = ("completed", "failed")
STATUSES = ("queued", "processing", "completed", "failed")
JOBS = "enhanced_video_jobs"
TRANSITIONS = "circuit_breaker_transitions"
RECOVERY_LOGS = "error_recovery_logs"
ADMIN_EMAIL = "admin@cvplus.test"
ADMIN_PASSWORD = "demo-admin-password"
# The emulator cannot fire providerHealthCheck's schedule (every minute in production); the demo
# runs its body this often while jobs are unfinished (it re-drives a job whose trigger was lost).
HEALTH_CHECK_S = 30.0
DEMO_ENV = {
    # One user asks for all the videos: lift the per-user limit (10 an hour by default).
    "USER_JOBS_PER_HOUR": "100",
    # A lost webhook is followed up by a status poll after this long (default: 1.5 typical
    # renders, 15 minutes for HeyGen): the emulator sometimes fails to start a worker for a
    # webhook under load, and the demo should show the recovery within its timeout.
    "WEBHOOK_WAIT_SECONDS": "20",
}

# ---------------------------------------------------------------------------------------------
# What the demo asks for: CVs the template turns into a script (medium: at most 150 words), and
# hand-written scripts sized for their duration (short: 30 s, about 75 words).

_CVS: tuple[dict[str, Any], ...] = (
    {
        "personalInfo": {"name": "Amara Okafor", "title": "Senior Backend Engineer"},
        "summary": (
            "I design payment systems that stay up when the traffic doubles overnight. "
            "For eight years I have moved teams from fragile monoliths to services they trust. "
            "I care about clear interfaces, honest metrics and on-call rotations nobody dreads. "
            "Last year my team cut checkout latency in half while the number of orders tripled. "
            "I write design documents before code, and I review them with the people who will "
            "run the system at three in the morning."
        ),
        "skills": ["Python", "PostgreSQL", "Kafka", "Kubernetes", "observability"],
        "experience": [
            {"position": "Senior Backend Engineer", "company": "Ledgerly", "startDate": "2021"},
            {"position": "Software Engineer", "company": "ShopWave", "endDate": "2021"},
        ],
    },
    {
        "personalInfo": {"name": "Lukas Brandt", "title": "Product Designer"},
        "summary": (
            "I turn messy workflows into interfaces people understand on the first try. "
            "My work starts with research and ends with measured results in production. "
            "Recently I redesigned an onboarding flow that lifted activation by a fifth. "
            "I work closely with engineers, so what ships looks like what we drew. "
            "I also run the design critique that our whole product team now joins every week, "
            "because good ideas come from everywhere."
        ),
        "skills": ["Figma", "user research", "prototyping", "design systems"],
        "experience": [
            {"position": "Product Designer", "company": "Northwind Health", "startDate": "2020"},
            {"position": "UX Designer", "company": "Brightpath Studio", "endDate": "2020"},
        ],
    },
    {
        "personalInfo": {"name": "Priya Raman", "title": "Data Scientist"},
        "summary": (
            "I build forecasting models that planners actually use, because they can see why "
            "the model says what it says. I have shipped demand forecasts for two retailers and "
            "an energy supplier. I enjoy teaching colleagues to read uncertainty, not just "
            "point estimates. "
            "Before data science I studied physics, which taught me to distrust a result "
            "until I can explain it. I like to finish projects, not just prototypes."
        ),
        "skills": ["Python", "statistics", "time series", "SQL", "dbt"],
        "experience": [
            {"position": "Data Scientist", "company": "GridSense", "startDate": "2022"},
            {"position": "Analyst", "company": "FreshCart", "endDate": "2022"},
        ],
    },
    {
        "personalInfo": {"name": "Mateo Alvarez", "title": "Engineering Manager"},
        "summary": (
            "I lead teams of eight to twelve engineers through growth without losing the "
            "habits that made them good. I hire carefully, write things down and protect time "
            "for deep work. My teams ship every day and sleep through the night. "
            "I measure myself by how many of my engineers grow into leads, and so far six have. "
            "I am looking for a company that treats reliability as a feature."
        ),
        "skills": ["hiring", "mentoring", "roadmapping", "incident reviews"],
        "experience": [
            {"position": "Engineering Manager", "company": "Parcelhub", "startDate": "2019"},
            {"position": "Tech Lead", "company": "Parcelhub", "endDate": "2019"},
        ],
    },
)

_SHORT_SCRIPTS = (
    "Hi, I'm Sofia, a mobile developer who ships calm, fast apps. Over six years I have built "
    "iOS and Android apps used by two million people, from banking to fitness. I like small "
    "teams, short feedback loops and code my colleagues enjoy reading. If you need someone who "
    "cares about the last ten percent of polish, let's talk. Thanks for watching!",
    "Hello, I'm Daniel, a cloud security engineer. I help companies find the holes in their "
    "infrastructure before anyone else does, and then I help them close those holes for good. "
    "I have led audits for fintech and healthcare teams and automated most of the checks we "
    "used to do by hand. Thank you for watching; I look forward to connecting.",
)


def demo_requests(count: int) -> list[dict[str, Any]]:
    """``count`` generateVideo requests: mostly medium videos from a CV, every fifth a short one
    from a hand-written script; each with its own requestId, so a retried call is not a second
    video."""
    requests: list[dict[str, Any]] = []
    for index in range(count):
        request: dict[str, Any] = {"requestId": f"demo-{uuid.uuid4().hex[:16]}"}
        if index % 5 == 4:
            request["script"] = _SHORT_SCRIPTS[(index // 5) % len(_SHORT_SCRIPTS)]
            request["options"] = {"duration": "short", "style": "friendly"}
        else:
            request["parsedCV"] = _CVS[index % len(_CVS)]
            request["options"] = {"duration": "medium", "style": "professional"}
        requests.append(request)
    return requests


# ---------------------------------------------------------------------------------------------
# Pure formatting: from job documents to lines and tables.


def tally(docs: Iterable[Mapping[str, Any]]) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Jobs per status, and per provider (the current one) jobs per status."""
    statuses: Counter[str] = Counter()
    providers: dict[str, Counter[str]] = {p: Counter() for p in PROVIDERS}
    for doc in docs:
        status = str(doc.get("status") or "queued")
        statuses[status] += 1
        provider = doc.get("providerId")
        if provider:
            providers.setdefault(str(provider), Counter())[status] += 1
    return statuses, providers


def progress_line(elapsed: float, docs: Sequence[Mapping[str, Any]], total: int) -> str:
    statuses, providers = tally(docs)
    queued = statuses["queued"] + max(0, total - len(docs))  # asked for, not yet seen
    counts = (
        f"queued {queued:2} · processing {statuses['processing']:2} · "
        f"completed {statuses['completed']:2} · failed {statuses['failed']:2}"
    )
    per_provider = " · ".join(
        f"{NAMES.get(p, p)} {c['processing']}/{c['completed']}"
        + (f"/{c['failed']}✗" if c["failed"] else "")
        for p, c in providers.items()
    )
    return f"  {elapsed:5.1f}s │ {counts} │ now/done: {per_provider}"


def history_text(doc: Mapping[str, Any]) -> str:
    """The providers a job went through: "heygen ✗ server_error → did ✓"."""
    steps = []
    for entry in doc.get("providerHistory") or []:
        outcome = entry.get("outcome")
        name = str(entry.get("providerId"))
        if outcome == "completed":
            steps.append(f"{name} ✓")
        elif outcome is None:
            steps.append(f"{name} …")
        else:
            steps.append(f"{name} ✗ {outcome}")
    return " → ".join(steps) or "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True))]
    lines.append("  " + "  ".join("─" * w for w in widths))
    for row in cells[1:]:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def job_rows(jobs: Sequence[tuple[int, Mapping[str, Any]]], started: float) -> list[list[object]]:
    rows: list[list[object]] = []
    for number, doc in jobs:
        took = float(doc.get("updatedAt") or 0) - float(doc.get("createdAt") or 0)
        error = doc.get("error") or {}
        rows.append(
            [
                f"#{number:02}",
                doc.get("status", "?"),
                NAMES.get(str(doc.get("providerId")), doc.get("providerId") or "-"),
                doc.get("attempt", 0),
                ", ".join(doc.get("degradations") or []) or "-",
                f"{took:.1f}s" if doc.get("status") in TERMINAL else "-",
                history_text(doc) + (f"  [{error.get('code')}]" if error else ""),
            ]
        )
    return rows


def unplayable(
    docs: Iterable[Mapping[str, Any]], fetch: Callable[[str], bytes | None]
) -> list[str]:
    """The completed jobs whose video does not play from our bucket: no ``storagePath``, or
    its ``videoUrl`` serves nothing (``fetch``: the bytes a URL serves with 200, else None).
    Empty when every finished video is kept and playable."""
    bad: list[str] = []
    for doc in docs:
        if doc.get("status") != "completed":
            continue
        url, path = doc.get("videoUrl"), doc.get("storagePath")
        body = fetch(str(url)) if url and path else None
        if not body:
            bad.append(str(doc.get("jobId")))
    return bad


def recovery_rows(logs: Iterable[Mapping[str, Any]]) -> list[list[object]]:
    counts: Counter[tuple[str, str, bool]] = Counter(
        (str(e.get("errorCategory")), str(e.get("recoveryAction")), bool(e.get("success")))
        for e in logs
    )
    return [
        [category, action, "recovered" if ok else "not recovered", n]
        for (category, action, ok), n in sorted(counts.items())
    ]


def charge_rows(stats: Mapping[str, Any], docs: Iterable[Mapping[str, Any]]) -> list[list[object]]:
    """Per provider: the simulator's charges and USD, next to the renders the jobs record as
    accepted by it (an attempt with a provider job id) and the jobs it completed."""
    accepted: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    for doc in docs:
        for entry in doc.get("providerHistory") or []:
            if entry.get("providerJobId"):
                accepted[str(entry.get("providerId"))] += 1
        if doc.get("status") == "completed":
            completed[str(doc.get("providerId"))] += 1
    rows: list[list[object]] = []
    for provider in PROVIDERS:
        sim = stats.get(provider) or {}
        rows.append(
            [
                NAMES[provider],
                sim.get("charges", 0),
                f"${float(sim.get('charged_usd', 0.0)):.2f}",
                accepted[provider],
                completed[provider],
            ]
        )
    return rows


def paid_not_used(stats: Mapping[str, Any], docs: Iterable[Mapping[str, Any]]) -> int:
    """Renders the simulated providers charged for that no job completed with."""
    completed: Counter[str] = Counter(
        str(doc.get("providerId")) for doc in docs if doc.get("status") == "completed"
    )
    return sum(
        max(0, int((stats.get(p) or {}).get("charges", 0)) - completed[p]) for p in PROVIDERS
    )


def _name(provider: object) -> str:
    return NAMES.get(str(provider), str(provider))


def run_health_check(config: StackConfig, functions_env: Mapping[str, str]) -> dict[str, object]:
    """What the scheduled `providerHealthCheck` does every minute (probe, refresh stats, re-drive
    overdue jobs), run here: the Functions emulator cannot fire a schedule. A job whose only
    trigger delivery failed (the emulator answers some with ECONNRESET under load) is re-driven
    by it, as in production."""
    from shared.shell import deployment, health
    from shared.shell.settings import Settings
    from tools.stack._stack import LOCAL_SECRETS

    env = {**functions_env, **LOCAL_SECRETS, "GCLOUD_PROJECT": config.project_id}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        shell = deployment.build(Settings.from_env(env), env)
        try:
            return health.health_check(shell)
        finally:
            for provider in shell.ports.providers.values():
                provider.close()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def dashboard_url(config: StackConfig) -> str:
    auth = f"{config.auth.url}/identitytoolkit.googleapis.com"
    return f"{config.function_url('dashboard')}/?auth={auth}&key={API_KEY}&refresh=2"


# ---------------------------------------------------------------------------------------------
# The run.


class Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)


def _sign_up_admin(http: httpx.Client, config: StackConfig) -> None:
    """An admin with a known email and password, for signing in to the dashboard page."""
    api = config.auth_api
    account = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "returnSecureToken": True}
    created = http.post(f"{api}/accounts:signUp", params={"key": API_KEY}, json=account)
    created.raise_for_status()
    http.post(
        f"{api}/projects/{config.project_id}/accounts:update",
        headers=OWNER,
        json={"localId": created.json()["localId"], "customAttributes": '{"admin": true}'},
    ).raise_for_status()


class Demo:
    def __init__(
        self,
        args: argparse.Namespace,
        style: Style,
        health_check: Callable[[], dict[str, object]] | None = None,
    ) -> None:
        self.args = args
        self.s = style
        self.health_check = health_check
        self.t0 = time.monotonic()
        self.numbers: dict[str, int] = {}  # job id -> its number in the order asked
        self.seen_status: dict[str, str] = {}
        self.seen_transitions: set[str] = set()

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def run(self, config: StackConfig, db: Any, http: httpx.Client) -> int:
        args, s = self.args, self.s
        assert config.provider_sim is not None, "the demo needs the provider simulator"
        sim = config.provider_sim.url
        for provider in PROVIDERS:
            http.post(
                f"{sim}/_control/config", json={"provider": provider, "latency_s": args.latency}
            ).raise_for_status()
        # An enterprise account: a free one may ask for 10 videos an hour (shared/core/tiers.py).
        uid, token = sign_up(http, config, {"tier": "enterprise"})
        _sign_up_admin(http, config)
        self.say(
            f"  signed in as a new enterprise user ({uid}); every render takes {args.latency:g} s\n"
        )

        self.say(s.bold(f"Asking for {args.jobs} videos"))
        requests = demo_requests(args.jobs)
        halfway = args.jobs // 2 if not args.no_outage else args.jobs
        self.say(s.dim("  one progress line a second; events as they happen\n"))
        self.t0 = time.monotonic()
        self._submit(config, http, db, token, requests[:halfway], first=1)
        if not args.no_outage:
            # Let the first half reach a provider, so HeyGen is seen working before it breaks.
            self._wait(
                db,
                lambda d: bool(d.get("providerJobId")) or d.get("status") in TERMINAL,
                limit=60.0,
            )
            http.post(
                f"{sim}/_control/faults",
                json={"provider": "heygen", "fault": "server_error", "count": 100_000},
            ).raise_for_status()
            self.say(
                s.red(
                    s.bold(
                        f"  {self.elapsed():5.1f}s ✖ HeyGen is down: every call to it now "
                        "answers 500 (simulator fault server_error)"
                    )
                )
            )
            down_at = time.monotonic()
            self._submit(config, http, db, token, requests[halfway:], first=halfway + 1)
            self._wait(
                db,
                lambda d: d.get("status") in TERMINAL,
                limit=max(0.0, args.outage - (time.monotonic() - down_at)),
            )
            http.delete(f"{sim}/_control/faults", params={"provider": "heygen"}).raise_for_status()
            self.say(
                s.green(
                    s.bold(
                        f"  {self.elapsed():5.1f}s ✔ HeyGen answers again: the renders it "
                        "accepted before its outage are confirmed and kept"
                    )
                )
            )
        docs = self._wait(db, lambda d: d.get("status") in TERMINAL, limit=args.timeout)
        return self._summary(config, db, http, docs)

    def _submit(
        self,
        config: StackConfig,
        http: httpx.Client,
        db: Any,
        token: str,
        requests: Sequence[dict[str, Any]],
        *,
        first: int,
    ) -> None:
        s = self.s
        next_line = self.elapsed() + 1.0
        for index, request in enumerate(requests, start=first):
            answer = self._ask(config, http, token, request, index)
            if answer is None:
                continue
            if answer.status_code != 200:
                self.say(
                    s.red(
                        f"  generateVideo #{index} answered {answer.status_code}: "
                        f"{answer.text[:300].strip()}"
                    )
                )
                continue
            result = answer.json()["result"]
            self.numbers[result["jobId"]] = index
            kind = "a script" if "script" in request else "a parsed CV"
            self.say(
                s.dim(
                    f"  {self.elapsed():5.1f}s → #{index:02} asked for: "
                    f"{request['options']['duration']} video from {kind} ({result['jobId'][:15]}…)"
                )
            )
            if self.elapsed() >= next_line:
                next_line = self.elapsed() + 1.0
                self._tick(db)
            time.sleep(self.args.spacing)

    def _ask(
        self,
        config: StackConfig,
        http: httpx.Client,
        token: str,
        request: dict[str, Any],
        index: int,
    ) -> httpx.Response | None:
        """generateVideo, asked again with the same requestId (the same job, never a second
        one) when a call gets no answer or a 5xx, as the web app does."""
        for attempt in range(1, 4):
            try:
                answer = call(http, config, "generateVideo", request, token)
            except httpx.HTTPError as exc:
                problem = f"no answer ({type(exc).__name__})"
            else:
                if answer.status_code < 500:
                    return answer
                problem = f"HTTP {answer.status_code}"
            self.say(
                self.s.yellow(f"  generateVideo #{index}: {problem}; asking again ({attempt})")
            )
        return None

    def _wait(
        self, db: Any, done: Callable[[Mapping[str, Any]], bool], *, limit: float
    ) -> list[dict[str, Any]]:
        """Tick once a second until ``done`` holds for every job asked for, or ``limit`` s."""
        deadline = time.monotonic() + limit
        checked = time.monotonic()
        docs = self._tick(db)
        while len(docs) < len(self.numbers) or not all(done(d) for d in docs):
            if time.monotonic() > deadline:
                break
            if self.health_check is not None and time.monotonic() - checked >= HEALTH_CHECK_S:
                checked = time.monotonic()
                report = self.health_check()
                self.say(
                    self.s.yellow(
                        f"  {self.elapsed():5.1f}s ⟳ health check (the scheduled "
                        f"providerHealthCheck, run here): "
                        + ", ".join(f"{_name(k)} {v}" for k, v in report.items())
                    )
                )
            time.sleep(max(0.05, 1.0 - (self.elapsed() % 1.0)))
            docs = self._tick(db)
        return docs

    def _jobs(self, db: Any) -> list[dict[str, Any]]:
        found = [db.collection(JOBS).document(job_id).get() for job_id in self.numbers]
        return [snap.to_dict() for snap in found if snap.exists]

    def _tick(self, db: Any) -> list[dict[str, Any]]:
        """Print what changed since the last tick, then the one-line progress."""
        s = self.s
        docs = self._jobs(db)
        for doc in sorted(docs, key=lambda d: self.numbers.get(d["jobId"], 0)):
            status = str(doc.get("status"))
            if self.seen_status.get(doc["jobId"]) == status:
                continue
            self.seen_status[doc["jobId"]] = status
            number = self.numbers.get(doc["jobId"], 0)
            if status == "completed":
                extra = f" after {doc.get('attempt')} attempts" if doc.get("attempt", 1) > 1 else ""
                degraded = (
                    f", degraded: {', '.join(doc['degradations'])}" if doc.get("degraded") else ""
                )
                self.say(
                    s.green(
                        f"  {self.elapsed():5.1f}s ✓ #{number:02} completed on "
                        f"{_name(doc.get('providerId'))}"
                        f"{extra}{degraded}   ({history_text(doc)})"
                    )
                )
            elif status == "failed":
                error = doc.get("error") or {}
                self.say(
                    s.red(
                        f"  {self.elapsed():5.1f}s ✗ #{number:02} failed: "
                        f"{error.get('code')}: {error.get('message')}"
                    )
                )
        for snap in db.collection(TRANSITIONS).stream():
            if snap.id in self.seen_transitions:
                continue
            self.seen_transitions.add(snap.id)
            t = snap.to_dict()
            self.say(
                s.yellow(
                    f"  {self.elapsed():5.1f}s ⚡ circuit {_name(t['providerId'])}: "
                    f"{t['from']} → {t['to']} ({t['reason']})"
                )
            )
        self.say(progress_line(self.elapsed(), docs, len(self.numbers)))
        return docs

    def _videos(self, http: httpx.Client, docs: list[dict[str, Any]]) -> list[str]:
        """Play every completed job's video back from the storage emulator; say how to open
        one. Returns the jobs whose video does not play."""

        def fetch(url: str) -> bytes | None:
            try:
                answer = http.get(url)
            except httpx.HTTPError:
                return None
            return answer.content if answer.status_code == 200 else None

        done = [d for d in docs if d.get("status") == "completed"]
        broken = unplayable(done, fetch)
        s = self.s
        self.say("\n" + s.bold("Videos in Cloud Storage (the storage emulator)"))
        self.say(
            f"  {len(done) - len(broken)} of {len(done)} completed videos play from our bucket"
        )
        for job_id in broken:
            self.say(s.red(f"  ✗ {job_id}: no playable copy"))
        playable = [d for d in done if d["jobId"] not in broken]
        if playable:
            example = playable[0]
            self.say(f"  e.g. job {example['jobId']}: {example['storagePath']}")
            self.say(f"  open   curl -o video.mp4 '{example['videoUrl']}'")
            self.say(s.dim("         (the same URL in a browser, while the stack is up)"))
        return broken

    def _summary(
        self, config: StackConfig, db: Any, http: httpx.Client, docs: list[dict[str, Any]]
    ) -> int:
        s = self.s
        numbered = sorted((self.numbers[d["jobId"]], d) for d in docs if d["jobId"] in self.numbers)
        self.say("\n" + s.bold("Jobs"))
        self.say(
            table(
                [
                    "job",
                    "status",
                    "provider",
                    "attempts",
                    "degradations",
                    "took",
                    "providers tried",
                ],
                job_rows(numbered, self.t0),
            )
        )
        transitions = sorted(
            (snap.to_dict() for snap in db.collection(TRANSITIONS).stream()),
            key=lambda t: float(t.get("at") or 0),
        )
        self.say("\n" + s.bold("Circuit-breaker transitions"))
        if transitions:
            first = float(numbered[0][1]["createdAt"]) if numbered else 0.0
            self.say(
                table(
                    ["at", "provider", "from", "to", "by", "reason"],
                    [
                        [
                            f"+{float(t['at']) - first:.1f}s",
                            NAMES.get(t["providerId"], t["providerId"]),
                            t["from"],
                            t["to"],
                            t.get("by") or "-",
                            t["reason"],
                        ]
                        for t in transitions
                    ],
                )
            )
        else:
            self.say("  none")
        logs = [snap.to_dict() for snap in db.collection(RECOVERY_LOGS).stream()]
        self.say("\n" + s.bold(f"Recovery logs ({len(logs)}; one per job that met a failure)"))
        rows = recovery_rows(logs)
        self.say(
            table(["error category", "recovery action", "outcome", "jobs"], rows)
            if rows
            else "  none"
        )
        assert config.provider_sim is not None
        stats = http.get(f"{config.provider_sim.url}/_control/stats").json()
        self.say("\n" + s.bold("What the simulated providers charged"))
        self.say(
            table(
                ["provider", "charges", "charged", "renders accepted (jobs)", "jobs completed"],
                charge_rows(stats, docs),
            )
        )
        unused = paid_not_used(stats, docs)
        self.say(f"  renders paid and not used: {unused}")
        broken = self._videos(http, docs)
        statuses, _ = tally(docs)
        missing = len(self.numbers) - len(docs)
        unfinished = sum(1 for d in docs if d.get("status") not in TERMINAL) + missing
        self.say("\n" + s.bold("Dashboard"))
        self.say(f"  open   {dashboard_url(config)}")
        self.say(f"  sign in as {ADMIN_EMAIL} / {ADMIN_PASSWORD} (admin claim set)")
        self.say("")
        verdict = (
            f"{statuses['completed']} completed, {statuses['failed']} failed, "
            f"{unfinished} not finished, of {len(self.numbers)} asked for"
        )
        if unfinished:
            self.say(s.red(s.bold(f"✗ {verdict} after {self.args.timeout:g} s")))
            return 1
        if broken:
            self.say(s.red(s.bold(f"✗ {verdict}, but {len(broken)} videos do not play")))
            return 1
        self.say(s.green(s.bold(f"✓ every job finished: {verdict}")))
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--latency", type=float, default=2.5, help="render seconds, per provider")
    parser.add_argument("--spacing", type=float, default=0.25, help="seconds between requests")
    parser.add_argument("--timeout", type=float, default=120.0, help="for every job to finish")
    parser.add_argument("--no-outage", action="store_true", help="leave HeyGen up")
    parser.add_argument(
        "--outage", type=float, default=30.0, help="seconds HeyGen's API answers 500"
    )
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / "run" / "demo")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument(
        "--keep-open",
        dest="keep_open",
        action="store_true",
        default=None,
        help="after the summary, keep the stack up until Ctrl-C (default on a tty)",
    )
    keep.add_argument("--no-keep-open", dest="keep_open", action="store_false")
    args = parser.parse_args(argv)
    args.run_dir = args.run_dir.resolve()
    if args.keep_open is None:
        args.keep_open = sys.stdin.isatty() and sys.stdout.isatty()
    style = Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))

    # SIGTERM ends the demo like Ctrl-C does: through the Stack's __exit__, which stops by PID.
    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    # firebase-tools drops a request, unanswered, when the Python worker started for it is not
    # ready in 30 s, which happens on a busy 2-core machine: give workers longer.
    os.environ.setdefault("FUNCTIONS_DISCOVERY_TIMEOUT", "120")
    from tools.stack import Stack, StackConfigError, StackError, StackProcessError
    from tools.stack.project import isolated_project

    print(style.bold("CVPlus demo: video generation with provider fallback, end to end"))
    print(style.dim(f"  a copy of the functions project on free ports; logs in {args.run_dir}"))
    print(
        "  starting the local stack (Firestore, Cloud Tasks, Cloud Storage, Auth + Functions "
        "emulators, provider simulator; about 20-40 s)…",
        flush=True,
    )
    started = time.monotonic()
    code: int | None = None  # set once the summary is printed
    try:
        project = isolated_project(args.run_dir / "project")
        with (
            Stack(project, run_dir=args.run_dir, functions_env=DEMO_ENV) as stack,
            httpx.Client(timeout=150, trust_env=False) as http,
        ):
            print(
                style.dim(
                    f"  stack up in {time.monotonic() - started:.0f} s: functions at "
                    f"{stack.config.function_url('')}"
                ),
                flush=True,
            )
            os.environ["FIRESTORE_EMULATOR_HOST"] = stack.config.firestore.address
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import firestore

            db = firestore.Client(
                project=stack.config.project_id,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )
            env = stack.functions_env
            demo = Demo(args, style, lambda: run_health_check(stack.config, env))
            code = demo.run(stack.config, db, http)
            if args.keep_open:
                print(
                    style.bold("\nThe stack stays up for the dashboard; Ctrl-C stops it."),
                    flush=True,
                )
                threading.Event().wait()
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the stack", file=sys.stderr, flush=True)
        return 130 if code is None else code
    except (StackError, StackConfigError, StackProcessError) as exc:
        print(style.red(f"demo: the stack did not start: {exc}"), file=sys.stderr)
        return 1
    print(style.dim("  stack stopped"), flush=True)
    return 1 if code is None else code


if __name__ == "__main__":
    sys.exit(main())
