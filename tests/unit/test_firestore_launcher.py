"""How the launcher finds Google's Firestore emulator (the path these machines cannot run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.firestore_server import FirestoreServer, FirestoreServerError, google_emulator_jar


def test_an_explicit_binary_path_wins_when_the_file_exists(tmp_path: Path) -> None:
    """FIRESTORE_EMULATOR_BINARY_PATH is what firebase-tools runs, so it is what we run."""
    jar = tmp_path / "my-emulator.jar"
    jar.write_bytes(b"")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "cloud-firestore-emulator-v1.19.1.jar").write_bytes(b"")
    env = {"FIRESTORE_EMULATOR_BINARY_PATH": str(jar), "FIREBASE_EMULATORS_PATH": str(cache)}
    assert google_emulator_jar(env) == jar


def test_an_explicit_binary_path_to_a_missing_file_means_no_emulator(tmp_path: Path) -> None:
    """A stale setting does not silently fall through to another JAR."""
    assert google_emulator_jar({"FIRESTORE_EMULATOR_BINARY_PATH": str(tmp_path / "x")}) is None


def test_the_newest_cached_jar_is_chosen_by_version_not_by_name(tmp_path: Path) -> None:
    """v1.19.1 is newer than v1.9.0 although it sorts first as text."""
    for version in ("1.9.0", "1.19.1", "1.18.2"):
        (tmp_path / f"cloud-firestore-emulator-v{version}.jar").write_bytes(b"")
    (tmp_path / "pubsub-emulator-0.8.2.zip").write_bytes(b"")
    found = google_emulator_jar({"FIREBASE_EMULATORS_PATH": str(tmp_path)})
    assert found == tmp_path / "cloud-firestore-emulator-v1.19.1.jar"


def test_no_jar_means_no_emulator(tmp_path: Path) -> None:
    """An empty cache leaves the npm server as the backend."""
    assert google_emulator_jar({"FIREBASE_EMULATORS_PATH": str(tmp_path)}) is None


def test_asking_for_google_without_its_jar_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """backend="google" never falls back to the npm server."""
    monkeypatch.setenv("FIREBASE_EMULATORS_PATH", str(tmp_path))
    monkeypatch.delenv("FIRESTORE_EMULATOR_BINARY_PATH", raising=False)
    with pytest.raises(FirestoreServerError, match="JAR"):
        FirestoreServer(backend="google").start()
