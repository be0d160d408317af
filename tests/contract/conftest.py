"""Contract-test fixtures: Google's Firestore emulator, one per session, clean collections per
test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from tests.support.stacks import PROJECT
from tools.emulators import FirestoreEmulator


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    """Google's emulator, started once per session (about 4 s)."""
    with FirestoreEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def firestore_client(firestore_emulator: FirestoreEmulator) -> Iterator[firestore.Client]:
    """A client as the functions build one, with FIRESTORE_EMULATOR_HOST set for the session."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
        client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
        yield client
        client.close()


CollectionFactory = Callable[[str], firestore.CollectionReference]


def _delete_all(client: firestore.Client, collection: firestore.CollectionReference) -> None:
    batch = client.batch()
    for snapshot in collection.stream():
        batch.delete(snapshot.reference)
    batch.commit()


@pytest.fixture
def collection(firestore_client: firestore.Client) -> Iterator[CollectionFactory]:
    """collection("jobs") -> a collection unique to this test, emptied afterwards."""
    made: list[firestore.CollectionReference] = []

    def make(name: str) -> firestore.CollectionReference:
        ref = firestore_client.collection(f"{name}-{uuid.uuid4().hex[:8]}")
        made.append(ref)
        return ref

    yield make
    for ref in made:
        _delete_all(firestore_client, ref)
