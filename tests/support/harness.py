"""The real Cloud Functions handlers, called in-process as the platform calls them (a Flask
request through the firebase-functions wrappers), on a shell with memory stores and provider
adapters whose HTTP never leaves the process. No emulator, no network.

    answer = harness.call("generateVideo", {"script": ...}, claims={"uid": "u1"})
    answer = harness.post("videoJobTask", b'{"jobId": 1}')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import flask
import httpx

from shared.adapters.stores.memory import MemoryDatabase
from shared.shell.context import Shell

INTERNAL_SECRET = "i" * 32
SCRIPT = (
    "Hello, I am Ada. I build reliable data pipelines and lead a small team of engineers "
    "who care about quality."
)

HANDLERS = {
    "generateVideo": "generate",
    "rateVideo": "feedback",
    "systemDashboard": "admin",
    "setCircuitState": "admin",
    "rotateVideoLinks": "admin",
    "deleteVideo": "videos",
    "dashboard": "admin",
    "videoJobTask": "jobs",
    "providerWebhook": "webhooks",
    "cancelVideoJob": "videos",
    "retryVideoJob": "videos",
    "getVideoQuota": "videos",
    "generateVideoIntroduction": "videos",
    "regenerateVideoIntroduction": "videos",
    "getVideoStatus": "videos",
    "getMediaStatus": "videos",
    "getGenerationStatus": "videos",
    "cancelGeneration": "videos",
}


def refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"a provider was called: {request.method} {request.url}")


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> dict[str, Any]:
        """A callable's error object ({status, message, details})."""
        return dict(self.json["error"])


class Harness:
    def __init__(self, shell: Shell, db: MemoryDatabase) -> None:
        self.shell = shell
        self.db = db
        self.app = flask.Flask("security-tests")
        # Claims of the ID tokens the (fake) verifier knows, by token.
        self.tokens: dict[str, dict[str, Any]] = {}

    def choose(self, **choices: Any) -> None:
        """Change some of the deployment's choices (fields of `Setup`) from now on."""
        self.shell.setup = replace(self.shell.setup, **choices)

    def handler(self, name: str) -> Callable[[flask.Request], Any]:
        """The deployed function ``name`` (imported from its module, not from main.py, whose
        import initialises the Admin SDK and takes over the project's logger)."""
        import importlib

        module = importlib.import_module(f"functions.{HANDLERS[name]}")
        fn: Callable[[flask.Request], Any] = getattr(module, name)
        return fn

    def post(
        self,
        name: str,
        body: bytes,
        *,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
        method: str = "POST",
    ) -> Answer:
        with self.app.test_request_context(
            path or f"/{name}",
            method=method,
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        ):
            response = flask.make_response(self.handler(name)(flask.request))
        return Answer(response.status_code, response.get_data())

    def call(self, name: str, data: Any, claims: Mapping[str, Any] | None = None) -> Answer:
        """A callable as the Firebase SDK calls it, with an ID token carrying ``claims``."""
        headers: dict[str, str] = {}
        if claims is not None:
            token = f"token-{len(self.tokens)}"
            self.tokens[token] = {"uid": claims.get("uid", "user-1"), **claims}
            headers["Authorization"] = f"Bearer {token}"
        return self.post(name, json.dumps({"data": data}).encode(), headers=headers)
