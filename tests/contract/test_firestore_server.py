"""The local Firestore server keeps concurrent transactions correct and does what the stores need.

Every isolation test also runs against the npm server without our wrapper ("raw") and asserts
the lost update there, so none of them can pass against a server that does not isolate.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.services.firestore import FirestoreClient
from google.cloud.firestore_v1.services.firestore.transports import FirestoreGrpcTransport

from tests.contract.conftest import PROJECT, CollectionFactory
from tools.firestore_server import FirestoreServer, IsolationMissingError
from tools.firestore_server._launcher import REPO_ROOT

pytestmark = pytest.mark.firestore

THREADS = 8
INCREMENTS_PER_THREAD = 50
# Optimistic transactions under 8-way contention retry often; the client's default is 5.
MAX_ATTEMPTS = 1000


def _client_for(host: str) -> firestore.Client:
    # The client reads FIRESTORE_EMULATOR_HOST once, when it is built.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", host)
        return firestore.Client(project=PROJECT, credentials=AnonymousCredentials())


@pytest.fixture(scope="module")
def raw_server() -> Iterator[FirestoreServer]:
    """The npm server without the isolation wrapper and without the self-check."""
    with FirestoreServer(backend="npm", isolation=False, verify_isolation=False) as server:
        yield server


@dataclass(frozen=True, slots=True)
class Target:
    client: firestore.Client
    collection: CollectionFactory
    isolated: bool


@pytest.fixture(params=["isolated", "raw"])
def target(
    request: pytest.FixtureRequest,
    firestore_server: FirestoreServer,
    firestore_client: firestore.Client,
    collection: CollectionFactory,
) -> Iterator[Target]:
    """The verified server, and the same package without isolation (whose state is discarded)."""
    if request.param == "isolated":
        if firestore_server.backend != "npm":
            pytest.skip("forces interleavings that lock-based Google emulator would serialise")
        yield Target(firestore_client, collection, isolated=True)
        return
    raw = request.getfixturevalue("raw_server")
    client = _client_for(raw.host)

    def unique(name: str) -> firestore.CollectionReference:
        return client.collection(f"{name}-{uuid.uuid4().hex[:8]}")

    yield Target(client, unique, isolated=False)
    client.close()


def _hammer(client: firestore.Client, ref: firestore.DocumentReference) -> int:
    """THREADS x INCREMENTS_PER_THREAD transactional increments of ref; returns the attempts."""
    ref.set({"n": 0})
    attempts = 0
    lock = threading.Lock()

    @firestore.transactional
    def increment(transaction: firestore.Transaction) -> None:
        nonlocal attempts
        with lock:
            attempts += 1
        n = ref.get(transaction=transaction).get("n")
        transaction.update(ref, {"n": n + 1})

    def work() -> None:
        for _ in range(INCREMENTS_PER_THREAD):
            increment(client.transaction(max_attempts=MAX_ATTEMPTS))

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work) for _ in range(THREADS)]:
            future.result()
    return attempts


def test_eight_threads_of_fifty_increments_end_at_exactly_400_after_retries(
    firestore_client: firestore.Client, collection: CollectionFactory
) -> None:
    """Concurrent read-modify-write transactions lose nothing; the server made some retry."""
    ref = collection("counters").document("shared")
    started = time.perf_counter()
    attempts = _hammer(firestore_client, ref)
    elapsed = time.perf_counter() - started
    total = THREADS * INCREMENTS_PER_THREAD
    print(f"\n{THREADS}x{INCREMENTS_PER_THREAD}: {elapsed:.2f} s, retries {attempts - total}")
    assert ref.get().get("n") == total
    assert attempts > total


def test_without_isolation_the_same_workload_loses_updates(raw_server: FirestoreServer) -> None:
    """The 8x50 test above fails on the package alone: no aborts, and updates are lost."""
    client = _client_for(raw_server.host)
    ref = client.collection(f"counters-{uuid.uuid4().hex[:8]}").document("shared")
    attempts = _hammer(client, ref)
    total = THREADS * INCREMENTS_PER_THREAD
    assert attempts == total
    assert ref.get().get("n") < total
    client.close()


def test_self_check_refuses_a_server_without_isolation_and_stops_it() -> None:
    """start() raises instead of serving the unwrapped package, and its process is gone."""
    server = FirestoreServer(backend="npm", isolation=False)
    with pytest.raises(IsolationMissingError, match="refusing to serve"):
        server.start()
    assert server.pid is not None
    assert not server.running
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_command_line_exits_non_zero_when_isolation_is_missing() -> None:
    """`python -m tools.firestore_server --no-isolation` says why and exits 2."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.firestore_server", "--no-isolation", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "refusing to serve" in done.stderr
    assert "no transaction isolation" in done.stderr


def _with_rival_between(
    client: firestore.Client,
    read: Callable[[firestore.Transaction], Any],
    write: Callable[[firestore.Transaction, Any], None],
    rival: Callable[[], None],
) -> int:
    """One transaction: read, then (first attempt only) a rival commits, then write.

    Returns the attempts it took: 2 when the server aborted the stale commit, 1 when not.
    """
    attempts = 0

    @firestore.transactional
    def body(transaction: firestore.Transaction) -> None:
        nonlocal attempts
        attempts += 1
        seen = read(transaction)
        if attempts == 1:
            rival()
        write(transaction, seen)

    body(client.transaction(max_attempts=5))
    return attempts


def test_a_write_by_another_client_between_read_and_commit_aborts_the_transaction(
    target: Target,
) -> None:
    """A plain (non-transactional) update also invalidates a transaction's read."""
    ref = target.collection("counters").document("c")
    ref.set({"n": 10})
    attempts = _with_rival_between(
        target.client,
        read=lambda tx: ref.get(transaction=tx).get("n"),
        write=lambda tx, n: tx.update(ref, {"n": n + 1}),
        rival=lambda: ref.update({"n": 20}),
    )
    if target.isolated:
        assert (attempts, ref.get().get("n")) == (2, 21)
    else:
        assert (attempts, ref.get().get("n")) == (1, 11)


def test_creating_a_document_read_as_missing_aborts_the_transaction(target: Target) -> None:
    """Create-if-absent in a transaction does not overwrite a document created meanwhile."""
    ref = target.collection("leases").document("job-1")

    def claim_if_free(tx: firestore.Transaction, snapshot: Any) -> None:
        if not snapshot.exists:
            tx.set(ref, {"owner": "slow"})

    attempts = _with_rival_between(
        target.client,
        read=lambda tx: ref.get(transaction=tx),
        write=claim_if_free,
        rival=lambda: ref.create({"owner": "rival"}),
    )
    owner = ref.get().get("owner")
    assert (attempts, owner) == ((2, "rival") if target.isolated else (1, "slow"))


def test_deleting_a_document_read_in_a_transaction_aborts_it(target: Target) -> None:
    """A transaction that read a document does not resurrect it after a delete."""
    ref = target.collection("jobs").document("job-1")
    ref.set({"status": "queued"})

    def advance_if_present(tx: firestore.Transaction, snapshot: Any) -> None:
        if snapshot.exists:
            tx.set(ref, {"status": "processing"})

    attempts = _with_rival_between(
        target.client,
        read=lambda tx: ref.get(transaction=tx),
        write=advance_if_present,
        rival=ref.delete,
    )
    exists = ref.get().exists
    assert (attempts, exists) == ((2, False) if target.isolated else (1, True))


def test_a_query_read_in_a_transaction_isolates_the_documents_it_returned(
    target: Target,
) -> None:
    """Claiming the oldest queued job by query: a job claimed meanwhile is not claimed twice."""
    jobs = target.collection("jobs")
    for i in range(3):
        jobs.document(f"job-{i}").set({"status": "queued", "queuedAt": i, "owner": None})
    oldest_queued = (
        jobs.where(filter=FieldFilter("status", "==", "queued")).order_by("queuedAt").limit(1)
    )

    def claim(tx: firestore.Transaction, found: list[Any]) -> None:
        tx.update(found[0].reference, {"status": "processing", "owner": "slow"})

    attempts = _with_rival_between(
        target.client,
        read=lambda tx: list(tx.get(oldest_queued)),
        write=claim,
        rival=lambda: jobs.document("job-0").update({"status": "processing", "owner": "rival"}),
    )
    owners = {doc.id: doc.get("owner") for doc in jobs.stream()}
    if target.isolated:
        assert attempts == 2
        assert owners == {"job-0": "rival", "job-1": "slow", "job-2": None}
    else:
        assert attempts == 1
        assert owners == {"job-0": "slow", "job-1": None, "job-2": None}


def test_a_change_to_a_queried_document_that_keeps_it_matching_aborts_the_transaction(
    target: Target,
) -> None:
    """Documents returned by a query are isolated by version, not only by the result set."""
    jobs = target.collection("jobs")
    jobs.document("job-0").set({"status": "queued", "attempt": 0})
    queued = jobs.where(filter=FieldFilter("status", "==", "queued"))

    def bump(tx: firestore.Transaction, found: list[Any]) -> None:
        tx.update(found[0].reference, {"attempt": found[0].get("attempt") + 1})

    attempts = _with_rival_between(
        target.client,
        read=lambda tx: list(tx.get(queued)),
        write=bump,
        rival=lambda: jobs.document("job-0").update({"attempt": 5}),
    )
    attempt = jobs.document("job-0").get().get("attempt")
    assert (attempts, attempt) == ((2, 6) if target.isolated else (1, 1))


@pytest.mark.parametrize("read_by", ["count", "query"])
def test_a_document_inserted_into_a_queried_range_aborts_the_transaction(
    target: Target, read_by: str
) -> None:
    """Half-open permits: a probe admitted meanwhile (a phantom) cannot push the count past 3."""
    probes = target.collection("probes")
    for i in range(2):
        probes.document(f"p{i}").set({"state": "admitted"})
    admitted = probes.where(filter=FieldFilter("state", "==", "admitted"))

    def count(tx: firestore.Transaction) -> int:
        if read_by == "count":
            return int(admitted.count().get(transaction=tx)[0][0].value)
        return len(list(tx.get(admitted)))

    def admit_if_room(tx: firestore.Transaction, seen: int) -> None:
        if seen < 3:
            tx.set(probes.document("slow"), {"state": "admitted"})

    attempts = _with_rival_between(
        target.client,
        read=count,
        write=admit_if_room,
        rival=lambda: probes.document("rival").set({"state": "admitted"}),
    )
    total = len(list(admitted.stream()))
    assert (attempts, total) == ((2, 3) if target.isolated else (1, 4))


def _gapic(host: str) -> FirestoreClient:
    return FirestoreClient(transport=FirestoreGrpcTransport(channel=grpc.insecure_channel(host)))


DATABASE = f"projects/{PROJECT}/databases/(default)"


def test_each_transaction_gets_its_own_id_and_ends_with_commit_or_rollback(
    firestore_server: FirestoreServer,
) -> None:
    """Distinct ids; a committed or rolled-back transaction cannot be committed again."""
    if firestore_server.backend != "npm":
        pytest.skip("checks the npm server's wrapper")
    api = _gapic(firestore_server.host)
    first, second, third = (
        api.begin_transaction(request={"database": DATABASE}).transaction for _ in range(3)
    )
    assert len({first, second, third}) == 3
    api.commit(request={"database": DATABASE, "transaction": first, "writes": []})
    api.rollback(request={"database": DATABASE, "transaction": second})
    for finished in (first, second):
        with pytest.raises(exceptions.InvalidArgument, match="not active"):
            api.commit(request={"database": DATABASE, "transaction": finished, "writes": []})
    api.rollback(request={"database": DATABASE, "transaction": third})


def test_create_on_an_existing_document_raises_already_exists(
    collection: CollectionFactory,
) -> None:
    """create() is the idempotency guard for job ids: a second create fails."""
    ref = collection("jobs").document("job-1")
    ref.create({"status": "queued"})
    with pytest.raises(exceptions.AlreadyExists):
        ref.create({"status": "processing"})
    assert ref.get().get("status") == "queued"


def test_update_on_a_missing_document_raises_not_found(collection: CollectionFactory) -> None:
    """update() never creates a document."""
    ref = collection("jobs").document("missing")
    with pytest.raises(exceptions.NotFound):
        ref.update({"status": "processing"})
    assert not ref.get().exists


def test_increment_adds_to_existing_and_missing_top_level_fields(
    collection: CollectionFactory,
) -> None:
    """Outcome counters rely on Increment, also on a field not yet present."""
    ref = collection("circuit_breaker_states").document("heygen")
    ref.set({"failures_b1": 1})
    ref.update({"failures_b1": firestore.Increment(2)})
    ref.update({"successes_b1": firestore.Increment(1)})
    ref.update({"failures_b1": firestore.Increment(1), "latency_b1": firestore.Increment(0.5)})
    assert ref.get().to_dict() == {"failures_b1": 4, "successes_b1": 1, "latency_b1": 0.5}


def test_increment_on_a_nested_field_fails_on_the_npm_server(
    firestore_server: FirestoreServer, collection: CollectionFactory
) -> None:
    """Known limit (documented in tools.firestore_server): transforms at dotted paths fail."""
    if firestore_server.backend != "npm":
        pytest.skip("a limit of the npm server only")
    ref = collection("circuit_breaker_states").document("heygen")
    ref.set({"buckets": {"b1": {"failures": 1}}})
    with pytest.raises(exceptions.Unknown):
        ref.update({"buckets.b1.failures": firestore.Increment(1)})
    assert ref.get().get("buckets") == {"b1": {"failures": 1}}


def test_a_batch_failing_a_create_precondition_writes_nothing(target: Target) -> None:
    """All or nothing: the write before a failing create() is not applied either."""
    jobs = target.collection("jobs")
    jobs.document("existing").set({"status": "queued"})
    batch = target.client.batch()
    batch.set(jobs.document("first"), {"status": "queued"})
    batch.update(jobs.document("existing"), {"status": "processing"})
    batch.create(jobs.document("existing"), {"status": "queued"})
    with pytest.raises(exceptions.AlreadyExists):
        batch.commit()
    first_written = jobs.document("first").get().exists
    status = jobs.document("existing").get().get("status")
    assert (first_written, status) == (
        (False, "queued") if target.isolated else (True, "processing")
    )


def test_a_batch_applies_set_update_and_delete_together(
    firestore_client: firestore.Client, collection: CollectionFactory
) -> None:
    """A batch of writes to several documents lands as one commit."""
    jobs = collection("jobs")
    jobs.document("gone").set({"status": "failed"})
    jobs.document("kept").set({"status": "queued"})
    batch = firestore_client.batch()
    batch.set(jobs.document("new"), {"status": "queued"})
    batch.update(jobs.document("kept"), {"status": "processing"})
    batch.delete(jobs.document("gone"))
    results = batch.commit()
    assert len(results) == 3
    statuses = {doc.id: doc.get("status") for doc in jobs.stream()}
    assert statuses == {"new": "queued", "kept": "processing"}


def test_where_order_by_limit_returns_the_matching_documents_in_order(
    collection: CollectionFactory,
) -> None:
    """The metrics and job queries: equality filter, ordered, limited."""
    metrics = collection("provider_metrics")
    rows = [("heygen", 5), ("runway", 1), ("heygen", 3), ("heygen", 9), ("heygen", 1)]
    for i, (provider, at) in enumerate(rows):
        metrics.document(f"m{i}").set({"providerId": provider, "at": at})
    query = (
        metrics.where(filter=FieldFilter("providerId", "==", "heygen"))
        .order_by("at", direction=firestore.Query.DESCENDING)
        .limit(3)
    )
    assert [doc.id for doc in query.stream()] == ["m3", "m0", "m2"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_requested_port_is_served_on_loopback() -> None:
    """--port N is honoured and the address is 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FirestoreServer(backend="npm", port=port, verify_isolation=False) as server:
        assert server.host == f"127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_the_node_server_exits_when_its_launcher_is_killed() -> None:
    """No orphan: a launcher killed with SIGKILL still takes its server down (stdin closes)."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "tools.firestore_server", "--quiet"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert launcher.stdout is not None
    with launcher.stdout:
        line = launcher.stdout.readline()
    server_pid = int(re.search(r"pid=(\d+)", line)[1])  # type: ignore[index]
    assert _alive(server_pid)
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 10
    while _alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(server_pid):
        os.killpg(server_pid, signal.SIGKILL)  # do not leave it behind when failing
        pytest.fail("the server outlived its launcher")


def _listen(host: str, collection_id: str, seconds: float = 30.0) -> tuple[Any, threading.Event]:
    """A raw Listen stream on one collection (what on_snapshot opens) and the event ending it."""
    from google.cloud.firestore_v1.types import firestore as api
    from google.cloud.firestore_v1.types import query as query_types

    database = f"projects/{PROJECT}/databases/(default)"
    request = api.ListenRequest(
        database=database,
        add_target=api.Target(
            target_id=1,
            query=api.Target.QueryTarget(
                parent=f"{database}/documents",
                structured_query=query_types.StructuredQuery(
                    from_=[
                        query_types.StructuredQuery.CollectionSelector(collection_id=collection_id)
                    ]
                ),
            ),
        ),
    )
    done = threading.Event()

    def requests() -> Iterator[Any]:
        yield request
        done.wait(seconds)  # the stream stays open until the test is done with it

    client = FirestoreClient(transport=FirestoreGrpcTransport(channel=grpc.insecure_channel(host)))
    return client.listen(requests=requests(), timeout=seconds), done


def _until_caught_up(responses: Any, bursts: int = 1) -> list[Any]:
    """Responses up to and including the ``bursts``-th global NO_CHANGE (target_ids empty)."""
    seen: list[Any] = []
    for response in responses:
        seen.append(response)
        change = response.target_change
        if "target_change" in response and change.target_change_type == 0 and not change.target_ids:
            bursts -= 1
            if bursts == 0:
                return seen
    raise AssertionError(f"the stream ended after {len(seen)} responses")


def _kinds(responses: list[Any]) -> list[tuple[str, str]]:
    """(message kind, document id) for each document message, in order."""
    out = []
    for response in responses:
        kind = type(response).pb(response).WhichOneof("response_type")
        if kind == "document_change":
            out.append((kind, response.document_change.document.name.rsplit("/", 1)[1]))
        elif kind in ("document_delete", "document_remove"):
            out.append((kind, getattr(response, kind).document.rsplit("/", 1)[1]))
    return out


def test_a_collection_listener_is_sent_only_the_documents_that_changed(
    firestore_server: FirestoreServer, collection: CollectionFactory
) -> None:
    """50 documents watched, then writes elsewhere, one update and one delete: the stream
    carries the 50 once, nothing for the other collection, then exactly the two changes. (The
    npm package alone re-sends the whole collection after a RESET on every write anywhere.)"""
    watched, other = collection("watched"), collection("other")
    for i in range(50):
        watched.document(f"d{i}").set({"n": i})
    responses, done = _listen(firestore_server.host, watched.id)
    try:
        initial = _until_caught_up(responses)
        assert sorted(_kinds(initial)) == sorted(("document_change", f"d{i}") for i in range(50))
        for i in range(5):
            other.document(f"o{i}").set({"n": i})
        watched.document("d7").update({"n": 700})
        watched.document("d8").delete()
        later = _until_caught_up(responses, bursts=2)
    finally:
        done.set()
        responses.cancel()
    assert _kinds(later) == [("document_change", "d7"), ("document_delete", "d8")]
    assert not any(r.target_change.target_change_type == 4 for r in later)  # no RESET


def test_on_snapshot_sees_documents_enter_and_leave_a_filtered_query(
    firestore_client: firestore.Client, collection: CollectionFactory
) -> None:
    jobs = collection("jobs")
    events: list[tuple[str, str]] = []
    arrived = threading.Condition()

    def on_snapshot(_docs: Any, changes: list[Any], _read_time: Any) -> None:
        with arrived:
            events.extend((c.type.name, c.document.id) for c in changes)
            arrived.notify_all()

    def wait_for(count: int) -> list[tuple[str, str]]:
        with arrived:
            assert arrived.wait_for(lambda: len(events) >= count, timeout=10), events
            return list(events)

    watch = jobs.where(filter=FieldFilter("status", "==", "queued")).on_snapshot(on_snapshot)
    try:
        jobs.document("a").set({"status": "queued"})
        wait_for(1)
        jobs.document("a").update({"status": "processing"})  # leaves the query, still exists
        wait_for(2)
        jobs.document("b").set({"status": "processing"})  # never matches: no event
        jobs.document("b").update({"status": "queued"})
        wait_for(3)
        jobs.document("b").delete()
        final = wait_for(4)
    finally:
        watch.unsubscribe()
    assert final == [("ADDED", "a"), ("REMOVED", "a"), ("ADDED", "b"), ("REMOVED", "b")]


def test_an_update_time_precondition_passes_only_on_the_version_it_names(
    firestore_server: FirestoreServer,
    firestore_client: firestore.Client,
    collection: CollectionFactory,
) -> None:
    """Writes conditional on the update time: the current one passes, an older one fails and
    its whole batch writes nothing. On the npm server (millisecond times), a time two commits
    share fails too: it no longer says which version the caller saw."""
    docs = collection("versions")
    ref, side = docs.document("job"), docs.document("side")
    first = ref.set({"n": 1}).update_time
    second = ref.update({"n": 2}, option=firestore_client.write_option(last_update_time=first))
    stale = firestore_client.batch()
    stale.update(ref, {"n": 3}, option=firestore_client.write_option(last_update_time=first))
    stale.set(side, {"written": True})
    with pytest.raises(exceptions.FailedPrecondition):
        stale.commit()
    assert ref.get().get("n") == 2
    assert not side.get().exists
    ref.update({"n": 4}, option=firestore_client.write_option(last_update_time=second.update_time))
    assert ref.get().get("n") == 4

    if firestore_server.backend != "npm":
        return
    barrier = threading.Barrier(2)

    def write(n: int) -> Any:
        barrier.wait()
        return ref.set({"n": n}).update_time

    with ThreadPoolExecutor(2) as pool:
        for _ in range(200):  # two commits sent together usually share a millisecond
            times = set(pool.map(write, range(2)))
            if len(times) == 1:
                shared = times.pop()
                break
        else:
            pytest.skip("no two commits landed in one millisecond")
    with pytest.raises(exceptions.FailedPrecondition):
        ref.update({"n": -1}, option=firestore_client.write_option(last_update_time=shared))
