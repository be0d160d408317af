"""Proof that a Firestore server isolates transactions: two contending increments, one retried.

Runs in a child process (``python -m tools.firestore_server._selfcheck``) with
FIRESTORE_EMULATOR_HOST set only there, so the launcher changes nothing global in its caller.
Prints one JSON line (a `SelfCheckReport`) and exits 0 when the server passed.

The interleaving is forced, not hoped for: the slow transaction reads the counter, waits while
a rival transaction increments it and commits, then writes its stale value + 1. A server with
isolation must abort that commit (the client retries) and end at exactly 2; a server without
it ends at 1 after a single attempt.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass

# How long the rival may take; Google's emulator locks pessimistically and may make it wait
# for the slow transaction instead of letting it commit first.
RIVAL_GRACE_SECONDS = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfCheckReport:
    final: int
    slow_attempts: int
    rival_attempts: int
    seconds: float

    @property
    def retries(self) -> int:
        return self.slow_attempts + self.rival_attempts - 2

    def verdict(self, *, require_abort: bool) -> str | None:
        """Why the server fails the check, or None when it passes."""
        if self.final != 2:
            return (
                f"two contending transactional increments ended at {self.final}, not 2: "
                "the server loses concurrent updates (no transaction isolation)"
            )
        if require_abort and self.retries == 0:
            return (
                "a transaction committed a value read before a rival's commit and was not "
                "aborted (no transaction isolation)"
            )
        return None


def run(project: str) -> SelfCheckReport:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    started = time.perf_counter()
    client = firestore.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    ref = client.collection("_cvplus_selfcheck").document(uuid.uuid4().hex)
    ref.set({"n": 0})
    slow_read = threading.Event()
    rival_done = threading.Event()
    attempts = {"slow": 0, "rival": 0}

    @firestore.transactional
    def slow(transaction: firestore.Transaction) -> None:
        attempts["slow"] += 1
        n = ref.get(transaction=transaction).get("n")
        if attempts["slow"] == 1:
            slow_read.set()
            rival_done.wait(RIVAL_GRACE_SECONDS)
        transaction.update(ref, {"n": n + 1})

    @firestore.transactional
    def rival(transaction: firestore.Transaction) -> None:
        attempts["rival"] += 1
        n = ref.get(transaction=transaction).get("n")
        transaction.update(ref, {"n": n + 1})

    errors: list[BaseException] = []

    def run_slow() -> None:
        try:
            slow(client.transaction(max_attempts=5))
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    def run_rival() -> None:
        try:
            rival(client.transaction(max_attempts=5))
        except BaseException as exc:
            errors.append(exc)
        finally:
            rival_done.set()

    slow_thread = threading.Thread(target=run_slow)
    slow_thread.start()
    if not slow_read.wait(30):
        raise TimeoutError("the slow transaction never read the document")
    rival_thread = threading.Thread(target=run_rival)
    rival_thread.start()
    slow_thread.join(60)
    rival_thread.join(60)
    if slow_thread.is_alive() or rival_thread.is_alive():
        raise TimeoutError("contending transactions did not finish within 60 s")
    if errors:
        raise errors[0]
    final = ref.get().get("n")
    ref.delete()
    return SelfCheckReport(
        final=final,
        slow_attempts=attempts["slow"],
        rival_attempts=attempts["rival"],
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str]) -> int:
    project = argv[1] if len(argv) > 1 else "demo-cvplus-selfcheck"
    report = run(project)
    print(json.dumps(asdict(report)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
