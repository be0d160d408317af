"""Firebase discovers the deployed functions here (DESIGN section 3); it only re-exports them."""

from firebase_admin import initialize_app

from functions.admin import dashboard, rotateVideoLinks, setCircuitState, systemDashboard
from functions.feedback import rateVideo
from functions.generate import generateVideo
from functions.health import providerHealthCheck
from functions.jobs import processVideoJob, videoJobTask
from functions.videos import (
    cancelGeneration,
    cancelVideoJob,
    deleteVideo,
    generateVideoIntroduction,
    getGenerationStatus,
    getMediaStatus,
    getVideoQuota,
    getVideoStatus,
    regenerateVideoIntroduction,
    retryVideoJob,
)
from functions.webhooks import providerWebhook
from shared.adapters import logs

# Callables verify the caller's ID token before the handler runs; that needs the app.
initialize_app()
logs.setup()

__all__ = [
    "cancelGeneration",
    "cancelVideoJob",
    "dashboard",
    "deleteVideo",
    "generateVideo",
    "generateVideoIntroduction",
    "getGenerationStatus",
    "getMediaStatus",
    "getVideoQuota",
    "getVideoStatus",
    "processVideoJob",
    "providerHealthCheck",
    "providerWebhook",
    "rateVideo",
    "regenerateVideoIntroduction",
    "retryVideoJob",
    "rotateVideoLinks",
    "setCircuitState",
    "systemDashboard",
    "videoJobTask",
]
