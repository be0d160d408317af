"""Thin Cloud Functions handlers: parse -> load -> decide (in ``shared``) -> save -> respond."""

from firebase_functions import options

from functions import deploy

# Before any handler module is imported: the decorators read the global options.
options.set_global_options(**deploy.GLOBAL)
