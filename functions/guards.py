"""A guard in front of the callables for what the firebase-functions wrapper cannot answer:
a body nested deeper than the JSON parser's recursion limit makes it raise RecursionError,
which it answers 500 INTERNAL. The guard parses the body first (Flask keeps the result for the
wrapper) and answers such a body 400 invalid-argument, in the callable protocol's shape."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from firebase_functions import https_fn

F = TypeVar("F", bound=Callable[..., Any])


def nesting_guard(fn: F) -> F:
    """Wrap a deployed callable (``@nesting_guard`` above ``@https_fn.on_call``); its endpoint
    attributes are kept, so deployment sees the same function."""

    @functools.wraps(fn)
    def guarded(request: https_fn.Request) -> Any:
        try:
            request.get_json(silent=True)
        except RecursionError:
            body = {"error": {"status": "INVALID_ARGUMENT", "message": "JSON nested too deeply"}}
            return https_fn.Response(
                json.dumps(body),
                status=400,
                content_type="application/json",
                headers={"Access-Control-Allow-Origin": "*"},
            )
        return fn(request)

    return guarded  # type: ignore[return-value]
