"""The imperative shell: the I/O around `shared.core.orchestration`, one module per trigger family.

    context     `Ports` and the `Shell` every family shares, and `Shell.apply`, which does all
                the writing
    processing  generateVideo (intake), processVideoJob / videoJobTask (the process loop)
    webhooks    providerWebhook
    health      providerHealthCheck (probes, stats, re-drive)
    admin       systemDashboard and setCircuitState

Each family loads what a decision needs, makes the provider call it asks for, and applies the
`Effects` the decision returns. The handlers in ``functions/`` call the families directly with
the instance's `Shell` (``functions/runtime.py``).
"""
