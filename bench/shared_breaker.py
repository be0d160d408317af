"""Shared-breaker benchmark: N worker processes, each with its own Firestore client, store and
cache, send to one provider that starts failing; how fast does every worker stop?

    python -m bench.shared_breaker [--workers 8] [--seconds 12] [--fail-after 4] [--write FILE]

Each worker loops in wall-clock time: ask its cached breaker for admission; when allowed, "call"
the provider (it fails from ``--fail-after`` seconds on) and record the outcome. Figures: the
time from the circuit opening (its transition document) to each worker's last call, Firestore
writes per recorded outcome, outcomes lost (recorded by workers but missing from the buckets),
transaction retries, and errors that reached a caller.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core.breaker import Admission, BreakerPolicy, CircuitState, Outcome
from shared.core.errors import ErrorCategory

PROJECT = "demo-cvplus"
POLICY = BreakerPolicy(failure_threshold=5, recovery_timeout_s=600.0)
CALL_INTERVAL_S = 0.02  # each worker calls about 50 times a second while allowed


@dataclass(frozen=True, slots=True)
class WorkerReport:
    worker: int
    outcomes: int
    failures: int
    last_call: float
    rejected: int
    writes: int
    increments: int
    transactions: int
    attempts: int
    errors: int


def _worker(
    idx: int,
    host: str,
    provider: str,
    times: Any,  # a shared array: start, fail_at, end (set by the parent once all are ready)
    ready: Any,  # a shared semaphore each worker releases once connected
    out: mp.Queue[WorkerReport],
) -> None:
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    from shared.adapters.stores.breakers import SharedBreaker
    from shared.adapters.stores.firestore import FirestoreBreakerBackend, Usage

    usage = Usage()
    client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    backend = FirestoreBreakerBackend(client, usage)
    breaker = SharedBreaker(backend, policies={provider: POLICY})
    breaker.state(provider, now=time.time(), fresh=True)  # the first call opens the channel
    ready.release()
    while times[0] == 0.0:
        time.sleep(0.005)
    start, fail_at, end = times[0], times[1], times[2]
    outcomes = failures = rejected = errors = 0
    last_call = 0.0
    while time.time() < start:
        time.sleep(0.005)
    while (now := time.time()) < end:
        try:
            if breaker.admission(provider, now=now) is not Admission.ALLOW:
                rejected += 1
                time.sleep(CALL_INTERVAL_S)
                continue
            last_call = now
            ok = now < fail_at
            category = None if ok else ErrorCategory.PROVIDER_OVERLOAD
            breaker.record(
                provider, Outcome(success=ok, duration_s=0.05, category=category), now=now
            )
            outcomes += 1
            failures += not ok
        except Exception:
            errors += 1
        time.sleep(CALL_INTERVAL_S)
    client.close()  # type: ignore[no-untyped-call]
    out.put(
        WorkerReport(
            idx,
            outcomes,
            failures,
            last_call,
            rejected,
            usage.writes,
            backend.increments,
            usage.transactions,
            usage.attempts,
            errors,
        )
    )


def run(workers: int, seconds: float, fail_after: float) -> tuple[str, list[tuple[str, bool]]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    from shared.adapters.stores.breakers import SharedBreaker
    from shared.adapters.stores.firestore import FirestoreBreakerBackend
    from tools.emulators import FirestoreEmulator

    provider = f"bench-{uuid.uuid4().hex[:8]}"
    with FirestoreEmulator() as server:
        ctx = mp.get_context("spawn")
        out: mp.Queue[WorkerReport] = ctx.Queue()
        times = ctx.Array("d", 3, lock=False)
        ready = ctx.Semaphore(0)
        procs = [
            ctx.Process(target=_worker, args=(i, server.host, provider, times, ready, out))
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        for _ in procs:  # every worker imported, connected and read the state once
            if not ready.acquire(timeout=120):
                raise RuntimeError("a worker did not get ready in 120 s")
        start = time.time() + 0.2
        fail_at, end = start + fail_after, start + seconds
        times[1], times[2] = fail_at, end
        times[0] = start  # last: the workers start when they see it
        reports = sorted((out.get(timeout=seconds + 60) for _ in procs), key=lambda r: r.worker)
        for p in procs:
            p.join(timeout=10)
        os.environ["FIRESTORE_EMULATOR_HOST"] = server.host
        client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
        reader = SharedBreaker(FirestoreBreakerBackend(client), policies={provider: POLICY})
        opened = [
            t
            for t in reader.transitions(since=start - 1, limit=100)
            if t.provider_id == provider and t.to_state is CircuitState.OPEN
        ]
        counted = reader.window(provider, now=end + 1)
        client.close()  # type: ignore[no-untyped-call]
    recorded = sum(r.outcomes for r in reports)
    recorded_failures = sum(r.failures for r in reports)
    writes = sum(r.writes for r in reports)
    increments = sum(r.increments for r in reports)
    retries = sum(r.attempts - r.transactions for r in reports)
    transactions = sum(r.transactions for r in reports)
    errors = sum(r.errors for r in reports)
    open_at = min(t.at for t in opened) if opened else None
    stops = [r.last_call - open_at for r in reports] if open_at is not None else []
    detect = open_at - fail_at if open_at is not None else None
    slowest = max(stops) if stops else None
    per_outcome = increments / recorded
    lines = [
        f"{workers} worker processes, each its own client, store and 2 s state cache; "
        f"the provider fails from {fail_after:g} s on; run {seconds:g} s.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| circuit opened after the first failure | {_s(detect)} |",
        f"| last call of the slowest worker after the opening | {_s(slowest)} |",
        f"| per worker, last call after the opening | "
        f"{', '.join(f'{s:.2f}' for s in stops) or '-'} s |",
        f"| outcomes recorded by workers (failures) | {recorded} ({recorded_failures}) |",
        f"| outcomes counted in Firestore (failures) | {counted.calls} ({counted.failures}) |",
        f"| lost outcome counts | {recorded - counted.calls} |",
        f"| Firestore writes per recorded outcome | {per_outcome:.3f} ({increments} increments) |",
        f"| other writes (state and log of {len(opened)} transition) | {writes - increments} |",
        f"| transactions / retries | {transactions} / {retries} |",
        f"| errors that reached a caller | {errors} |",
    ]
    checks = [
        (
            f"every worker stopped within 2 s of the opening (slowest {_s(slowest)})",
            slowest is not None and slowest <= 2.0,
        ),
        (f"0 lost outcome counts ({recorded - counted.calls})", recorded == counted.calls),
        (f"at most 1 write per outcome ({per_outcome:.3f})", per_outcome <= 1.0),
        (f"no transaction error reached a caller ({errors})", errors == 0),
    ]
    return "\n".join(lines), checks


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--fail-after", type=float, default=4.0)
    ap.add_argument("--write", type=Path, help="replace the shared-breaker section of this file")
    args = ap.parse_args(argv)
    table, checks = run(args.workers, args.seconds, args.fail_after)
    body = "\n".join([table, "", *(f"- [{'ok' if ok else 'MISSED'}] {t}" for t, ok in checks)])
    print(body)
    if args.write:
        from bench.report import write_section

        write_section(args.write, "shared-breaker", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
