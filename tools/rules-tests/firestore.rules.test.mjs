// Security rules (firestore.rules) against Google's Firestore emulator, with
// @firebase/rules-unit-testing. Run by tests/rules/test_rules.py through
// `firebase emulators:exec --only firestore`, which sets FIRESTORE_EMULATOR_HOST.
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
} from "@firebase/rules-unit-testing";
import { doc, getDoc, setDoc, collection, getDocs, query, where } from "firebase/firestore";

const rules = readFileSync(fileURLToPath(new URL("../../firestore.rules", import.meta.url)), "utf8");
let env;

before(async () => {
  env = await initializeTestEnvironment({ projectId: "demo-cvplus-rules", firestore: { rules } });
});
after(async () => env?.cleanup());
beforeEach(async () => {
  await env.clearFirestore();
  await env.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    await setDoc(doc(db, "enhanced_video_jobs/ada-1"), { userId: "ada", status: "queued" });
    await setDoc(doc(db, "enhanced_video_jobs/bob-1"), { userId: "bob", status: "queued" });
    for (const name of [
      "circuit_breaker_states/heygen",
      "circuit_breaker_states/heygen/buckets/b1",
      "circuit_breaker_transitions/t1",
      "provider_metrics/m1",
      "error_recovery_logs/l1",
      "provider_stats/heygen",
    ]) {
      await setDoc(doc(db, name), { providerId: "heygen" });
    }
  });
});

const ada = () => env.authenticatedContext("ada").firestore();
const admin = () => env.authenticatedContext("root", { admin: true }).firestore();
const SYSTEM = [
  "circuit_breaker_states/heygen",
  "circuit_breaker_states/heygen/buckets/b1",
  "circuit_breaker_transitions/t1",
  "provider_metrics/m1",
  "error_recovery_logs/l1",
  "provider_stats/heygen",
];

test("a user reads their own job", async () => {
  await assertSucceeds(getDoc(doc(ada(), "enhanced_video_jobs/ada-1")));
});

test("a user cannot read another user's job", async () => {
  await assertFails(getDoc(doc(ada(), "enhanced_video_jobs/bob-1")));
});

test("a user lists their own jobs only when the query says so", async () => {
  const jobs = collection(ada(), "enhanced_video_jobs");
  await assertSucceeds(getDocs(query(jobs, where("userId", "==", "ada"))));
  await assertFails(getDocs(jobs));
});

test("no one signed out reads a job", async () => {
  await assertFails(getDoc(doc(env.unauthenticatedContext().firestore(), "enhanced_video_jobs/ada-1")));
});

test("admins read the system collections; users do not", async () => {
  for (const name of SYSTEM) {
    await assertSucceeds(getDoc(doc(admin(), name)));
    await assertFails(getDoc(doc(ada(), name)));
  }
});

test("no client writes anywhere, admins included", async () => {
  for (const db of [ada(), admin()]) {
    await assertFails(setDoc(doc(db, "enhanced_video_jobs/ada-1"), { status: "completed" }));
    await assertFails(setDoc(doc(db, "enhanced_video_jobs/new"), { userId: "ada" }));
    for (const name of SYSTEM) {
      await assertFails(setDoc(doc(db, name), { state: "closed" }));
    }
  }
});
