// Security rules (firestore.rules) against Google's Firestore emulator, with
// @firebase/rules-unit-testing. Run by tests/rules/test_rules.py, which starts the emulator and
// sets FIRESTORE_EMULATOR_HOST. CVPLUS_RULES_FILE names another rules file: the fragment merged
// into a representative app ruleset (CVPLUS_RULES_MERGED=1: the app owns jobs/{jobId} there,
// app.rules.test.mjs tests it), or rules that allow everything (these tests then fail).
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
} from "@firebase/rules-unit-testing";
import { doc, getDoc, setDoc, collection, getDocs, query, where } from "firebase/firestore";

const rulesFile =
  process.env.CVPLUS_RULES_FILE ?? fileURLToPath(new URL("../../firestore.rules", import.meta.url));
const rules = readFileSync(rulesFile, "utf8");
const merged = process.env.CVPLUS_RULES_MERGED === "1";
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
    await setDoc(doc(db, "enhanced_video_jobs_internal/ada-1"), {
      userId: "ada",
      selectionReasoning: ["heygen: manual open by ops@example.com: contract dispute"],
    });
    await setDoc(doc(db, "jobs/ada-cv"), { userId: "ada", videoStatus: "generating" });
    await setDoc(doc(db, "jobs/bob-cv"), { userId: "bob", videoStatus: "generating" });
    for (const name of [
      "circuit_breaker_states/heygen",
      "circuit_breaker_states/heygen/buckets/b1",
      "circuit_breaker_transitions/t1",
      "provider_metrics/m1",
      "error_recovery_logs/l1",
      "provider_stats/heygen",
      "user_quotas/ada",
      "daily_spend/2026-12-01",
      "breaker_user_shares/ada~heygen~1",
      "analytics_hourly/1700000000",
      "analytics_daily/1699920000",
      "alerts/a1",
    ]) {
      await setDoc(doc(db, name), { providerId: "heygen" });
    }
  });
});

const ada = () => env.authenticatedContext("ada").firestore();
const admin = () => env.authenticatedContext("root", { admin: true }).firestore();
// The CVPlus app's admin claim (cvplus-admin src/backend/functions/initializeAdmin.ts L80-90).
const appAdmin = (level, permissions = {}) =>
  env.authenticatedContext(`app-admin-${level}`, { admin: { role: "admin", level, permissions } })
    .firestore();
const SYSTEM = [
  "enhanced_video_jobs_internal/ada-1",
  "circuit_breaker_states/heygen",
  "circuit_breaker_states/heygen/buckets/b1",
  "circuit_breaker_transitions/t1",
  "provider_metrics/m1",
  "error_recovery_logs/l1",
  "provider_stats/heygen",
  "user_quotas/ada",
  "daily_spend/2026-12-01",
  "breaker_user_shares/ada~heygen~1",
  "analytics_hourly/1700000000",
  "analytics_daily/1699920000",
  "alerts/a1",
];

test("a user reads their own job", async () => {
  await assertSucceeds(getDoc(doc(ada(), "enhanced_video_jobs/ada-1")));
});

test("a user cannot read another user's job", async () => {
  await assertFails(getDoc(doc(ada(), "enhanced_video_jobs/bob-1")));
});

test("a user cannot read the internals of their own job", async () => {
  await assertSucceeds(getDoc(doc(ada(), "enhanced_video_jobs/ada-1")));
  await assertFails(getDoc(doc(ada(), "enhanced_video_jobs_internal/ada-1")));
  await assertFails(getDocs(collection(ada(), "enhanced_video_jobs_internal")));
  await assertFails(
    getDocs(query(collection(ada(), "enhanced_video_jobs_internal"), where("userId", "==", "ada"))),
  );
});

test("a user reads their own CV job, not another's, and writes none", { skip: merged }, async () => {
  await assertSucceeds(getDoc(doc(ada(), "jobs/ada-cv")));
  await assertFails(getDoc(doc(ada(), "jobs/bob-cv")));
  await assertFails(setDoc(doc(ada(), "jobs/ada-cv"), { videoStatus: "completed" }));
});

test("a user lists their own jobs only when the query says so", async () => {
  const jobs = collection(ada(), "enhanced_video_jobs");
  await assertSucceeds(getDocs(query(jobs, where("userId", "==", "ada"))));
  await assertFails(getDocs(jobs));
  await assertFails(getDocs(query(jobs, where("userId", "==", "bob"))));
});

test("a signed-out client reads nothing", async () => {
  const anyone = env.unauthenticatedContext().firestore();
  await assertFails(getDoc(doc(anyone, "enhanced_video_jobs/ada-1")));
  await assertFails(getDocs(collection(anyone, "enhanced_video_jobs")));
  for (const name of SYSTEM) {
    await assertFails(getDoc(doc(anyone, name)));
  }
});

test("admins read the system collections; users do not", async () => {
  for (const name of SYSTEM) {
    await assertSucceeds(getDoc(doc(admin(), name)));
    await assertFails(getDoc(doc(ada(), name)));
  }
});

test("the app's admin claim reads the system collections from level 3 or with the permission", async () => {
  for (const db of [appAdmin(3), appAdmin(5), appAdmin(1, { canMonitorSystem: true })]) {
    for (const name of SYSTEM) {
      await assertSucceeds(getDoc(doc(db, name)));
    }
  }
  for (const db of [appAdmin(2, { canModerateContent: true }), appAdmin("5")]) {
    for (const name of SYSTEM) {
      await assertFails(getDoc(doc(db, name)));
    }
  }
});

test("no client writes anywhere, admins included", async () => {
  for (const db of [ada(), admin(), appAdmin(5)]) {
    await assertFails(setDoc(doc(db, "enhanced_video_jobs/ada-1"), { status: "completed" }));
    await assertFails(setDoc(doc(db, "enhanced_video_jobs/new"), { userId: "ada" }));
    for (const name of SYSTEM) {
      await assertFails(setDoc(doc(db, name), { state: "closed" }));
    }
  }
});
