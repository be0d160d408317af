"""Load benchmark: N concurrent `generateVideo` calls through the local emulator stack (Google's
Firestore, Functions and Auth emulators under firebase-tools, Cloud Tasks emulator, provider
simulator), on a copy of the project on free ports.

    python -m bench.load [--jobs 200] [--users 5] [--latency 1.0] [--write BENCHMARKS.md]

Two phases on one stack: first --serial jobs one after another (warms the emulator's workers and
gives the unloaded cost of one job), then --jobs calls released together from as many threads.
Figures: every job terminal, none lost (job ids answered == jobs in Firestore), none paid twice (the
simulator's charges per provider == renders the jobs record as accepted), throughput, time to
completion (updatedAt - createdAt), its overhead over the simulator's render latency, and Firestore
operations per job, counted by the deployed stores themselves
(`shared.adapters.stores.firestore.Usage`, as Firestore bills them: a document read, at least 1 per
query, 1 per 1000 index entries of an aggregation; every document written) in each function
instance, which keeps its totals in CVPLUS_USAGE_DIR (functions/runtime.py), plus the health checks
run here. Read-modify-writes are reads followed by a write with a precondition; a retry is an
attempt that lost to a concurrent write. The bench's own polling is not counted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from google.cloud.firestore_v1.base_query import FieldFilter

PROVIDERS = ("heygen", "runwayml", "did")
TERMINAL = ("completed", "failed")
JOBS = "enhanced_video_jobs"
USAGE_ENV = "CVPLUS_USAGE_DIR"
USAGE_KEYS = ("reads", "writes", "transactions", "attempts")
CALL_ATTEMPTS = 3
HEALTH_CHECK_S = 60.0
WORKER_START_S = 120
# Goals, printed, not asserted.
GOAL_OVERHEAD_S = 3.0  # 10 % of a 30 s render
GOAL_WRITES = 8
GOAL_READS = 6
SCRIPT = (
    "Hello, I'm Jordan, a backend engineer who builds systems that stay up when traffic "
    "doubles. I have spent seven years on payments and logistics platforms, and I like clear "
    "interfaces, honest metrics and calm on-call rotations. Thank you for watching."
)

Counts = dict[str, dict[str, int]]


# ---------------------------------------------------------------------------------------------
# Pure helpers (tests/unit/test_load_helpers.py).


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def counts_delta(before: Counts, after: Counts) -> Counts:
    """What was counted between two snapshots, per table and key (zeros dropped)."""
    delta: Counts = {}
    for table in USAGE_KEYS:
        b, a = before.get(table, {}), after.get(table, {})
        diff = {k: a.get(k, 0) - b.get(k, 0) for k in sorted(set(a) | set(b))}
        delta[table] = {k: v for k, v in diff.items() if v}
    return delta


def total(counts: Counts, table: str) -> int:
    return sum(counts.get(table, {}).values())


@dataclass(frozen=True, slots=True)
class ChargeCheck:
    provider: str
    charges: int  # what the simulator billed
    accepted: int  # renders the jobs record as accepted by this provider (a provider job id)
    completed: int  # jobs completed on this provider
    failed_renders: int  # accepted renders that did not complete the job

    @property
    def unaccounted(self) -> int:
        """Charges no job accounts for: a render paid twice (or lost). 0 is right."""
        return self.charges - self.accepted


def charge_checks(
    charges: Mapping[str, int], docs: Iterable[Mapping[str, Any]]
) -> list[ChargeCheck]:
    accepted: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for doc in docs:
        for entry in doc.get("providerHistory") or []:
            if not entry.get("providerJobId"):
                continue
            pid = str(entry.get("providerId"))
            accepted[pid] += 1
            if entry.get("outcome") == "completed":
                completed[pid] += 1
            else:
                failed[pid] += 1
    return [
        ChargeCheck(p, int(charges.get(p, 0)), accepted[p], completed[p], failed[p])
        for p in PROVIDERS
    ]


def first_time_successes(docs: Iterable[Mapping[str, Any]]) -> int:
    """Completed jobs with one attempt and no failure: the jobs the per-job goals are about."""
    return sum(
        1
        for d in docs
        if d.get("status") == "completed"
        and len(d.get("providerHistory") or []) == 1
        and not d.get("degraded")
    )


@dataclass(slots=True)
class Phase:
    """What one phase measured."""

    name: str
    jobs: int
    rate: float | None = None  # paced: calls per second; None: one after another or all at once
    answered: int = 0  # requests that got a job id (after retries)
    refused: int = 0  # requests that got none, after CALL_ATTEMPTS calls
    failed_calls: Counter[str] = field(default_factory=Counter)  # failed calls by reason
    orphans: int = 0  # jobs in Firestore no request got the id of
    health_checks: int = 0  # run while waiting, as the 1-minute schedule would
    call_s: list[float] = field(default_factory=list)  # generateVideo round trips
    sent: dict[str, float] = field(default_factory=dict)  # job id -> when its call was sent
    docs: list[dict[str, Any]] = field(default_factory=list)  # the phase's jobs, at the end
    wall_s: float = 0.0  # first call sent -> last job terminal
    counts: Counts = field(default_factory=dict)  # Firestore usage during the phase
    charges: dict[str, int] = field(default_factory=dict)  # simulator charges during the phase
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, in the phase

    @property
    def title(self) -> str:
        if self.name == "paced":
            return f"{self.jobs} at {self.rate:g} per second"
        return f"{self.jobs} {self.name}"

    def cpu_per_job(self) -> float:
        return sum(self.cpu.values()) / max(1, len(self.docs))

    def ttc(self) -> list[float]:
        """Time to completion: from sending the generateVideo call (its job's creation when
        the call was not timed) to the job's last update."""
        return [
            float(d["updatedAt"]) - self.sent.get(str(d.get("jobId")), float(d["createdAt"]))
            for d in self.docs
            if d.get("status") in TERMINAL
        ]


def stack_cpu_seconds(records: Iterable[Any]) -> dict[str, float]:
    """CPU seconds used so far by each process of the stack with its descendants, the Functions
    emulator's Python workers on a line of their own, and by this benchmark's own process."""
    from tools.stack.processes import cpu_seconds, descendants

    out: dict[str, float] = {}
    for record in records:
        own = cpu_seconds(record.pid, reaped=True)
        below = sum(cpu_seconds(pid, reaped=True) for pid, _ in descendants(record.pid))
        if record.name == "firebase":
            java = sum(
                cpu_seconds(pid, reaped=True)
                for pid, _ in descendants(record.pid)
                if _command(pid) == "java"
            )
            out["firebase-tools (Node: Functions and Auth emulators)"] = own
            out["Google's Firestore emulator (Java)"] = java
            out["the functions (Python workers of the emulator)"] = below - java
        else:
            out[record.name] = own + below
    out["this benchmark (callers and poller)"] = cpu_seconds(os.getpid(), reaped=False)
    return out


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def emulator_parallel() -> str:
    from tools.stack._stack import EMULATOR_PARALLEL

    return os.environ.get("FUNCTIONS_EMULATOR_PARALLEL", str(EMULATOR_PARALLEL))


def fmt(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:.2f} s"


def phase_table(phase: Phase, latency: float) -> list[str]:
    terminal = sum(1 for d in phase.docs if d.get("status") in TERMINAL)
    statuses = Counter(str(d.get("status")) for d in phase.docs)
    ttc = phase.ttc()
    overhead = [t - latency for t in ttc]
    checks = charge_checks(phase.charges, phase.docs)
    unaccounted = sum(c.unaccounted for c in checks)
    firsts = first_time_successes(phase.docs)
    reads, writes = total(phase.counts, "reads"), total(phase.counts, "writes")
    rmw, attempts = total(phase.counts, "transactions"), total(phase.counts, "attempts")
    n = max(1, len(phase.docs))
    return [
        f"| requests | {phase.jobs} ({phase.answered} answered with a job id"
        + (f", {phase.refused} without" if phase.refused else "")
        + ") |",
        "| failed calls, retried with the same requestId | "
        + (", ".join(f"{k}: {v}" for k, v in sorted(phase.failed_calls.items())) or "none")
        + " |",
        f"| jobs in Firestore no request got the id of | {phase.orphans} |",
        f"| jobs terminal | {terminal} of {len(phase.docs)} found "
        f"({statuses['completed']} completed, {statuses['failed']} failed) |",
        f"| jobs lost (answered - found) | {phase.answered - len(phase.docs)} |",
        f"| charges with no render in a job (paid twice) | {unaccounted} |",
        f"| generateVideo round trip p50 / p95 | {fmt(percentile(phase.call_s, 50))} / "
        f"{fmt(percentile(phase.call_s, 95))} |",
        f"| wall time, first call -> last job terminal | {phase.wall_s:.1f} s |",
        f"| throughput | {len(ttc) / phase.wall_s if phase.wall_s else math.nan:.2f} jobs/s |",
        f"| time to completion p50 / p95 / max | {fmt(percentile(ttc, 50))} / "
        f"{fmt(percentile(ttc, 95))} / {fmt(max(ttc, default=math.nan))} |",
        f"| overhead over the {latency:g} s render p50 / p95 | "
        f"{fmt(percentile(overhead, 50))} / {fmt(percentile(overhead, 95))} |",
        f"| first-time successes | {firsts} of {len(phase.docs)} |",
        f"| health checks run while waiting (1-minute schedule; counted in the ops) | "
        f"{phase.health_checks} |",
        f"| Firestore reads / writes per job | {reads / n:.2f} / {writes / n:.2f} |",
        f"| read-modify-writes, retried after a conflict (no transactions, none aborted) | "
        f"{rmw}, {attempts - rmw} |",
    ]


def report(
    phases: Sequence[Phase],
    *,
    warm_up: Phase,
    latency: float,
    users: int,
    started_s: float,
    webhook_wait: float,
) -> tuple[str, list[str]]:
    """The BENCHMARKS.md body and the goal lines."""
    load = next(ph for ph in phases if ph.name == "concurrent")
    described = {
        "serial": "one after another",
        "concurrent": "`generateVideo` calls released together from as many threads",
        "paced": "calls sent at a steady rate, as traffic the stack can keep up with arrives",
    }
    steps = " ".join(
        f"Phase {i}: {ph.title}, {described[ph.name]}." for i, ph in enumerate(phases, 1)
    )
    out = [
        "`python -m bench.load` (`make bench-load`): the real functions in the Firebase Functions "
        f"emulator on the local stack (started in {started_s:.0f} s), {users} users, the provider "
        f"simulator's render latency set to {latency:g} s for every provider, no faults, "
        f"WEBHOOK_WAIT_SECONDS={webhook_wait:g} (a render whose webhook never came is polled "
        f"then), {emulator_parallel()} function executions in parallel in the emulator "
        "(FUNCTIONS_EMULATOR_PARALLEL), "
        f"FUNCTIONS_DISCOVERY_TIMEOUT={WORKER_START_S} s for a new worker to start. A call "
        "that fails without an answer is "
        f"retried with the same requestId (at most {CALL_ATTEMPTS} calls). Time to completion "
        f"runs from sending the call to the job's last update. First one warm-up job, not in "
        "the tables: each function's first call starts its first Python worker, and that job's "
        f"overhead over the render was {fmt(max(warm_up.ttc(), default=math.nan) - latency)}. "
        f"{steps}",
        "",
        "| | " + " | ".join(f"phase {i}: {ph.title}" for i, ph in enumerate(phases, 1)) + " |",
        "|---|" + "---|" * len(phases),
    ]
    tables = [phase_table(ph, latency) for ph in phases]
    for rows in zip(*tables, strict=True):
        label = rows[0].strip("|").split("|", 1)[0]
        values = [row.strip("|").split("|", 1)[1].strip() for row in rows]
        out.append(f"|{label}|" + "".join(f"{v} |" for v in values))
    out += ["", f"Charges per provider (phase {phases.index(load) + 1}; simulator "]
    out[-1] += "`/_control/stats` against the jobs):"
    out += ["", "| provider | charged | renders accepted (jobs) | completed | failed renders |"]
    out += ["|---|---|---|---|---|"]
    for c in charge_checks(load.charges, load.docs):
        out.append(
            f"| {c.provider} | {c.charges} | {c.accepted} | {c.completed} | {c.failed_renders} |"
        )
    columns = " | ".join(f"phase {i}" for i in range(1, len(phases) + 1))
    out += ["", "Firestore operations per job, by where they were counted:", ""]
    out += [f"| | counted in | {columns} |", "|---|---|" + "---|" * len(phases)]
    for table_name in ("reads", "writes"):
        keys = sorted({k for ph in phases for k in ph.counts.get(table_name, {})})
        for key in keys:
            per = [
                ph.counts.get(table_name, {}).get(key, 0) / max(1, len(ph.docs)) for ph in phases
            ]
            out.append(f"| {table_name} | {key} | " + " | ".join(f"{v:.2f}" for v in per) + " |")
    out += ["", f"CPU seconds per job, by process ({os.cpu_count()} cores here):", ""]
    out += [f"| process | {columns} |", "|---|" + "---|" * len(phases)]
    names = sorted({k for ph in phases for k in ph.cpu}, key=lambda k: -load.cpu.get(k, 0.0))
    for name in names:
        per = [ph.cpu.get(name, 0.0) / max(1, len(ph.docs)) for ph in phases]
        out.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in per) + " |")
    out.append("| all | " + " | ".join(f"{ph.cpu_per_job():.3f}" for ph in phases) + " |")
    busy = [sum(ph.cpu.values()) / ph.wall_s if ph.wall_s else math.nan for ph in phases]
    out.append("| cores busy on average (all / wall time) | ")
    out[-1] += " | ".join(f"{b:.2f}" for b in busy) + " |"
    goals = goal_lines(phases, latency)
    out += ["", "Goals (printed, not asserted):", ""] + [f"- {g}" for g in goals]
    return "\n".join(out) + "\n", goals


def goal_lines(phases: Sequence[Phase], latency: float) -> list[str]:
    load = next(ph for ph in phases if ph.name == "concurrent")
    lost = (
        load.answered
        - len(load.docs)
        + sum(1 for d in load.docs if d.get("status") not in TERMINAL)
    )
    twice = sum(max(0, c.unaccounted) for c in charge_checks(load.charges, load.docs))
    lines = [
        _goal(
            lost == 0 and twice == 0 and load.answered == load.jobs,
            f"0 lost and 0 double-charged at {load.jobs} concurrent: {lost} lost or unfinished, "
            f"{twice} charged twice, {load.answered}/{load.jobs} calls answered",
        ),
    ]
    for phase in phases:
        p95 = percentile([t - latency for t in phase.ttc()], 95)
        why = ""
        if phase.name == "concurrent":
            cores = os.cpu_count() or 1
            work = phase.cpu_per_job() * phase.jobs
            why = (
                f" ({phase.cpu_per_job():.2f} CPU s per job x {phase.jobs} jobs at once on "
                f"{cores} cores: {work / cores:.0f} s of work before the last one is done)"
            )
        lines.append(
            _goal(
                p95 < GOAL_OVERHEAD_S,
                f"overhead p95 under {GOAL_OVERHEAD_S:g} s (10 % of a 30 s render), "
                f"{phase.title}: {fmt(p95)}{why}",
            )
        )
    for phase in phases:
        n = max(1, len(phase.docs))
        firsts = first_time_successes(phase.docs)
        reads, writes = total(phase.counts, "reads") / n, total(phase.counts, "writes") / n
        scope = (
            "all first-time successes"
            if firsts == len(phase.docs)
            else (f"{firsts} of {len(phase.docs)} first-time successes: a mixed figure")
        )
        lines.append(
            _goal(
                writes <= GOAL_WRITES and reads <= GOAL_READS,
                f"at most {GOAL_WRITES} writes and {GOAL_READS} reads per job that "
                f"succeeds first time, {phase.title} ({scope}): {writes:.2f} writes, "
                f"{reads:.2f} reads",
            )
        )
    return lines


def _goal(met: bool, text: str) -> str:
    return f"{'met' if met else 'NOT met'}: {text}"


# ---------------------------------------------------------------------------------------------
# The run.


class Poller:
    """Waits for jobs by polling (its reads are not the functions' and are never counted)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def unfinished(self) -> int:
        """Jobs queued or processing, by one aggregation query (1 read)."""
        query = self.db.collection(JOBS).where(
            filter=FieldFilter("status", "in", ["queued", "processing"])
        )
        return int(query.count().get()[0][0].value)

    def status(self, job_id: str) -> str | None:
        snap = self.db.collection(JOBS).document(job_id).get()
        return str(snap.get("status")) if snap.exists else None

    def wait_all(self, timeout: float, health_check: Callable[[], object]) -> int:
        """Wait until no job is unfinished; every HEALTH_CHECK_S run ``health_check`` as the
        scheduler would. Returns how many health checks ran."""
        began = time.monotonic()
        shown = checked = began
        checks = 0
        while left := self.unfinished():
            now = time.monotonic()
            if now - began > timeout:
                break
            if now - shown >= 10.0:
                shown = now
                print(f"  {now - began:5.0f} s: {left} jobs not finished", flush=True)
            if now - checked >= HEALTH_CHECK_S:
                checked, checks = now, checks + 1
                print(f"  health check (the 1-minute schedule): {health_check()}", flush=True)
            time.sleep(1.0)
        return checks

    def wait_one(self, job_id: str, timeout: float, health_check: Callable[[], object]) -> int:
        began = checked = time.monotonic()
        checks = 0
        while self.status(job_id) not in TERMINAL:
            now = time.monotonic()
            if now - began > timeout:
                break
            if now - checked >= HEALTH_CHECK_S:
                checked, checks = now, checks + 1
                print(f"  health check (the 1-minute schedule): {health_check()}", flush=True)
            time.sleep(0.2)
        return checks

    def read_jobs(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The jobs, read after the phase's counts were taken (so never counted)."""
        refs = [self.db.collection(JOBS).document(i) for i in ids]
        return [snap.to_dict() for snap in self.db.get_all(refs) if snap.exists]

    def all_ids(self) -> set[str]:
        """Every job id in the collection (after the counts were taken: never counted)."""
        return {snap.id for snap in self.db.collection(JOBS).stream()}


def read_counts(folder: Path, *, settle: float = 1.0) -> Counts:
    """The function instances' Firestore usage (their files in ``folder``) once it has not
    changed for ``settle`` s, plus this process's (the health checks run here)."""
    from functions import runtime

    last: Counts | None = None
    stable_since = time.monotonic()
    while True:
        counts: Counts = {key: {} for key in USAGE_KEYS}
        for path in sorted(folder.glob("*.json")):
            try:
                usage = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):  # replaced while read: next round
                continue
            for key in USAGE_KEYS:
                counts[key]["functions"] = counts[key].get("functions", 0) + int(usage[key])
        for key in USAGE_KEYS:
            counts[key]["health checks"] = int(getattr(runtime.usage, key))
        if counts != last:
            last, stable_since = counts, time.monotonic()
        elif time.monotonic() - stable_since >= settle:
            return counts
        time.sleep(0.2)


def sim_charges(http: httpx.Client, sim: str) -> dict[str, int]:
    stats = http.get(f"{sim}/_control/stats").json()
    return {p: int(stats[p]["charges"]) for p in PROVIDERS}


def submit(
    http: httpx.Client, config: Any, token: str, phase: Phase, lock: threading.Lock
) -> str | None:
    """One generateVideo request as the web app sends it: a call that fails without an answer
    (transport error, 5xx) is retried with the same requestId, so it cannot make a second job."""
    from tools.stack.client import call

    request = {
        "requestId": f"load-{uuid.uuid4().hex}",
        "script": SCRIPT,
        "options": {"duration": "short"},
    }
    began, sent_at = time.monotonic(), time.time()
    for attempt in range(1, CALL_ATTEMPTS + 1):
        retry = True
        try:
            answer = call(http, config, "generateVideo", request, token)
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        else:
            if answer.status_code == 200:
                job_id = str(answer.json()["result"]["jobId"])
                with lock:
                    phase.call_s.append(time.monotonic() - began)
                    phase.answered += 1
                    phase.sent[job_id] = sent_at
                return job_id
            failure = f"HTTP {answer.status_code}"
            retry = answer.status_code >= 500  # a 4xx is a refusal: asking again changes nothing
        with lock:
            phase.failed_calls[failure] += 1
        if not retry or attempt == CALL_ATTEMPTS:
            break
        time.sleep(1.0)
    with lock:
        phase.refused += 1
    return None


def run_phase(
    phase: Phase,
    *,
    mode: str,  # "serial", "concurrent" or "paced" (at phase.rate calls per second)
    tokens: Sequence[str],
    config: Any,
    http: httpx.Client,
    poller: Poller,
    usage_dir: Path,
    sim: str,
    timeout: float,
    follow_up_s: float,
    health_check: Callable[[], object],
    cpu: Callable[[], dict[str, float]],
) -> None:
    lock = threading.Lock()
    known = poller.all_ids()  # jobs of earlier phases
    cpu_before = cpu()
    before, charged = read_counts(usage_dir), sim_charges(http, sim)
    ids: list[str] = []
    started = time.time()
    if mode in ("concurrent", "paced"):
        gate = threading.Barrier(phase.jobs)

        def one(index: int) -> str | None:
            gate.wait()
            if phase.rate:  # call number i goes at i / rate seconds
                time.sleep(max(0.0, started + index / phase.rate - time.time()))
            return submit(http, config, tokens[index % len(tokens)], phase, lock)

        pool = ThreadPoolExecutor(phase.jobs)
        try:
            ids = [i for i in pool.map(one, range(phase.jobs)) if i]
        finally:
            # On Ctrl-C do not wait for calls in flight: stopping the stack ends them.
            pool.shutdown(wait=False, cancel_futures=True)
        print(
            f"  {phase.answered} of {phase.jobs} calls answered in {time.time() - started:.1f} "
            "s; waiting for every job to finish",
            flush=True,
        )
        last_task_at = time.time() + follow_up_s
        phase.health_checks += poller.wait_all(timeout, health_check)
    else:
        assert mode == "serial", mode
        for index in range(phase.jobs):
            job_id = submit(http, config, tokens[index % len(tokens)], phase, lock)
            if job_id:
                ids.append(job_id)
                phase.health_checks += poller.wait_one(job_id, timeout, health_check)
        last_task_at = time.time() + follow_up_s
    # Each job's follow-up task (a status poll unless the job is finished by then) comes
    # WEBHOOK_WAIT_SECONDS after its submission; its read belongs to the job, so wait for it.
    time.sleep(max(0.0, last_task_at - time.time()))
    cpu_after = cpu()
    phase.cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    # The Cloud Tasks emulator dispatches due tasks one at a time: wait until the counts have
    # been still for a while, so the last follow-up tasks' reads are counted too.
    phase.counts = counts_delta(before, read_counts(usage_dir, settle=5.0))
    after = sim_charges(http, sim)
    phase.charges = {p: after[p] - charged[p] for p in PROVIDERS}
    phase.docs = poller.read_jobs(ids)
    phase.orphans = len(poller.all_ids() - known - set(ids))
    ended = max((float(d.get("updatedAt") or 0) for d in phase.docs), default=time.time())
    phase.wall_s = ended - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--jobs", type=int, default=200, help="concurrent generateVideo calls")
    ap.add_argument("--serial", type=int, default=10, help="jobs one at a time first")
    ap.add_argument("--paced-jobs", type=int, default=100, help="jobs at --rate last (0: none)")
    ap.add_argument("--rate", type=float, default=2.0, help="calls per second when paced")
    ap.add_argument("--users", type=int, default=5)
    ap.add_argument("--latency", type=float, default=1.0, help="simulated render seconds")
    ap.add_argument("--timeout", type=float, default=900.0, help="for the jobs of one phase")
    ap.add_argument("--webhook-wait", type=float, default=30.0, help="WEBHOOK_WAIT_SECONDS")
    ap.add_argument("--write", type=Path, help="replace the load section of this markdown file")
    args = ap.parse_args(argv)

    from tools.demo import run_health_check
    from tools.stack import Stack, sign_up
    from tools.stack._stack import REPO_ROOT
    from tools.stack.project import isolated_project

    (REPO_ROOT / "run").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-load-", dir=REPO_ROOT / "run"))
    usage_dir = work / "usage"
    # firebase-tools gives a new Python worker 30 s to answer its health check, then drops the
    # request it was started for without any answer. Dozens of cold starts at once on two cores
    # take longer than that, so give them WORKER_START_S.
    os.environ.setdefault("FUNCTIONS_DISCOVERY_TIMEOUT", str(WORKER_START_S))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    project = isolated_project(work / "project")
    print(f"load benchmark: starting an isolated stack (logs in {work / 'run'})", flush=True)
    began = time.monotonic()
    env = {
        "USER_JOBS_PER_HOUR": "10000",  # a few users ask for all the jobs
        # The emulator sometimes fails to start a worker for a webhook under load (the call is
        # lost); follow a render up by a status poll after this long instead of 3 typical
        # renders (6 minutes for HeyGen), so such a job finishes within the run.
        "WEBHOOK_WAIT_SECONDS": str(args.webhook_wait),
        USAGE_ENV: str(usage_dir),
    }
    with (
        Stack(project, run_dir=work / "run", functions_env=env) as stack,
        httpx.Client(
            timeout=300,
            trust_env=False,
            limits=httpx.Limits(
                max_connections=args.jobs + 10, max_keepalive_connections=args.jobs
            ),
        ) as http,
    ):
        started_s = time.monotonic() - began
        config = stack.config
        assert config.provider_sim is not None
        sim = config.provider_sim.url
        for provider in PROVIDERS:
            http.post(
                f"{sim}/_control/config", json={"provider": provider, "latency_s": args.latency}
            ).raise_for_status()
        # Enterprise accounts (100 videos an hour each): the benchmark measures the system, not
        # the free tier's limit of 10 an hour.
        tokens = [sign_up(http, config, {"tier": "enterprise"})[1] for _ in range(args.users)]
        os.environ["FIRESTORE_EMULATOR_HOST"] = config.firestore.address
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import firestore

        db = firestore.Client(project=config.project_id, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        poller = Poller(db)
        common: dict[str, Any] = {
            "tokens": tokens,
            "config": config,
            "http": http,
            "poller": poller,
            "usage_dir": usage_dir,
            "sim": sim,
            "timeout": args.timeout,
            "follow_up_s": args.webhook_wait + 3.0,
            "health_check": lambda: run_health_check(config, stack.functions_env),
            "cpu": lambda: stack_cpu_seconds(stack.records),
        }
        # Each function's first call starts its first Python worker (about 2 CPU s of imports
        # here); one job first, reported on its own, keeps that out of phase 1's percentiles.
        warm_up = Phase("serial", 1)
        print("warm-up: 1 job, reported apart (each function's first worker starts)", flush=True)
        run_phase(warm_up, mode="serial", **common)
        phases = [Phase("serial", args.serial), Phase("concurrent", args.jobs)]
        if args.paced_jobs:
            phases.append(Phase("paced", args.paced_jobs, rate=args.rate))
        for number, phase in enumerate(phases, 1):
            print(f"phase {number}: {phase.title}", flush=True)
            run_phase(phase, mode=phase.name, **common)
    body, goals = report(
        phases,
        warm_up=warm_up,
        latency=args.latency,
        users=args.users,
        started_s=started_s,
        webhook_wait=args.webhook_wait,
    )
    print(body)
    if args.write:
        from bench.report import write_section

        write_section(args.write, "load", body)
        print(f"wrote the load section of {args.write}")
    return 0 if goals and goals[0].startswith("met") else 1


if __name__ == "__main__":
    sys.exit(main())
