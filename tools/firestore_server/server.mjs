// Loopback Firestore server for tests and the local stack: the npm package
// @firestore-emulator/server plus the transaction isolation it lacks.
//
// The package hands every transaction the same id and never aborts, so concurrent
// read-modify-write transactions silently lose updates. We keep its service
// implementation and wrap six handlers in-process (no proxy hop):
//   BeginTransaction            -> a fresh id per transaction
//   BatchGetDocuments/RunQuery/RunAggregationQuery with a transaction (or newTransaction)
//                               -> record the version of every document read, and each
//                                  query's result set
//   Commit                      -> ABORTED if any document read has been written since
//                                  (created, updated, deleted) or a query read in the
//                                  transaction would now return other documents
//   Rollback                    -> forget the transaction
// Commit also checks every create()/update()/delete precondition, and update_time
// preconditions (which the package ignores), before the package applies any write, so a batch
// or transaction failing with ALREADY_EXISTS/NOT_FOUND/FAILED_PRECONDITION changes nothing
// (the package alone would keep the writes before the failing one).
// "Version" is our own per-document write counter, bumped by every Commit (the only write
// path the package implements): update times have millisecond resolution, so two writes
// in one millisecond would look unchanged.
//
// Atomicity: Node runs one handler at a time, and the package's Commit writes and answers
// synchronously, so check-then-write in one synchronous call cannot interleave with another
// commit or read. We assert that the callback really ran synchronously and fail loudly if a
// future package version changes that.
//
// Listen: the package answers every write anywhere (any collection) by re-running every
// listening query and re-sending its whole result after a RESET, so a listener on a collection of
// n documents is sent n documents per write; the event bridge watching 200 jobs drove the server
// past 11 GB. Query targets on one collection are served here as Firestore serves them: the
// initial result, then, after each burst of writes to that collection, only the documents whose
// membership or content changed (document_change / document_remove / document_delete) and one
// global NO_CHANGE with the read time. Other targets keep the package's behaviour.
//
// Usage counting (optional, for bench/load.py): with CVPLUS_FIRESTORE_COUNTS=<file> set, the
// server keeps billing-style counts per RPC method and per collection path -- documents read
// (BatchGetDocuments: each document asked for; RunQuery: each document returned, at least 1;
// RunAggregationQuery: 1), writes (each Write of a Commit, applied or not) -- and rewrites the
// file as JSON at most every 200 ms. Listen (on_snapshot watchers) is counted as calls only.
//
// Usage: node server.mjs [--port N] [--no-isolation] [--exit-with-stdin]
//   --port 0 (default) lets the OS pick a free port; the readiness line says which:
//   "CVPLUS_FIRESTORE_READY 127.0.0.1:PORT isolation=on|off"

import { randomBytes } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

import { FirestoreServer } from "@firestore-emulator/server";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";

const { ListenResponse, TargetChangeTargetChangeType } = createRequire(import.meta.url)(
  "@firestore-emulator/proto/dist/google/firestore/v1/firestore",
);

const HOST = "127.0.0.1";
// Transactions that are never committed or rolled back (a killed client) are forgotten
// oldest-first beyond this many; committing a forgotten one answers INVALID_ARGUMENT.
const MAX_OPEN_TRANSACTIONS = 10_000;

// The package builds its service object inside FirestoreServer's constructor and does not
// export the class, so we catch it on the way into grpc-js's public addService() and then
// serve it from our own Server (bound to loopback, unlike the package's start()).
function capturePackageService() {
  const addService = Server.prototype.addService;
  let captured = null;
  Server.prototype.addService = function capture(definition, implementation) {
    captured = { definition, implementation };
    return addService.call(this, definition, implementation);
  };
  let emulator;
  try {
    emulator = new FirestoreServer();
  } finally {
    Server.prototype.addService = addService;
  }
  if (captured === null) {
    throw new Error(
      "could not capture the Firestore service of @firestore-emulator/server " +
        "(is @grpc/grpc-js deduplicated to one copy? see package-lock.json)",
    );
  }
  return { state: emulator.state, ...captured };
}

function grpcError(code, message) {
  return Object.assign(new Error(message), { code, details: message });
}

const keyOf = (transactionId) => Buffer.from(transactionId).toString("hex");

class TransactionIsolation {
  #state;
  #versions = new Map(); // document name -> number of commits that wrote it
  #stamps = new Map(); // document name -> { ms: its update time, commits: how many wrote it }
  #open = new Map(); // transaction key -> { readOnly, reads: Map<name, version>, queries }
  stats = { begun: 0, committed: 0, aborted: 0, rolledBack: 0 };

  constructor(state) {
    this.#state = state;
  }

  #version(name) {
    return this.#versions.get(name) ?? 0;
  }

  begin(options) {
    const id = randomBytes(16);
    this.#open.set(keyOf(id), {
      readOnly: Boolean(options?.has_read_only),
      reads: new Map(),
      queries: [],
    });
    if (this.#open.size > MAX_OPEN_TRANSACTIONS) {
      this.#open.delete(this.#open.keys().next().value);
    }
    this.stats.begun += 1;
    return id;
  }

  // The transaction a read belongs to, beginning one for newTransaction. null: not transactional.
  forRead(request) {
    switch (request.consistency_selector) {
      case "new_transaction": {
        const id = this.begin(request.new_transaction);
        return { id, created: true, entry: this.#open.get(keyOf(id)) };
      }
      case "transaction": {
        const entry = this.#open.get(keyOf(request.transaction));
        if (entry === undefined) {
          throw grpcError(
            status.INVALID_ARGUMENT,
            "transaction is not active (committed, rolled back, aborted or expired)",
          );
        }
        return { id: request.transaction, created: false, entry };
      }
      default:
        return null;
    }
  }

  recordDocument(entry, name) {
    // The first read is what the transaction's decisions were based on.
    if (!entry.reads.has(name)) entry.reads.set(name, this.#version(name));
  }

  recordQuery(entry, parent, query) {
    const names = this.#state.v1Query(parent, query).map((doc) => doc.toV1Document().name);
    for (const name of names) this.recordDocument(entry, name);
    entry.queries.push({ parent, query, names: names.join("\n") });
  }

  // Why the transaction must abort, or null when everything it read is unchanged.
  conflict(entry) {
    for (const [name, version] of entry.reads) {
      if (this.#version(name) !== version) return `${name} changed since it was read`;
    }
    for (const { parent, query, names } of entry.queries) {
      const now = this.#state.v1Query(parent, query).map((doc) => doc.toV1Document().name);
      if (now.join("\n") !== names) return `a query on ${parent} now returns other documents`;
    }
    return null;
  }

  // Returns the entry for a commit, removing it from the open set, or throws a gRPC error.
  takeForCommit(transactionId) {
    const key = keyOf(transactionId);
    const entry = this.#open.get(key);
    if (entry === undefined) {
      throw grpcError(
        status.INVALID_ARGUMENT,
        "transaction is not active (committed, rolled back, aborted or expired)",
      );
    }
    this.#open.delete(key);
    const reason = entry.readOnly ? null : this.conflict(entry);
    if (reason !== null) {
      this.stats.aborted += 1;
      throw grpcError(status.ABORTED, `transaction aborted: ${reason}; retry it`);
    }
    return entry;
  }

  rollback(transactionId) {
    if (this.#open.delete(keyOf(transactionId))) this.stats.rolledBack += 1;
  }

  markWritten(writes) {
    const names = new Set(writes.map(writtenName).filter(Boolean));
    for (const name of names) {
      this.#versions.set(name, this.#version(name) + 1);
      const doc = this.#state.getDocument(name);
      if (!doc.metadata.hasExist) {
        this.#stamps.delete(name);
        continue;
      }
      const ms = doc.metadata.updatedAt.getTime();
      const last = this.#stamps.get(name);
      this.#stamps.set(name, { ms, commits: last?.ms === ms ? last.commits + 1 : 1 });
    }
  }

  // update_time preconditions (the package ignores them). Update times here have millisecond
  // resolution, so a time written by two commits no longer says which of them the caller saw:
  // such a precondition fails, as it would have if the caller had read after the second.
  updateTimeError(name, expected) {
    const stamp = this.#stamps.get(name);
    const ms = Number(expected.seconds) * 1000 + Number(expected.nanos) / 1e6;
    if (stamp !== undefined && stamp.ms === ms && stamp.commits === 1) return null;
    return grpcError(
      status.FAILED_PRECONDITION,
      `the stored version of ${name} does not match the required update time`,
    );
  }

  // The package applies a commit's writes one by one, so a failed create()/update() would
  // leave the writes before it applied. Check every exists-precondition first, as if the
  // earlier writes of the same commit had happened, so such a commit changes nothing.
  preconditionError(writes) {
    const exists = new Map();
    for (const write of writes) {
      const name = writtenName(write);
      if (!name) continue;
      const now = exists.has(name)
        ? exists.get(name)
        : this.#state.getDocument(name).metadata.hasExist;
      if (write.has_current_document && write.current_document.has_update_time) {
        const error = this.updateTimeError(name, write.current_document.update_time);
        if (error !== null) return error;
      }
      if (write.has_current_document && write.current_document.has_exists) {
        if (write.current_document.exists && !now) {
          return grpcError(status.NOT_FOUND, `no entity to update: ${name}`);
        }
        if (!write.current_document.exists && now) {
          return grpcError(status.ALREADY_EXISTS, `entity already exists: ${name}`);
        }
      }
      exists.set(name, !write.has_delete);
    }
    return null;
  }
}

function writtenName(write) {
  if (write.has_update) return write.update.name;
  if (write.has_delete) return write.delete;
  if (write.has_transform) return write.transform.document;
  return null;
}

// Replace call.write so each response can be inspected (and its transaction id set) first.
function interceptWrites(call, onResponse) {
  const write = call.write.bind(call);
  call.write = (response, ...rest) => {
    onResponse(response);
    return write(response, ...rest);
  };
}

function isolate(impl, state) {
  const iso = new TransactionIsolation(state);
  const original = (name) => impl[name].bind(impl);
  const beginTransaction = original("BeginTransaction");
  const batchGetDocuments = original("BatchGetDocuments");
  const runQuery = original("RunQuery");
  const runAggregationQuery = original("RunAggregationQuery");
  const commit = original("Commit");
  const rollback = original("Rollback");

  // Runs a streaming read inside its transaction (if any), fixing up the transaction id.
  const streamingRead = (call, handler, record) => {
    let tx;
    try {
      tx = iso.forRead(call.request);
    } catch (err) {
      call.emit("error", err);
      return;
    }
    if (tx !== null) {
      interceptWrites(call, (response) => {
        if (tx.created && response.transaction?.length > 0) response.transaction = tx.id;
      });
      record(tx.entry);
    }
    handler(call);
  };

  const overrides = {
    BeginTransaction(call, callback) {
      const id = iso.begin(call.request.has_options ? call.request.options : null);
      beginTransaction(call, (err, response) => {
        if (response) response.transaction = id;
        callback(err, response);
      });
    },

    BatchGetDocuments(call) {
      // Same synchronous tick as the package's reads, so the versions match what it sends.
      streamingRead(call, batchGetDocuments, (entry) => {
        for (const name of call.request.documents) iso.recordDocument(entry, name);
      });
    },

    RunQuery(call) {
      streamingRead(call, runQuery, (entry) => {
        iso.recordQuery(entry, call.request.parent, call.request.structured_query);
      });
    },

    RunAggregationQuery(call) {
      streamingRead(call, runAggregationQuery, (entry) => {
        iso.recordQuery(
          entry,
          call.request.parent,
          call.request.structured_aggregation_query.structured_query,
        );
      });
    },

    Commit(call, callback) {
      const { transaction, writes } = call.request;
      if (transaction.length > 0) {
        try {
          iso.takeForCommit(transaction);
        } catch (err) {
          callback(err, null);
          return;
        }
      }
      const precondition = iso.preconditionError(writes);
      if (precondition !== null) {
        callback(precondition, null);
        return;
      }
      let answered = false;
      try {
        commit(call, (err, response) => {
          answered = true;
          if (!err && transaction.length > 0) iso.stats.committed += 1;
          callback(err, response);
        });
      } finally {
        // Also after a failed commit: the package applies writes one by one, so an error in
        // a later write can leave earlier ones applied. Readers must not miss those.
        iso.markWritten(writes);
      }
      if (!answered) {
        throw new Error(
          "@firestore-emulator/server's Commit no longer answers synchronously; " +
            "the check-and-write in server.mjs is not atomic any more",
        );
      }
    },

    Rollback(call, callback) {
      iso.rollback(call.request.transaction);
      rollback(call, callback);
    },
  };
  return { overrides, iso };
}

function timestampNow() {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function incrementalListen(state) {
  const packageListen = (call, request) =>
    state.v1Listen(
      request,
      (value) => call.write(value),
      (handler) => call.once("end", handler),
    );
  return (call) => {
    call.once("data", (request) => {
      const target = request.has_add_target ? request.add_target : null;
      const query = target?.has_query ? target.query : null;
      const from = query?.structured_query.from ?? [];
      if (query === null || from.length !== 1 || from[0].all_descendants) {
        packageListen(call, request);
        return;
      }
      const collection = `${query.parent}/${from[0].collection_id}`;
      const targetIds = [target.target_id];
      const run = () => new Map(
        state.v1Query(query.parent, query.structured_query).map((doc) => [doc.getPath(), doc]),
      );
      const send = (response) => {
        if (!call.cancelled && call.writable) call.write(ListenResponse.fromObject(response));
      };
      const sendDocument = (doc) =>
        send({ document_change: { document: doc.toV1DocumentObject(), target_ids: targetIds } });
      const caughtUp = () =>
        send({
          target_change: {
            read_time: timestampNow(),
            target_change_type: TargetChangeTargetChangeType.NO_CHANGE,
            target_ids: [],
          },
        });

      send({ target_change: { target_change_type: TargetChangeTargetChangeType.ADD, target_ids: targetIds } });
      let current = run();
      for (const doc of current.values()) sendDocument(doc);
      send({
        target_change: {
          read_time: timestampNow(),
          target_change_type: TargetChangeTargetChangeType.CURRENT,
          target_ids: targetIds,
        },
      });
      caughtUp();

      // Commit applies its writes synchronously, so the paths gathered until setImmediate
      // are one burst; the query runs once per burst, not once per write.
      const written = new Set();
      let scheduled = false;
      const flush = () => {
        scheduled = false;
        const next = run();
        const paths = new Set(written);
        written.clear();
        for (const path of current.keys()) if (!next.has(path)) paths.add(path); // a limit moved
        for (const path of next.keys()) if (!current.has(path)) paths.add(path);
        for (const path of paths) {
          const doc = next.get(path);
          if (doc !== undefined) {
            sendDocument(doc);
          } else if (current.has(path)) {
            const gone = !state.getDocument(path).metadata.hasExist;
            send(
              gone
                ? { document_delete: { document: path, removed_target_ids: targetIds, read_time: timestampNow() } }
                : { document_remove: { document: path, removed_target_ids: targetIds, read_time: timestampNow() } },
            );
          }
        }
        current = next;
        caughtUp();
      };
      const onWrite = ({ document }) => {
        const path = document.getPath();
        if (path.slice(0, path.lastIndexOf("/")) !== collection) return;
        written.add(path);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      };
      const events = ["create-document", "update-document", "delete-document"];
      for (const event of events) state.emitter.on(event, onWrite);
      let detached = false;
      const detach = () => {
        if (detached) return;
        detached = true;
        for (const event of events) state.emitter.off(event, onWrite);
      };
      for (const end of ["end", "cancelled", "close", "error"]) call.once(end, detach);
    });
  };
}

// "projects/p/databases/(default)/documents/a/x/b/y" -> "a/b"; a query's parent + from -> same.
function collectionPath(name, collectionId = null) {
  const marker = "/documents";
  const at = name.indexOf(marker);
  const rest = at < 0 ? "" : name.slice(at + marker.length).replace(/^\//, "");
  const parts = rest === "" ? [] : rest.split("/");
  if (collectionId !== null) parts.push(collectionId, "");
  return parts.filter((_, i) => i % 2 === 0).join("/") || "(root)";
}

function countUsage(service, file) {
  const counts = { calls: {}, reads: {}, writes: {} };
  const add = (table, key, n = 1) => {
    table[key] = (table[key] ?? 0) + n;
    dirty = true;
  };
  let dirty = true;
  const flush = () => {
    if (!dirty) return;
    dirty = false;
    writeFileSync(`${file}.tmp`, JSON.stringify(counts));
    renameSync(`${file}.tmp`, file); // readers never see half a file
  };
  setInterval(flush, 200).unref();
  const wrap = (name, before) => {
    const handler = service[name];
    if (typeof handler !== "function") return;
    service[name] = (call, ...rest) => {
      add(counts.calls, name);
      before?.(call);
      return handler(call, ...rest);
    };
  };
  wrap("BatchGetDocuments", (call) => {
    for (const doc of call.request.documents) add(counts.reads, collectionPath(doc));
  });
  wrap("RunQuery", (call) => {
    const from = call.request.structured_query.from?.[0]?.collection_id ?? "";
    const key = collectionPath(call.request.parent, from);
    let returned = 0;
    interceptWrites(call, (response) => {
      if (response.has_document) returned += 1;
      if (response.done) add(counts.reads, key, Math.max(1, returned)); // the stream's last answer
    });
  });
  wrap("RunAggregationQuery", (call) => {
    const query = call.request.structured_aggregation_query.structured_query;
    add(counts.reads, collectionPath(call.request.parent, query.from?.[0]?.collection_id ?? ""));
  });
  wrap("Commit", (call) => {
    for (const write of call.request.writes) {
      const name = writtenName(write);
      if (name) add(counts.writes, collectionPath(name));
    }
  });
  wrap("Listen");
  return flush;
}

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      "no-isolation": { type: "boolean", default: false },
      "exit-with-stdin": { type: "boolean", default: false },
    },
  });
  const port = Number.parseInt(values.port, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be 0..65535, got ${values.port}`);
  }

  const { state, definition, implementation } = capturePackageService();
  const service = {};
  for (const name of Object.keys(definition)) {
    const handler = implementation[name];
    // Bound to the package's object: its methods use a private field (#state).
    if (typeof handler === "function") service[name] = handler.bind(implementation);
  }
  state.emitter.setMaxListeners(0); // one set of listeners per open Listen stream
  service.Listen = incrementalListen(state);
  const isolation = !values["no-isolation"];
  let stats = null;
  if (isolation) {
    const { overrides, iso } = isolate(implementation, state);
    Object.assign(service, overrides);
    stats = iso.stats;
  }

  const countsFile = process.env.CVPLUS_FIRESTORE_COUNTS;
  const flushCounts = countsFile ? countUsage(service, countsFile) : () => {};

  const server = new Server();
  server.addService(definition, service);
  const bound = await new Promise((resolve, reject) => {
    server.bindAsync(`${HOST}:${port}`, ServerCredentials.createInsecure(), (err, actual) =>
      err ? reject(err) : resolve(actual),
    );
  });

  let stopping = false;
  const stop = (reason) => {
    if (stopping) return;
    stopping = true;
    const summary = stats === null ? "no isolation" : `transactions ${JSON.stringify(stats)}`;
    console.error(`firestore server stopping (${reason}); ${summary}`);
    flushCounts();
    const force = setTimeout(() => {
      server.forceShutdown();
      process.exit(0);
    }, 2000);
    force.unref();
    server.tryShutdown(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (values["exit-with-stdin"]) {
    // The launcher holds our stdin open; if it dies without stopping us, we still go.
    process.stdin.on("end", () => stop("stdin closed"));
    process.stdin.on("error", () => stop("stdin error"));
    process.stdin.resume();
  }

  console.log(`CVPLUS_FIRESTORE_READY ${HOST}:${bound} isolation=${isolation ? "on" : "off"}`);
}

main().catch((err) => {
  console.error(`firestore server failed to start: ${err.stack ?? err}`);
  process.exit(1);
});
