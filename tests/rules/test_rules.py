"""firestore.rules, tested with @firebase/rules-unit-testing where Google's Firestore emulator
runs; skipped, saying why, where it cannot (these machines cannot download its JAR)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tools.firestore_server import google_emulator_jar

ROOT = Path(__file__).resolve().parents[2]
FIREBASE = ROOT / "tools" / "node_modules" / ".bin" / "firebase"


def test_the_security_rules_hold() -> None:
    """Users read their own jobs only, admins the system collections, no client writes."""
    if google_emulator_jar() is None or shutil.which("java") is None:
        pytest.skip(
            "Google's Firestore emulator (a JAR firebase-tools downloads) and java are needed "
            "for the rules tests; this machine has no JAR and cannot download it"
        )
    done = subprocess.run(
        [
            str(FIREBASE),
            "emulators:exec",
            "--only",
            "firestore",
            "--project",
            "demo-cvplus-rules",
            "node --test tools/rules-tests/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_collection_the_stores_write_has_a_rule() -> None:
    """A collection added to the stores without a rule would fall to the deny-all default
    silently; this names it."""
    from shared.stores import base

    rules = (ROOT / "firestore.rules").read_text()
    collections = {
        base.JOBS,
        base.BREAKERS,
        base.TRANSITIONS,
        base.METRICS,
        base.RECOVERY_LOGS,
        base.STATS,
    }
    missing = {c for c in collections if f"match /{c}/" not in rules}
    assert missing == set()
    assert f"match /{base.BUCKETS}/" in rules
