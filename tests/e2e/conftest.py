"""One local stack serving the repository's functions (a copy on free ports) for the e2e
session (``e2e``), and ``world``, the same stack reset after each test; what the tests do with it
is `tests.support.e2e.E2E`."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from shared.adapters.stores.base import DEFAULT_CACHE_TTL_S
from tests.support.e2e import E2E, USER_LIMIT, WEBHOOK_WAIT_S
from tests.support.stacks import PROJECT
from tools.stack import Stack
from tools.stack._stack import REPO_ROOT
from tools.stack.client import sign_up
from tools.stack.project import isolated_project


@pytest.fixture(scope="session")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    project = isolated_project(tmp_path_factory.mktemp("cvplus-functions"))
    run_dir = REPO_ROOT / "run" / "e2e"
    env = {"USER_JOBS_PER_HOUR": str(USER_LIMIT), "WEBHOOK_WAIT_SECONDS": str(WEBHOOK_WAIT_S)}
    with Stack(project, run_dir=run_dir, functions_env=env) as stack:
        print(f"\ne2e stack ready after {stack.timings} s; logs in {run_dir}", file=sys.stderr)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FIRESTORE_EMULATOR_HOST", stack.config.firestore.address)
            db = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
            with httpx.Client(timeout=30.0) as http:
                _, admin = sign_up(http, stack.config, {"admin": True})
                yield E2E(stack=stack, http=http, db=db, admin_token=admin)
            db.close()


@pytest.fixture
def world(e2e: E2E) -> Iterator[E2E]:
    """The shared stack, with the simulator's faults and every circuit reset after the test."""
    yield e2e
    e2e.http.post(f"{e2e.sim}/_control/reset").raise_for_status()
    for provider in ("heygen", "did", "runwayml"):
        e2e.circuit(provider, "reset", "clean slate after an e2e test", settle=False)
    time.sleep(DEFAULT_CACHE_TTL_S)
