"""What the e2e tests do with the local stack: sign users up, call callables, steer the
simulator, read Firestore; and the settings the stack runs the functions with."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.cloud import firestore

from shared.adapters.stores.base import DEFAULT_CACHE_TTL_S
from tools.stack import Stack
from tools.stack.client import call, sign_up

# 150 words: a 60 s ("medium", the default) introduction at the simulator's 2.5 words/s.
_SENTENCE = "Hello, I am Ada, a backend engineer who builds dependable systems for video."
SCRIPT = " ".join((_SENTENCE.split() * 12)[:150])
USER_LIMIT = 5
WEBHOOK_WAIT_S = 4.0


@dataclass
class E2E:
    stack: Stack
    http: httpx.Client
    db: firestore.Client
    admin_token: str

    @property
    def sim(self) -> str:
        endpoint = self.stack.config.provider_sim
        assert endpoint is not None
        return endpoint.url

    def provider_file(self, provider: str, name: str) -> bytes:
        """What the simulated provider serves as ``name`` (its URL, never expired)."""
        return self.http.get(f"{self.sim}/_files/{provider}/{name}?expires=1e12").content

    def user(self, **claims: Any) -> str:
        return sign_up(self.http, self.stack.config, claims or None)[1]

    def call(self, name: str, data: Any, token: str | None) -> httpx.Response:
        return call(self.http, self.stack.config, name, data, token)

    def generate(self, token: str, **data: Any) -> dict[str, Any]:
        answer = self.call("generateVideo", {"script": SCRIPT, **data}, token)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["result"]
        return result

    def deliveries(self, render_id: str, *, count: int, timeout_s: float = 30.0) -> list[Any]:
        """The simulator's webhook deliveries for the render ``render_id`` (its job_id, the
        provider's id), once ``count`` of them have been answered (each is recorded after its
        POST returned)."""
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.http.get(f"{self.sim}/_control/stats").json()
            found = [d for d in stats["deliveries"] if d["job_id"] == render_id]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{len(found)} of {count} deliveries: {found}"
            time.sleep(0.1)

    def fault(self, provider: str, fault: str, **params: Any) -> None:
        answer = self.http.post(
            f"{self.sim}/_control/faults", json={"provider": provider, "fault": fault, **params}
        )
        answer.raise_for_status()

    def circuit(
        self, provider: str, action: str, reason: str = "e2e test", *, settle: bool = True
    ) -> dict[str, Any]:
        """Force a circuit; with ``settle``, return once every function instance sees it (they
        cache breaker states for DEFAULT_CACHE_TTL_S)."""
        answer = self.call(
            "setCircuitState",
            {"providerId": provider, "action": action, "reason": reason},
            self.admin_token,
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["result"]
        if settle:
            time.sleep(DEFAULT_CACHE_TTL_S)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        snap = self.db.collection("enhanced_video_jobs").document(job_id).get()
        assert snap.exists
        doc: dict[str, Any] = snap.to_dict()
        return doc

    def wait(self, job_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        """The job once it is terminal (fails the test after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            doc = self.job(job_id)
            if doc["status"] in ("completed", "failed"):
                return doc
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} still {doc['status']} after {timeout_s} s: {doc}")
            time.sleep(0.25)

    def docs(self, collection: str, **equal: Any) -> list[dict[str, Any]]:
        q: Any = self.db.collection(collection)
        for field, value in equal.items():
            q = q.where(filter=firestore.FieldFilter(field, "==", value))
        return [s.to_dict() for s in q.stream()]


def request_id() -> str:
    return f"req-{uuid.uuid4().hex[:16]}"
