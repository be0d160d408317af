"""The secrets the functions read (DESIGN section 11), declared once for the decorators."""

from __future__ import annotations

from firebase_functions.params import SecretParam

HEYGEN_API_KEY = SecretParam("HEYGEN_API_KEY")
HEYGEN_WEBHOOK_SECRET = SecretParam("HEYGEN_WEBHOOK_SECRET")
RUNWAYML_API_KEY = SecretParam("RUNWAYML_API_KEY")
DID_API_KEY = SecretParam("DID_API_KEY")
CVPLUS_INTERNAL_SECRET = SecretParam("CVPLUS_INTERNAL_SECRET")

PROVIDER_SECRETS = [HEYGEN_API_KEY, HEYGEN_WEBHOOK_SECRET, RUNWAYML_API_KEY, DID_API_KEY]
ALL = [*PROVIDER_SECRETS, CVPLUS_INTERNAL_SECRET]
