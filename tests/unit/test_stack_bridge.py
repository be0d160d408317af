"""The bridge's pure parts: trigger discovery, path matching, which kinds fire, trigger keys, and
the CloudEvent itself, decoded by firebase_functions' own Firestore handler."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import firebase_admin
import httpx
import pytest
from cloudevents.http import from_http
from firebase_functions import firestore_fn
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import document as firestore_document
from google.cloud.firestore_v1.types import firestore
from google.cloud.firestore_v1.types import write as write_types
from google.events.cloud.firestore_v1.types import data as event_data

from tools.stack.bridge import (
    TARGET_ID,
    Change,
    CollectionWatch,
    EventBridge,
    Trigger,
    cloud_event,
    event_document,
    fires,
    matches,
    newest_key,
    trigger_keys,
    triggers_from_backends,
)

WRITTEN = "google.cloud.firestore.document.v1.written"
# Trimmed from a real /backends answer of firebase-tools 15.34.2.
BACKENDS = {
    "backends": [
        {
            "directory": "/tmp/project",
            "functionTriggers": [
                {
                    "id": "us-central1-processVideoJob",
                    "eventTrigger": {
                        "eventType": WRITTEN,
                        "eventFilters": {"database": "(default)", "namespace": "(default)"},
                        "eventFilterPathPatterns": {"document": "enhanced_video_jobs/{jobId}"},
                    },
                },
                {"id": "us-central1-generateVideo", "httpsTrigger": {}},
                {
                    "id": "us-central1-otherDb",
                    "eventTrigger": {
                        "eventType": WRITTEN,
                        "eventFilters": {"database": "analytics", "namespace": "(default)"},
                        "eventFilterPathPatterns": {"document": "x/{id}"},
                    },
                },
                {
                    "id": "us-central1-exact",
                    "eventTrigger": {
                        "eventType": "google.cloud.firestore.document.v1.deleted",
                        "eventFilters": {"database": "(default)", "document": "config/main"},
                    },
                },
            ],
        }
    ]
}


def test_only_firestore_triggers_on_the_default_database_are_bridged() -> None:
    """HTTP functions and other databases are left out; exact-document filters are kept."""
    assert triggers_from_backends(BACKENDS) == [
        Trigger("us-central1-processVideoJob", WRITTEN, "enhanced_video_jobs/{jobId}"),
        Trigger("us-central1-exact", "google.cloud.firestore.document.v1.deleted", "config/main"),
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("enhanced_video_jobs/{jobId}", "enhanced_video_jobs/abc", True),
        ("enhanced_video_jobs/{jobId}", "enhanced_video_jobs/abc/logs/1", False),
        ("enhanced_video_jobs/{jobId}", "provider_metrics/abc", False),
        ("enhanced_video_jobs/*", "enhanced_video_jobs/abc", True),
        ("config/main", "config/main", True),
        ("config/main", "config/other", False),
        ("jobs/{id}/logs/{logId}", "jobs/a/logs/b", True),
        ("jobs/{rest=**}", "jobs/a/logs/b", True),
        ("jobs/**", "jobs/a", True),
        ("jobs/{rest=**}", "other/a", False),
    ],
)
def test_a_path_matches_a_pattern_segment_by_segment(
    pattern: str, path: str, expected: bool
) -> None:
    """{x} and * take one segment, {x=**} and ** the rest, literals must be equal."""
    assert matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("kind", "before", "after", "expected"),
    [
        ("written", None, {"a": 1}, True),
        ("written", {"a": 1}, {"a": 2}, True),
        ("written", {"a": 1}, None, True),
        ("created", None, {"a": 1}, True),
        ("created", {"a": 1}, {"a": 2}, False),
        ("updated", {"a": 1}, {"a": 2}, True),
        ("updated", None, {"a": 1}, False),
        ("deleted", {"a": 1}, None, True),
        ("deleted", {"a": 1}, {"a": 2}, False),
        ("written", None, None, False),
    ],
)
def test_each_trigger_kind_fires_on_its_changes(
    kind: str, before: object, after: object, expected: bool
) -> None:
    """written: every change; created/updated/deleted: only theirs."""
    assert fires(kind, before=before, after=after) is expected


def test_trigger_keys_come_from_the_emulators_not_found_answer() -> None:
    """The emulator lists its keys in the 404 for an unknown trigger; the newest generation wins."""
    answer = (
        "Function us-central1-x does not exist, valid functions are: "
        "us-central1-processVideoJob-0, us-central1-ping, us-central1-processVideoJob-2"
    )
    keys = trigger_keys(answer)
    assert keys == [
        "us-central1-processVideoJob-0",
        "us-central1-ping",
        "us-central1-processVideoJob-2",
    ]
    assert newest_key("us-central1-processVideoJob", keys) == "us-central1-processVideoJob-2"
    assert newest_key("us-central1-process", keys) is None
    assert trigger_keys("Not Found") == []


def _stored(data: dict[str, Any], path: str = "enhanced_video_jobs/job-1") -> Any:
    """A document as the Firestore server sends it on a Listen stream."""
    return firestore_document.Document(
        name=f"projects/demo-cvplus/databases/(default)/documents/{path}",
        fields=_helpers.encode_dict(data),
        create_time=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        update_time=datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC),
    )


def _event(before: dict[str, Any] | None, after: dict[str, Any] | None) -> Any:
    path = "enhanced_video_jobs/job-1"
    docs = [None if d is None else event_document(_stored(d, path)) for d in (before, after)]
    trigger = Trigger("us-central1-processVideoJob", WRITTEN, "enhanced_video_jobs/{jobId}")
    headers, body = cloud_event(
        trigger,
        project="demo-cvplus",
        path=path,
        before=docs[0],
        after=docs[1],
        time_=datetime(2026, 11, 29, 12, 0, 5, tzinfo=UTC),
    )
    return headers, body


def test_the_event_headers_are_those_of_a_firestore_cloudevent() -> None:
    """Binary mode: content type protobuf, ce-* attributes as Firestore sets them."""
    headers, _ = _event(None, {"status": "queued"})
    assert headers["content-type"] == "application/protobuf"
    assert headers["ce-type"] == WRITTEN
    assert (
        headers["ce-source"]
        == "//firestore.googleapis.com/projects/demo-cvplus/databases/(default)"
    )
    assert headers["ce-subject"] == "documents/enhanced_video_jobs/job-1"
    assert headers["ce-document"] == "enhanced_video_jobs/job-1"
    assert headers["ce-database"] == "(default)"
    assert headers["ce-namespace"] == "(default)"
    assert headers["ce-project"] == "demo-cvplus"
    assert headers["ce-time"] == "2026-11-29T12:00:05Z"
    assert headers["ce-specversion"] == "1.0"


def test_the_body_is_base64_of_document_event_data_with_old_and_new_values() -> None:
    """The emulator base64-decodes protobuf bodies; inside, value and old_value are both set."""
    _, body = _event({"status": "queued"}, {"status": "processing"})
    decoded = event_data.DocumentEventData.deserialize(base64.b64decode(body))
    assert decoded.value.fields["status"].string_value == "processing"
    assert decoded.old_value.fields["status"].string_value == "queued"
    assert decoded.value.name.endswith("/documents/enhanced_video_jobs/job-1")


@pytest.fixture
def firebase_handler_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What firebase_functions needs to build its Firestore client; no server is contacted."""
    monkeypatch.setenv("GCLOUD_PROJECT", "demo-cvplus")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    yield
    for app in list(firebase_admin._apps.values()):
        firebase_admin.delete_app(app)


@pytest.mark.usefixtures("firebase_handler_env")
def test_firebase_functions_reads_the_event_as_a_change_with_params() -> None:
    """The SDK's own on_document_written handler decodes our event into before/after and
    the {jobId} parameter: the same path the Functions emulator takes."""
    seen: list[firestore_fn.Event[Any]] = []

    @firestore_fn.on_document_written(document="enhanced_video_jobs/{jobId}")
    def handler(event: firestore_fn.Event[Any]) -> None:
        seen.append(event)

    headers, body = _event({"status": "queued", "attempt": 0}, {"status": "done", "attempt": 1})
    handler(from_http(headers, base64.b64decode(body)))
    (event,) = seen
    assert event.params == {"jobId": "job-1"}
    assert event.document == "enhanced_video_jobs/job-1"
    assert event.data.before.to_dict() == {"status": "queued", "attempt": 0}
    assert event.data.after.to_dict() == {"status": "done", "attempt": 1}


def _watch() -> tuple[CollectionWatch, list[tuple[list[Change], bool]]]:
    batches: list[tuple[list[Change], bool]] = []
    watch = CollectionWatch(
        Any,  # type: ignore[arg-type]  # never called: responses are handed in directly
        project="demo-cvplus",
        collection="enhanced_video_jobs",
        on_changes=lambda changes, initial: batches.append((changes, initial)),
    )
    return watch, batches


def _target(kind: str, *, ids: tuple[int, ...] = ()) -> firestore.ListenResponse:
    kinds = firestore.TargetChange.TargetChangeType
    return firestore.ListenResponse(
        target_change=firestore.TargetChange(target_change_type=kinds[kind], target_ids=ids)
    )


def _doc(data: dict[str, Any], doc_id: str) -> firestore.ListenResponse:
    return firestore.ListenResponse(
        document_change=write_types.DocumentChange(
            document=_stored(data, f"enhanced_video_jobs/{doc_id}"), target_ids=[TARGET_ID]
        )
    )


def test_a_watch_hands_over_consistent_batches_initial_first() -> None:
    """Documents are held until the server's global NO_CHANGE after CURRENT; then each batch
    holds the last state of every document that changed, or None for one deleted."""
    watch, batches = _watch()
    for response in [
        _target("ADD", ids=(TARGET_ID,)),
        _doc({"n": 1}, "a"),
        _target("CURRENT", ids=(TARGET_ID,)),
        _target("NO_CHANGE"),
        _doc({"n": 2}, "a"),
        _doc({"n": 3}, "a"),
        _doc({"n": 1}, "b"),
        firestore.ListenResponse(
            document_delete=write_types.DocumentDelete(
                document="projects/demo-cvplus/databases/(default)/documents/enhanced_video_jobs/c"
            )
        ),
        _target("NO_CHANGE", ids=(TARGET_ID,)),  # not global: no batch yet
        _target("NO_CHANGE"),
    ]:
        watch._handle(response, initial=not batches)
    assert [(len(changes), initial) for changes, initial in batches] == [(1, True), (3, False)]
    later = {c.path: c.document for c in batches[1][0]}
    assert later["enhanced_video_jobs/c"] is None
    assert _helpers.decode_dict(later["enhanced_video_jobs/a"].fields, None) == {"n": 3}
    assert set(later) == {"enhanced_video_jobs/a", "enhanced_video_jobs/b", "enhanced_video_jobs/c"}


class _Stream:
    """A Listen stream that yields ``responses``, then fails (``breaks``) or waits to be
    cancelled."""

    def __init__(self, responses: list[Any], *, breaks: bool) -> None:
        self._responses, self._breaks = responses, breaks
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        yield from self._responses
        if self._breaks:
            raise ConnectionResetError("stream broken")
        self._cancelled.wait(10)

    def cancel(self) -> None:
        self._cancelled.set()


class _Api:
    def __init__(self, *streams: _Stream) -> None:
        self.streams = list(streams)

    def listen(self, requests: Iterator[Any], metadata: Any) -> _Stream:
        assert next(requests).add_target.query.structured_query.from_[0].collection_id
        return self.streams.pop(0)


def test_a_broken_stream_is_reopened_and_its_resend_is_not_initial() -> None:
    """A change the first stream had not confirmed comes again on the second stream, in a
    batch that is not taken for the start (so the bridge delivers what it has not seen)."""
    first = _Stream(
        [
            _target("CURRENT", ids=(TARGET_ID,)),
            _doc({"n": 1}, "a"),  # arrives before CURRENT in practice; order does not matter
            _target("NO_CHANGE"),
            _doc({"n": 2}, "a"),  # never confirmed: the stream breaks
        ],
        breaks=True,
    )
    second = _Stream(
        [_doc({"n": 2}, "a"), _target("CURRENT", ids=(TARGET_ID,)), _target("NO_CHANGE")],
        breaks=False,
    )
    batches: list[tuple[list[Change], bool]] = []
    done = threading.Event()

    def on_changes(changes: list[Change], initial: bool) -> None:
        batches.append((changes, initial))
        if len(batches) == 2:
            done.set()

    watch = CollectionWatch(
        _Api(first, second),  # type: ignore[arg-type]
        project="demo-cvplus",
        collection="enhanced_video_jobs",
        on_changes=on_changes,
    )
    watch.start()
    try:
        assert done.wait(10), batches
    finally:
        watch.stop()
    assert [initial for _, initial in batches] == [True, False]
    (change,) = batches[1][0]
    assert change.document is not None
    assert _helpers.decode_dict(change.document.fields, None) == {"n": 2}


def test_the_bridge_posts_a_change_once_and_skips_a_resent_document() -> None:
    """The start and a reopened stream's resend of an unchanged document post nothing; a new
    state of it posts one event, to the matching trigger."""
    posted: list[str] = []

    def functions_emulator(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/backends":
            return httpx.Response(200, json=BACKENDS)
        if "__cvplus_bridge_probe__" not in request.url.path:
            posted.append(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(404 if "probe" in request.url.path else 200, text="")

    bridge = EventBridge(
        api=Any,  # type: ignore[arg-type]  # no watch is started
        functions_url="http://functions",
        project="demo-cvplus",
        workers=1,
        http=httpx.Client(transport=httpx.MockTransport(functions_emulator)),
    )
    path = "enhanced_video_jobs/job-1"
    bridge._on_changes([Change(path, _stored({"n": 1}, path))], initial=True)
    bridge._on_changes([Change(path, _stored({"n": 1}, path))], initial=False)
    bridge._on_changes([Change(path, _stored({"n": 2}, path))], initial=False)
    bridge.stop()
    assert posted == ["us-central1-processVideoJob"]
