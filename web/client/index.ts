// The CVPlus web app's video client: ask for a video, follow it live, cancel, retry, and see
// what the caller's tier still allows. Built on the Firebase JS SDK's modular API; the request,
// answer and document types are generated from the backend's own models (./api.ts).
//
//   const client = videoClient(app);
//   const { jobId } = await requestVideo(client, { parsedCV, options: { duration: "short" } });
//   const stop = watchVideoJob(client, jobId, (job) => render(job));

import type { FirebaseApp } from "firebase/app";
import {
  doc,
  getFirestore,
  onSnapshot,
  type Firestore,
  type Unsubscribe,
} from "firebase/firestore";
import {
  FunctionsError,
  getFunctions,
  httpsCallable,
  type Functions,
} from "firebase/functions";

import type {
  Callables,
  CvDataIntroductionRequest,
  CvDataIntroductionResponse,
  GenerateVideoRequest,
  GenerationStatusResponse,
  GenerateVideoResponse,
  IntroductionRequest,
  IntroductionResponse,
  JobAnswer,
  MediaStatusResponse,
  QuotaResponse,
  VideoJobDocument,
  VideoStatusResponse,
} from "./api";

export type * from "./api";

/** The collection of the job documents a user may read (their own only). */
export const VIDEO_JOBS = "enhanced_video_jobs";

export interface VideoClient {
  functions: Functions;
  firestore: Firestore;
}

/** A client over an initialised app (connect the emulators on it first, if any). */
export function videoClient(app: FirebaseApp, region?: string): VideoClient {
  return { functions: getFunctions(app, region), firestore: getFirestore(app) };
}

/** A refusal of the backend, with its stable code and, for bad fields, one detail per field. */
export class VideoError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: unknown,
  ) {
    super(message);
    this.name = "VideoError";
  }
}

function call<K extends keyof Callables>(
  client: VideoClient,
  name: K,
  data: Callables[K]["request"],
): Promise<Callables[K]["response"]> {
  return invoke<Callables[K]["request"], Callables[K]["response"]>(client, name, data);
}

async function invoke<Req, Res>(client: VideoClient, name: string, data: Req): Promise<Res> {
  const fn = httpsCallable<Req, Res>(client.functions, name);
  try {
    return (await fn(data)).data;
  } catch (error) {
    if (error instanceof FunctionsError) {
      // "functions/resource-exhausted" -> "resource-exhausted"
      const code = error.code.replace(/^functions\//, "");
      throw new VideoError(code, error.message, error.details);
    }
    throw error;
  }
}

/** Ask for a video (generateVideo): a script, or a parsed CV to write one from. */
export function requestVideo(
  client: VideoClient,
  request: GenerateVideoRequest,
): Promise<GenerateVideoResponse> {
  return call(client, "generateVideo", request);
}

/** Cancel one of the caller's jobs: at once before it is submitted, at the provider after. */
export function cancelVideoJob(client: VideoClient, jobId: string): Promise<JobAnswer> {
  return call(client, "cancelVideoJob", { jobId });
}

/** Run a failed or cancelled job again: the answer names the new job (its ``retryOf``). */
export function retryVideoJob(client: VideoClient, jobId: string): Promise<JobAnswer> {
  return call(client, "retryVideoJob", { jobId });
}

/** Delete the caller's finished video and its copies (the job stays, without links). */
export function deleteVideo(client: VideoClient, jobId: string): Promise<JobAnswer> {
  return call(client, "deleteVideo", { jobId });
}

/** What the caller's tier allows, and how many videos are left this hour and today. */
export function getVideoQuota(client: VideoClient): Promise<QuotaResponse> {
  return call(client, "getVideoQuota", {});
}

/**
 * The web app's own call: a video from the CV job's parsed CV (mirrored into jobs/{jobId}).
 * Premium (the app's userSubscriptions/{uid}). Answered with the video when it is ready within
 * about 50 s; otherwise refused "deadline-exceeded" with a message in words and
 * details {jobId, videoJobId, progress, estimatedTime}: the video then arrives in jobs/{jobId}.
 */
export function generateVideoIntroduction(
  client: VideoClient,
  request: IntroductionRequest,
): Promise<IntroductionResponse> {
  return call(client, "generateVideoIntroduction", request);
}

/** Regenerate, with a custom script or from the CV again. */
export function regenerateVideoIntroduction(
  client: VideoClient,
  request: IntroductionRequest,
): Promise<IntroductionResponse> {
  return call(client, "regenerateVideoIntroduction", request);
}

/** The video state mirrored into the app's CV job. */
export function getVideoStatus(client: VideoClient, jobId: string): Promise<VideoStatusResponse> {
  return call(client, "getVideoStatus", { jobId });
}

/** The app's 2 s poll of its CV job's video: status, progress, current step, ETA (seconds). */
export function getMediaStatus(client: VideoClient, jobId: string): Promise<MediaStatusResponse> {
  return call(client, "getMediaStatus", { jobId });
}

/** The multimedia service's call: a video from the CV itself, answered {jobId} at once. */
export function startVideoIntroduction(
  client: VideoClient,
  request: CvDataIntroductionRequest,
): Promise<CvDataIntroductionResponse> {
  return invoke(client, "generateVideoIntroduction", request);
}

/** The multimedia service's poll of a video job. */
export function getGenerationStatus(
  client: VideoClient,
  jobId: string,
): Promise<GenerationStatusResponse> {
  return call(client, "getGenerationStatus", { jobId });
}

/** The multimedia service's cancel (cancelVideoJob under its name). */
export function cancelGeneration(client: VideoClient, jobId: string): Promise<JobAnswer> {
  return call(client, "cancelGeneration", { jobId });
}

/** Follow a job live: ``onChange`` gets the document at every change (null: no such job). */
export function watchVideoJob(
  client: VideoClient,
  jobId: string,
  onChange: (job: VideoJobDocument | null) => void,
  onError?: (error: Error) => void,
): Unsubscribe {
  return onSnapshot(
    doc(client.firestore, VIDEO_JOBS, jobId),
    (snapshot) => onChange(snapshot.exists() ? (snapshot.data() as VideoJobDocument) : null),
    (error) => onError?.(error),
  );
}

/** The collection of the web app's CV jobs, whose video fields the backend mirrors. */
export const CV_JOBS = "jobs";

/**
 * The app's CV job (jobs/{jobId}) as far as its video goes: the fields the backend mirrors
 * into it, named as the app's original backend wrote them (videoStatus, video.url, ...).
 * ``video.subtitles`` is the URL of the WebVTT captions beside the video (empty when none);
 * ``video.degradations`` says in words what the video could not be made as asked.
 */
export interface CvJobVideo {
  userId?: string;
  videoStatus?: string;
  videoError?: string | null;
  video?: {
    url: string;
    thumbnailUrl: string | null;
    duration: number | null;
    script: string;
    subtitles: string | null;
    provider: string | null;
    degradations?: string[];
  };
  enhancedFeatures?: {
    videoIntroduction?: { status: string; progress: number; currentStep: string };
  };
}

/** Follow the app's CV job, as the app does with its own onSnapshot (null: no such job). */
export function watchCvJob(
  client: VideoClient,
  jobId: string,
  onChange: (job: CvJobVideo | null) => void,
  onError?: (error: Error) => void,
): Unsubscribe {
  return onSnapshot(
    doc(client.firestore, CV_JOBS, jobId),
    (snapshot) => onChange(snapshot.exists() ? (snapshot.data() as CvJobVideo) : null),
    (error) => onError?.(error),
  );
}

/** Finished for good: completed, failed or cancelled. */
export function isFinished(job: VideoJobDocument): boolean {
  return job.status === "completed" || job.status === "failed" || job.status === "cancelled";
}

const RENDER_FROM = 15;
const RENDER_TO = 95;

/**
 * The progress to show now (0-100). The document is written at each step; while a provider
 * renders without reporting its own progress, this moves the bar between writes from the
 * render's start towards its ETA (never past 95 before the video is there).
 */
export function estimateProgress(job: VideoJobDocument, nowMs: number = Date.now()): number {
  if (job.stage !== "rendering" || job.renderProgress !== null) return job.progress;
  const start = job.renderStartedAt;
  const eta = job.etaAt;
  if (start === null || eta === null || eta <= start) return job.progress;
  const share = Math.min(Math.max((nowMs / 1000 - start) / (eta - start), 0), 1);
  return Math.max(job.progress, Math.round(RENDER_FROM + share * (RENDER_TO - RENDER_FROM)));
}

/** Seconds until the estimated completion (null: no estimate). */
export function secondsLeft(job: VideoJobDocument, nowMs: number = Date.now()): number | null {
  if (isFinished(job) || job.etaAt === null) return null;
  return Math.max(0, Math.round(job.etaAt - nowMs / 1000));
}
