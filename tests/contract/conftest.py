"""Contract-test fixtures: one verified loopback Firestore server per session, clean collections
per test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from tools.firestore_server import FirestoreServer

PROJECT = "demo-cvplus"


@pytest.fixture(scope="session")
def firestore_server() -> Iterator[FirestoreServer]:
    """The server, started once per session; start() has already proved it isolates."""
    with FirestoreServer() as server:
        yield server


@pytest.fixture(scope="session")
def firestore_client(firestore_server: FirestoreServer) -> Iterator[firestore.Client]:
    """A client as the functions build one, with FIRESTORE_EMULATOR_HOST set for the session."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FIRESTORE_EMULATOR_HOST", firestore_server.host)
        client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
        yield client
        client.close()


CollectionFactory = Callable[[str], firestore.CollectionReference]


def _delete_all(client: firestore.Client, collection: firestore.CollectionReference) -> None:
    # list_documents() is not implemented by the npm server; a query over the collection is.
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
