"""firestore.rules on Google's Firestore emulator, with @firebase/rules-unit-testing (node's test
runner over tools/rules-tests/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.emulators import FirestoreEmulator

ROOT = Path(__file__).resolve().parents[2]
RULES_TESTS = ROOT / "tools" / "rules-tests"

pytestmark = pytest.mark.firestore


@pytest.fixture(scope="module")
def emulator() -> Iterator[FirestoreEmulator]:
    with FirestoreEmulator() as running:
        yield running


def _run_rules_tests(emulator: FirestoreEmulator, **env: str) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node is needed for the rules tests (README: requirements)"
    return subprocess.run(
        [node, "--test", str(RULES_TESTS)],
        cwd=ROOT,
        env={**os.environ, "FIRESTORE_EMULATOR_HOST": emulator.host, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _counts(output: str) -> tuple[int, int]:
    """(passed, failed) from node's test runner summary."""
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)
    assert passed, output
    assert failed, output
    return int(passed[1]), int(failed[1])


def test_the_security_rules_hold(emulator: FirestoreEmulator) -> None:
    """Owners read their own jobs only and list only their own, admins alone read the system
    collections, a signed-out client reads nothing, no client writes anywhere."""
    done = _run_rules_tests(emulator)
    assert done.returncode == 0, done.stdout + done.stderr
    passed, failed = _counts(done.stdout)
    assert (passed, failed) == (8, 0), done.stdout


def test_the_rules_tests_fail_on_rules_that_allow_everything(
    emulator: FirestoreEmulator, tmp_path: Path
) -> None:
    """The rules tests can fail: every one of them does when the rules let anyone do anything."""
    open_rules = tmp_path / "open.rules"
    open_rules.write_text(
        "rules_version = '2';\n"
        "service cloud.firestore {\n"
        "  match /databases/{database}/documents {\n"
        "    match /{document=**} { allow read, write: if true; }\n"
        "  }\n"
        "}\n"
    )
    done = _run_rules_tests(emulator, CVPLUS_RULES_FILE=str(open_rules))
    passed, failed = _counts(done.stdout)
    assert done.returncode != 0
    # "a user reads their own job" still passes; every other test fails.
    assert (passed, failed) == (1, 7), done.stdout


def test_every_collection_the_stores_write_has_a_rule() -> None:
    """A collection added to the stores without a rule would fall to the deny-all default
    silently; this names it."""
    from shared.adapters.stores import base

    rules = (ROOT / "firestore.rules").read_text()
    collections = {
        base.JOBS,
        base.JOBS_INTERNAL,
        base.CV_JOBS,
        base.BREAKERS,
        base.TRANSITIONS,
        base.METRICS,
        base.RECOVERY_LOGS,
        base.STATS,
        base.QUOTAS,
        base.SPEND,
    }
    missing = {c for c in collections if f"match /{c}/" not in rules}
    assert missing == set()
    assert f"match /{base.BUCKETS}/" in rules
