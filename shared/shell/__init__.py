"""The imperative shell: the I/O around `shared.core.orchestration`, one module per trigger family.

    context     the wiring every family shares, and `Shell.apply`, which does all the writing
    processing  generateVideo (intake), processVideoJob / videoJobTask (the process loop)
    webhooks    providerWebhook
    health      providerHealthCheck (probes, stats, re-drive)
    admin       systemDashboard and setCircuitState

Each family loads what a decision needs, makes the provider call it asks for, and applies the
`Effects` the decision returns. `shared.service.Service` puts the families behind one object.
"""
