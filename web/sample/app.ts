// The sample page: sign in, ask for a video, follow it live, cancel, retry, play it. It uses
// only the client module (../client); the emulators' addresses come from the query string
// (?project=...&apiKey=...&auth=http://127.0.0.1:9099&firestore=127.0.0.1:8080&functions=...).

import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, signInWithEmailAndPassword } from "firebase/auth";
import { connectFirestoreEmulator } from "firebase/firestore";
import { connectFunctionsEmulator } from "firebase/functions";

import {
  VideoError,
  cancelVideoJob,
  estimateProgress,
  getVideoQuota,
  isFinished,
  requestVideo,
  retryVideoJob,
  secondsLeft,
  videoClient,
  watchVideoJob,
  type VideoJobDocument,
} from "../client/index";

const params = new URLSearchParams(location.search);
const projectId = params.get("project") ?? "demo-cvplus";
const app = initializeApp({ apiKey: params.get("apiKey") ?? "local", projectId });
const auth = getAuth(app);
const client = videoClient(app);
const authUrl = params.get("auth");
if (authUrl) connectAuthEmulator(auth, authUrl, { disableWarnings: true });
const firestoreAt = params.get("firestore");
if (firestoreAt) {
  const [host, port] = firestoreAt.split(":");
  connectFirestoreEmulator(client.firestore, host ?? "127.0.0.1", Number(port));
}
const functionsAt = params.get("functions");
if (functionsAt) {
  const [host, port] = functionsAt.split(":");
  connectFunctionsEmulator(client.functions, host ?? "127.0.0.1", Number(port));
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
let current: VideoJobDocument | null = null;
let stopWatching: (() => void) | null = null;

function state(name: string): void {
  document.body.dataset.state = name;
}

function showError(error: unknown): void {
  $("error").textContent =
    error instanceof VideoError ? `${error.message} (${error.code})` : String(error);
}

async function showQuota(): Promise<void> {
  const quota = await getVideoQuota(client);
  $("quota").textContent =
    `${quota.tier} plan: ${quota.remaining} videos left ` +
    `(${quota.limits.jobsPerHour} an hour, ${quota.limits.jobsPerDay} a day; ` +
    `up to ${quota.limits.durations.join(", ")})`;
}

function render(job: VideoJobDocument): void {
  current = job;
  $("job").hidden = false;
  $("job-id").textContent = job.jobId;
  $("stage").textContent = job.stageLabel;
  const progress = estimateProgress(job);
  ($("bar") as HTMLProgressElement).value = progress;
  $("percent").textContent = `${progress}%`;
  const left = secondsLeft(job);
  $("eta").textContent = left === null ? "" : `about ${left} s left`;
  const notes = $("notes");
  notes.replaceChildren(
    ...job.degradationNotes.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
  $("error").textContent = job.error ? job.error.message : "";
  $("cancel").hidden = isFinished(job);
  $("retry").hidden = !(job.error?.retryable ?? false);
  state(job.status === "processing" ? job.stage : job.status);
  const video = $("video") as HTMLVideoElement;
  if (job.status === "completed" && job.videoUrl && video.src !== job.videoUrl) {
    video.hidden = false;
    video.src = job.videoUrl;
    void video.play().catch((error: unknown) => {
      $("playing").textContent = `could not play: ${String(error)}`;
    });
  }
}

function watch(jobId: string): void {
  stopWatching?.();
  const video = $("video") as HTMLVideoElement;
  video.hidden = true;
  video.removeAttribute("src");
  $("playing").textContent = "";
  delete document.body.dataset.video;
  stopWatching = watchVideoJob(
    client,
    jobId,
    (job) => (job ? render(job) : undefined),
    (error) => showError(error),
  );
}

$("signin-button").addEventListener("click", async () => {
  try {
    const email = ($("email") as HTMLInputElement).value;
    const password = ($("password") as HTMLInputElement).value;
    const user = await signInWithEmailAndPassword(auth, email, password);
    $("who").textContent = `signed in as ${user.user.email ?? user.user.uid}`;
    ($("request") as HTMLButtonElement).disabled = false;
    await showQuota();
    state("signed-in");
  } catch (error) {
    showError(error);
  }
});

$("request").addEventListener("click", async () => {
  try {
    const duration = ($("duration") as HTMLSelectElement).value as "short" | "medium";
    const script = ($("script") as HTMLTextAreaElement).value;
    const { jobId } = await requestVideo(client, { script, options: { duration } });
    watch(jobId);
    await showQuota();
  } catch (error) {
    showError(error);
  }
});

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  try {
    await cancelVideoJob(client, current.jobId);
  } catch (error) {
    showError(error);
  }
});

$("retry").addEventListener("click", async () => {
  if (!current) return;
  try {
    const again = await retryVideoJob(client, current.jobId);
    watch(again.jobId);
  } catch (error) {
    showError(error);
  }
});

($("video") as HTMLVideoElement).addEventListener("playing", () => {
  $("playing").textContent = "playing";
  document.body.dataset.video = "playing";
});

// The bar moves between writes while the provider renders (estimated up to the ETA).
setInterval(() => {
  if (current && !isFinished(current)) render(current);
}, 250);
state("signed-out");
