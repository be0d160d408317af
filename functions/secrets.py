"""The secrets the functions read (DESIGN section 11), and which function gets which: each
declares only what it uses, so a function that is compromised or logs its environment by
mistake holds nothing it does not need.

    generateVideo, systemDashboard, setCircuitState, dashboard,  none
    retryVideoJob, getVideoQuota, generateVideoIntroduction,
    regenerateVideoIntroduction, getVideoStatus
    cancelVideoJob                                              PROVIDER_KEYS (stops a render)
    processVideoJob, videoJobTask, providerHealthCheck          WORKER: the provider API keys
        (submit, poll, probe) and CVPLUS_INTERNAL_SECRET (task bodies, D-ID callback tokens)
    providerWebhook                                             WEBHOOK: HEYGEN_API_KEY
        (confirms a HeyGen callback with GET /v3/videos/{id}), CVPLUS_INTERNAL_SECRET
        (verifies the callbacks' per-job tokens, signs follow-up tasks)
"""

from __future__ import annotations

from firebase_functions.params import SecretParam

HEYGEN_API_KEY = SecretParam("HEYGEN_API_KEY")
RUNWAYML_API_KEY = SecretParam("RUNWAYML_API_KEY")
DID_API_KEY = SecretParam("DID_API_KEY")
CVPLUS_INTERNAL_SECRET = SecretParam("CVPLUS_INTERNAL_SECRET")

PROVIDER_KEYS = [HEYGEN_API_KEY, RUNWAYML_API_KEY, DID_API_KEY]
WORKER = [*PROVIDER_KEYS, CVPLUS_INTERNAL_SECRET]
WEBHOOK = [HEYGEN_API_KEY, CVPLUS_INTERNAL_SECRET]
