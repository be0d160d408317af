"""No existence oracle: a job or CV job id that is someone else's is answered exactly as one that
does not exist (``not-found``, the same message), on every callable that takes an id."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.stores import base as stores
from tests.support.harness import SCRIPT, Harness


@pytest.mark.parametrize(
    "name", ["cancelVideoJob", "retryVideoJob", "getVideoStatus", "generateVideoIntroduction"]
)
def test_a_foreign_id_is_answered_as_a_missing_one(harness: Harness, name: str) -> None:
    """The same status and message (with the id swapped) for mallory's probe of a real id as
    for an id that was never made."""
    harness.db.put(stores.CV_JOBS, "cv-real", {"userId": "user-1", "parsedData": {}})
    made = harness.call("generateVideo", {"script": SCRIPT}, {}).json["result"]["jobId"]
    real = "cv-real" if name in {"getVideoStatus", "generateVideoIntroduction"} else made
    extra: dict[str, Any] = {"duration": "short"} if name == "generateVideoIntroduction" else {}
    # A premium mallory (the tier claim), so the app's entitlement check lets her call get as
    # far as the id.
    mallory = {"uid": "mallory", "tier": "premium"}
    foreign = harness.call(name, {"jobId": real, **extra}, mallory).error
    missing = harness.call(name, {"jobId": "vj_never_made", **extra}, mallory).error
    assert foreign["status"] == missing["status"] == "NOT_FOUND"
    assert foreign["message"].replace(real, "<id>") == missing["message"].replace(
        "vj_never_made", "<id>"
    )
    assert "yours" not in foreign["message"]
