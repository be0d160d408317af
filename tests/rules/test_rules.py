"""The security rules: firestore.rules (the fragment rules/firestore.video.rules in the standalone
ruleset) and the fragment merged into a representative CVPlus app ruleset (tests/rules/app), on
Google's Firestore emulator with @firebase/rules-unit-testing (node's test runner over
tools/rules-tests/); and tools/merge_rules.py, which refuses a merge that would weaken either."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import merge_rules
from tools.emulators import FirestoreEmulator

ROOT = Path(__file__).resolve().parents[2]
RULES_TESTS = ROOT / "tools" / "rules-tests"
APP = Path(__file__).resolve().parent / "app"


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


def _counts(output: str) -> tuple[int, int, int]:
    """(passed, failed, skipped) from node's test runner summary."""
    counts = []
    for word in ("pass", "fail", "skipped"):
        found = re.search(rf"^# {word} (\d+)$", output, re.MULTILINE)
        assert found, output
        counts.append(int(found[1]))
    return counts[0], counts[1], counts[2]


@pytest.mark.firestore
def test_the_security_rules_hold(emulator: FirestoreEmulator) -> None:
    """Owners read their own jobs only and list only their own, admins alone read the system
    collections, a signed-out client reads nothing, no client writes anywhere."""
    done = _run_rules_tests(emulator)
    assert done.returncode == 0, done.stdout + done.stderr
    # The app's operations (app.rules.test.mjs, 4) run on the merged ruleset only.
    assert _counts(done.stdout) == (9, 0, 4), done.stdout


@pytest.mark.firestore
def test_merged_into_the_apps_rules_the_app_works_and_the_video_collections_stay_protected(
    emulator: FirestoreEmulator, tmp_path: Path
) -> None:
    """The app's owner creates and updates jobs/{id}, writes users/{uid}, reads public
    profiles; the video collections keep every protection of the standalone ruleset."""
    merged = tmp_path / "firestore.rules"
    app = (APP / "firestore.rules").read_text()
    merged.write_text(
        merge_rules.merge("firestore", app, merge_rules.FRAGMENTS["firestore"].read_text())
    )
    done = _run_rules_tests(emulator, CVPLUS_RULES_FILE=str(merged), CVPLUS_RULES_MERGED="1")
    assert done.returncode == 0, done.stdout + done.stderr
    # The standalone CV-jobs test is the app's there: its own four tests replace it.
    assert _counts(done.stdout) == (12, 0, 1), done.stdout


@pytest.mark.firestore
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
    assert done.returncode != 0
    # "a user reads their own job" still passes; every other test fails.
    assert _counts(done.stdout) == (1, 8, 4), done.stdout


def test_every_collection_the_stores_write_has_a_rule() -> None:
    """A collection added to the stores without a rule would fall to the deny-all default
    silently; this names it."""
    from shared.adapters.stores import base

    rules = (ROOT / "rules" / "firestore.video.rules").read_text()
    rules += (ROOT / "rules" / "firestore.standalone.rules").read_text()
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


def test_the_standalone_rules_are_the_fragments_merged_into_the_standalone_bases() -> None:
    """firestore.rules and storage.rules are generated; an edit by hand would drift."""
    assert merge_rules.main(["--standalone", "--check"]) == 0
    for kind, (_, target) in merge_rules.STANDALONE.items():
        assert target.read_text() == merge_rules.standalone(kind)
        assert (
            merge_rules.FRAGMENTS[kind].read_text().strip().splitlines()[-1] in target.read_text()
        )


def test_the_fragment_leaves_the_apps_cv_jobs_to_the_app() -> None:
    """jobs/{jobId} is the app's (its upload creates and updates them); our mirror writes are
    server-side, so the fragment has no rule for it."""
    fragment = merge_rules.FRAGMENTS["firestore"].read_text()
    assert "match /jobs/" not in fragment
    assert "match /jobs/" in (ROOT / "firestore.rules").read_text()


def test_a_merge_into_rules_that_already_match_a_video_path_is_refused() -> None:
    """The app's storage.rules grants every signed-in user videos/{jobId}/{fileName}; with it
    the fragment's owner-only videos/<uid>/ would be readable by all, so no merge."""
    app = (APP / "storage.rules").read_text()
    fragment = merge_rules.FRAGMENTS["storage"].read_text()
    with pytest.raises(merge_rules.MergeRefusedError, match=r"already match /videos/"):
        merge_rules.merge("storage", app, fragment)
    without = re.sub(r"\n    match /videos/\{jobId\}.*?\n    \}\n", "\n", app, flags=re.S)
    assert "match /videos/{jobId}" not in without
    merged = merge_rules.merge("storage", without, fragment)
    assert merged.count("match /videos/{userId}/{fileName}") == 1
    assert "match /users/{userId}/uploads/{jobId}/{fileName}" in merged


@pytest.mark.parametrize(
    ("inside", "why"),
    [
        ("match /alerts/{id} { allow read: if true; }", "already match /alerts/"),
        ("match /{coll}/{id} { allow read: if request.auth != null; }", "allow access there"),
        ("match /{path=**} { allow read; }", "allow access there"),
        ("function videoAdmin() { return true; }", "function videoAdmin"),
    ],
)
def test_a_merge_that_would_weaken_the_fragment_is_refused(inside: str, why: str) -> None:
    """Rules grant access when any rule does: a same path, a permissive wildcard at the top, or a
    function of the same name would each change what the fragment protects."""
    app = (
        "rules_version = '2';\nservice cloud.firestore {\n"
        "  match /databases/{database}/documents {\n"
        "    match /jobs/{jobId} { allow read: if false; }\n"
        f"    {inside}\n"
        "    match /{document=**} { allow read, write: if false; }\n  }\n}\n"
    )
    with pytest.raises(merge_rules.MergeRefusedError, match=why):
        merge_rules.merge("firestore", app, merge_rules.FRAGMENTS["firestore"].read_text())


def test_the_merge_cli_refuses_with_exit_1_and_writes_nothing(tmp_path: Path) -> None:
    """The operator's command: refused, named on stderr, no output file."""
    out = tmp_path / "merged.rules"
    code = merge_rules.main(["storage", str(APP / "storage.rules"), "-o", str(out)])
    assert code == 1
    assert not out.exists()
    assert merge_rules.main(["firestore", str(APP / "firestore.rules"), "-o", str(out)]) == 0
    assert "videoAdmin()" in out.read_text()
    assert merge_rules.main(["firestore", str(out)]) == 1  # already merged: refused
