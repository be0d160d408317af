// The sample page: sign in, ask for a video, follow it live, cancel, retry, play it; and the
// CVPlus app's own call (generateVideoIntroduction on a CV job, the app's CV job watched until
// its video is there). It uses only the client module (../client); the emulators' addresses
// come from the query string
// (?project=...&apiKey=...&auth=http://127.0.0.1:9099&firestore=127.0.0.1:8080&functions=...).

import { initializeApp } from "firebase/app";
import { connectAuthEmulator, getAuth, signInWithEmailAndPassword } from "firebase/auth";
import { connectFirestoreEmulator } from "firebase/firestore";
import { connectFunctionsEmulator } from "firebase/functions";

import {
  VideoError,
  cancelVideoJob,
  estimateProgress,
  generateVideoIntroduction,
  getVideoQuota,
  isFinished,
  requestVideo,
  retryVideoJob,
  secondsLeft,
  videoClient,
  watchCvJob,
  watchVideoJob,
  type CvJobVideo,
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
    ($("app-request") as HTMLButtonElement).disabled = false;
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

// The player read the video from our bucket: its container and length ("loaded"), then, where
// the samples decode (a real render does; the simulator's tiny MP4s carry placeholder samples),
// it plays.
($("video") as HTMLVideoElement).addEventListener("loadedmetadata", (event) => {
  const player = event.target as HTMLVideoElement;
  document.body.dataset.videoDuration = String(player.duration);
  if (document.body.dataset.video !== "playing") document.body.dataset.video = "loaded";
});
($("video") as HTMLVideoElement).addEventListener("playing", () => {
  $("playing").textContent = "playing";
  document.body.dataset.video = "playing";
});

// The app's own call. The request is the app's (cvplus-frontend
// src/services/features/MediaService.ts L19-27); its answer is the video when it is ready in
// time, else a refusal in words with the video still on its way: either way the CV job the app
// watches gets the video, and that is what is shown.
let stopWatchingCv: (() => void) | null = null;

function renderCvJob(cv: CvJobVideo): void {
  const intro = cv.enhancedFeatures?.videoIntroduction;
  if (intro) {
    $("app-step").textContent = intro.currentStep;
    ($("app-bar") as HTMLProgressElement).value = intro.progress;
  }
  document.body.dataset.appState = cv.videoStatus ?? "";
  $("app-error").textContent = cv.videoError ?? "";
  const video = cv.video;
  if (cv.videoStatus !== "completed" || !video?.url) return;
  $("app-notes").replaceChildren(
    ...(video.degradations ?? []).map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }),
  );
  const player = $("app-video") as HTMLVideoElement;
  if (player.src === video.url) return;
  const track = $("app-track") as HTMLTrackElement;
  if (video.subtitles) track.src = video.subtitles;
  player.hidden = false;
  player.src = video.url;
  void player.play().catch((error: unknown) => {
    $("app-playing").textContent = `could not play: ${String(error)}`;
  });
}

$("app-request").addEventListener("click", async () => {
  const jobId = ($("cv-job") as HTMLInputElement).value.trim();
  if (!jobId) return;
  stopWatchingCv?.();
  stopWatchingCv = watchCvJob(
    client,
    jobId,
    (cv) => (cv ? renderCvJob(cv) : undefined),
    (error) => ($("app-error").textContent = String(error)),
  );
  document.body.dataset.appAnswer = "waiting";
  try {
    const answer = await generateVideoIntroduction(client, {
      jobId,
      duration: "medium",
      style: "professional",
      avatarStyle: "realistic",
      background: "office",
      includeSubtitles: true,
      includeNameCard: true,
    });
    $("app-answer").textContent = `answered with the video (${answer.video.duration ?? "?"} s)`;
    document.body.dataset.appAnswer = "video";
  } catch (error) {
    // deadline-exceeded: the video is still being made and arrives in the CV job.
    $("app-answer").textContent =
      error instanceof VideoError ? `${error.message} (${error.code})` : String(error);
    document.body.dataset.appAnswer = error instanceof VideoError ? error.code : "error";
  }
});

($("app-video") as HTMLVideoElement).addEventListener("loadedmetadata", (event) => {
  const player = event.target as HTMLVideoElement;
  document.body.dataset.appVideoDuration = String(player.duration);
  if (document.body.dataset.appVideo !== "playing") document.body.dataset.appVideo = "loaded";
});
($("app-video") as HTMLVideoElement).addEventListener("playing", () => {
  $("app-playing").textContent = "playing";
  document.body.dataset.appVideo = "playing";
});

// The bar moves between writes while the provider renders (estimated up to the ETA).
setInterval(() => {
  if (current && !isFinished(current)) render(current);
}, 250);
state("signed-out");
