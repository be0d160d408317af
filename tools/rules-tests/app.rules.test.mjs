// The CVPlus app's own operations on the merged ruleset (tests/rules/app/firestore.rules with
// the video fragment, tools/merge_rules.py): they must pass as they did before the merge. Only
// with CVPLUS_RULES_MERGED=1 (tests/rules/test_rules.py sets it and CVPLUS_RULES_FILE).
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
} from "@firebase/rules-unit-testing";
import { doc, getDoc, setDoc, updateDoc } from "firebase/firestore";

const skip = process.env.CVPLUS_RULES_MERGED !== "1";
let env;

before(async () => {
  if (skip) return;
  const rules = readFileSync(process.env.CVPLUS_RULES_FILE, "utf8");
  env = await initializeTestEnvironment({ projectId: "demo-cvplus-app-rules", firestore: { rules } });
});
after(async () => env?.cleanup());
beforeEach(async () => {
  if (skip) return;
  await env.clearFirestore();
  await env.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    await setDoc(doc(db, "jobs/bob-cv"), { userId: "bob", status: "completed" });
    await setDoc(doc(db, "jobs/bob-public"), { userId: "bob", isPublic: true });
    await setDoc(doc(db, "public_profiles/p1"), { userId: "bob", isPublic: true });
    await setDoc(doc(db, "public_profiles/p2"), { userId: "bob", isPublic: false });
  });
});

const ada = () => env.authenticatedContext("ada").firestore();

test("the owner creates and updates their CV job (the app's upload)", { skip }, async () => {
  const job = doc(ada(), "jobs/ada-cv");
  await assertSucceeds(setDoc(job, { userId: "ada", status: "pending", fileUrl: "gs://x" }));
  await assertSucceeds(updateDoc(job, { status: "processing" }));
  await assertSucceeds(getDoc(job));
  await assertFails(setDoc(doc(ada(), "jobs/forged"), { userId: "bob", status: "pending" }));
  await assertFails(updateDoc(doc(ada(), "jobs/bob-cv"), { status: "failed" }));
  await assertFails(getDoc(doc(ada(), "jobs/bob-cv")));
  await assertSucceeds(getDoc(doc(ada(), "jobs/bob-public")));
});

test("the owner writes their user documents, no one else's", { skip }, async () => {
  await assertSucceeds(setDoc(doc(ada(), "users/ada"), { displayName: "Ada" }));
  await assertSucceeds(setDoc(doc(ada(), "users/ada/settings/ui"), { theme: "dark" }));
  await assertFails(setDoc(doc(ada(), "users/bob"), { displayName: "Mallory" }));
});

test("a public profile is read by anyone, a private one is not", { skip }, async () => {
  const anyone = env.unauthenticatedContext().firestore();
  await assertSucceeds(getDoc(doc(anyone, "public_profiles/p1")));
  await assertFails(getDoc(doc(anyone, "public_profiles/p2")));
});

test("the app's catch-all deny still holds", { skip }, async () => {
  await assertFails(getDoc(doc(ada(), "somewhere_else/x")));
  await assertFails(setDoc(doc(ada(), "somewhere_else/x"), { a: 1 }));
});
