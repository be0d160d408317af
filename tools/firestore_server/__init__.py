"""A Firestore server on 127.0.0.1 for contract tests and the local stack, verified to isolate
transactions before anything is allowed to use it.

    with FirestoreServer() as server:      # sets nothing global
        os.environ["FIRESTORE_EMULATOR_HOST"] = server.host   # your choice, e.g. a fixture
    python -m tools.firestore_server [--port N]    # serve until Ctrl-C

Backends. Google's Cloud Firestore emulator when this machine has its JAR (firebase-tools'
FIRESTORE_EMULATOR_BINARY_PATH, or ~/.cache/firebase/emulators) and `java`; it runs the JAR
with the flags firebase-tools uses and waits for HTTP 200. That path cannot be exercised here
(no JAR can be downloaded on these machines) and is untested. Otherwise the npm package
`@firestore-emulator/server` (pinned in tools/package.json; `npm ci` runs if tools/node_modules
lacks it)
wrapped by `server.mjs`, which adds the transaction isolation the package lacks: a fresh id per
transaction, per-document write counters recorded on transactional reads (by key, query or
aggregation; a query's result set too, so phantom inserts and deletes abort), ABORTED on a
commit whose reads are stale, Rollback forgetting the transaction. It also honours
update-time preconditions, which the package ignores, and serves collection listeners
incrementally (the package re-sent a listener's whole collection after every write anywhere).

Self-check. Before `start()` returns, a child process (FIRESTORE_EMULATOR_HOST set only there)
forces two transactional increments of one document to interleave: one must be aborted and
retried, and the result must be exactly 2. Otherwise the server is stopped and
`IsolationMissingError` raised; the CLI exits 2 with the reason.

Limits of the npm server that matter to the stores (from LOCAL-STACK.md and its code):
- Field transforms on a nested field path fail with UNKNOWN "Something went wrong":
  `update({"buckets.b1.failures": Increment(1)})`, a nested SERVER_TIMESTAMP, or
  `set({"m": {"c": Increment(1)}}, merge=True)`. On top-level fields they work. Plain values
  at dotted paths work. Stores that count with Increment must keep counters top-level (e.g.
  `failures_<bucket>`) or one document per bucket.
- The package applies a commit's writes one by one. The wrapper checks every exists
  precondition (create(), update(), delete with precondition) before any write is applied, so a
  batch or transaction failing with AlreadyExists/NotFound changes nothing, as in Firestore.
  A commit failing for another reason (a transform the package cannot do) can still leave
  its earlier writes applied; the wrapper then treats all its documents as changed.
- Update-time preconditions (`Client.write_option(last_update_time=...)`) are checked by the
  wrapper. Update times have millisecond resolution, so a time that two commits to the
  document share fails the precondition (the caller falls back to a transaction).
- `DELETE_FIELD` is ignored (the field stays); `Maximum` and `ArrayUnion` on a missing field fail;
  `start_after`/`offset` are ignored (page with where + order_by + limit instead); `order_by`
  keeps docs lacking the field; `collection_group` misses subcollections.
- `list_documents()`, `collections()`, GetDocument, ListDocuments, BatchWrite (the client's
  BulkWriter) and PartitionQuery are not implemented; `document.get()` (BatchGetDocuments),
  batches and transactions (Commit), queries and `count()`/`sum()`/`avg()` are.
- Read-only transactions are never aborted (as in Firestore, they read one snapshot, but
  here that snapshot is not frozen: two reads may see a commit in between).
- No Firestore triggers; no security rules (every request is the Admin SDK); state lives in
  memory and is lost when the server stops; no read_time (point-in-time) reads.
- A document's update_time has millisecond resolution; isolation does not rely on it.
- Listeners: a query target on one collection gets only the documents that changed, as from
  Firestore; other targets (a document list, a collection group) keep the package's behaviour,
  the whole result again after every write.
"""

from tools.firestore_server._launcher import (
    FirestoreServer,
    FirestoreServerError,
    IsolationMissingError,
    Timings,
    ensure_node_modules,
    google_emulator_jar,
)
from tools.firestore_server._selfcheck import SelfCheckReport

__all__ = [
    "FirestoreServer",
    "FirestoreServerError",
    "IsolationMissingError",
    "SelfCheckReport",
    "Timings",
    "ensure_node_modules",
    "google_emulator_jar",
]
