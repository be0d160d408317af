"""The web contract: the requests callers send and the answers they get, as pydantic models."""
