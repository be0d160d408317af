"""Thin Cloud Functions handlers: parse -> load -> decide (in ``shared``) -> save -> respond."""
