"""Secrets: CVPLUS_INTERNAL_SECRET is long enough and present wherever it is used (outside the
emulator), and each function is given only the secrets it uses."""

from __future__ import annotations

import json

import pytest

from functions import runtime, secrets
from shared.core.orchestration import Setup
from shared.shell.context import Shell
from shared.shell.settings import Secret, Settings, SettingsError
from tests.support.harness import Harness
from tests.support.memory import memory_shell

STRONG = "s" * 32


def _problems(run: object) -> dict[str, str]:
    assert callable(run)
    with pytest.raises(SettingsError) as caught:
        run()
    return {p.name: p.reason for p in caught.value.problems}


@pytest.mark.parametrize("short", ["x", "s" * 31, "é" * 15])
def test_a_short_internal_secret_is_a_settings_error_naming_it(short: str) -> None:
    problems = _problems(lambda: Settings.from_env({"CVPLUS_INTERNAL_SECRET": short}))
    assert problems == {"CVPLUS_INTERNAL_SECRET": "shorter than 32 bytes"}


def test_the_error_never_shows_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"CVPLUS_INTERNAL_SECRET": "hunter2-short"})
    assert "hunter2" not in str(caught.value)


def test_32_bytes_is_enough() -> None:
    settings = Settings.from_env({"CVPLUS_INTERNAL_SECRET": STRONG})
    assert settings.internal_secret == Secret(STRONG)
    settings.require(["CVPLUS_INTERNAL_SECRET"])


def test_outside_the_emulator_a_function_that_uses_it_requires_it() -> None:
    settings = Settings.from_env({})
    problems = _problems(lambda: settings.require(["HEYGEN_API_KEY", "CVPLUS_INTERNAL_SECRET"]))
    assert list(problems) == ["CVPLUS_INTERNAL_SECRET"]
    assert "required outside the emulator" in problems["CVPLUS_INTERNAL_SECRET"]
    settings.require(["HEYGEN_API_KEY"])  # provider keys stay optional


def test_in_the_emulator_it_may_be_unset() -> None:
    settings = Settings.from_env({"FUNCTIONS_EMULATOR": "true"})
    assert settings.emulator
    settings.require(["CVPLUS_INTERNAL_SECRET"])


def test_a_task_without_the_secret_fails_naming_it_and_runs_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D-ID jobs used to wait forever without it (no callback token, unsigned tasks)."""
    monkeypatch.setattr(runtime, "_settings", Settings.from_env({}))
    body = json.dumps({"jobId": "vj_" + "b" * 32, "token": "0" * 64}).encode()
    with pytest.raises(SettingsError, match="CVPLUS_INTERNAL_SECRET"):
        harness.post("videoJobTask", body)


def test_the_setup_never_shows_the_internal_secret() -> None:
    """The deployment's Setup holds the key that signs tasks and callback tokens; its repr (in
    a log line or a traceback) leaves the key out."""
    setup = Setup(capabilities={}, token_key=STRONG.encode(), user_jobs_per_hour=7)
    assert STRONG not in repr(setup)
    assert "user_jobs_per_hour=7" in repr(setup)


def test_the_instance_builds_its_shell_once_at_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cold start builds the ports and the setup; every later call gets the same shell, and
    a call missing a secret it declares is refused before anything is built."""
    built: list[Shell] = []

    def build(config: Settings, env: object) -> Shell:
        shell = memory_shell(token_key=config.internal_secret.reveal().encode())
        built.append(shell)
        return shell

    monkeypatch.setattr(runtime, "_shell", None)
    monkeypatch.setattr(runtime.deployment, "build", build)
    monkeypatch.setattr(runtime, "_settings", Settings.from_env({}))
    with pytest.raises(SettingsError, match="CVPLUS_INTERNAL_SECRET"):
        runtime.shell(secrets.WORKER)
    assert built == []
    monkeypatch.setattr(runtime, "_settings", Settings(internal_secret=Secret(STRONG)))
    first = runtime.shell(secrets.WORKER)
    assert runtime.shell() is first
    assert built == [first]
    assert first.setup.token_key == STRONG.encode()


# Function -> the secrets it reads, and nothing else.
EXPECTED = {
    "generateVideo": set(),
    # Cancelling stops a submitted render at its provider (RunwayML): the API keys only.
    "cancelVideoJob": {"HEYGEN_API_KEY", "RUNWAYML_API_KEY", "DID_API_KEY"},
    "cancelGeneration": {"HEYGEN_API_KEY", "RUNWAYML_API_KEY", "DID_API_KEY"},
    "retryVideoJob": set(),
    "getVideoQuota": set(),
    "generateVideoIntroduction": set(),
    "regenerateVideoIntroduction": set(),
    "getVideoStatus": set(),
    "getMediaStatus": set(),
    "getGenerationStatus": set(),
    "rateVideo": set(),
    "systemDashboard": set(),
    "setCircuitState": set(),
    "dashboard": set(),
    "deleteVideo": set(),
    "rotateVideoLinks": set(),
    "processVideoJob": {
        "HEYGEN_API_KEY",
        "RUNWAYML_API_KEY",
        "DID_API_KEY",
        "CVPLUS_INTERNAL_SECRET",
    },
    "videoJobTask": {"HEYGEN_API_KEY", "RUNWAYML_API_KEY", "DID_API_KEY", "CVPLUS_INTERNAL_SECRET"},
    "providerHealthCheck": {
        "HEYGEN_API_KEY",
        "RUNWAYML_API_KEY",
        "DID_API_KEY",
        "CVPLUS_INTERNAL_SECRET",
    },
    "providerWebhook": {"HEYGEN_API_KEY", "CVPLUS_INTERNAL_SECRET"},
}
MODULES = {
    "generateVideo": "generate",
    "cancelVideoJob": "videos",
    "retryVideoJob": "videos",
    "getVideoQuota": "videos",
    "generateVideoIntroduction": "videos",
    "regenerateVideoIntroduction": "videos",
    "getVideoStatus": "videos",
    "getMediaStatus": "videos",
    "getGenerationStatus": "videos",
    "cancelGeneration": "videos",
    "rateVideo": "feedback",
    "systemDashboard": "admin",
    "setCircuitState": "admin",
    "dashboard": "admin",
    "deleteVideo": "videos",
    "rotateVideoLinks": "admin",
    "processVideoJob": "jobs",
    "videoJobTask": "jobs",
    "providerHealthCheck": "health",
    "providerWebhook": "webhooks",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_function_declares_only_the_secrets_it_uses(name: str) -> None:
    import importlib

    fn = getattr(importlib.import_module(f"functions.{MODULES[name]}"), name)
    endpoint = fn.__firebase_endpoint__
    declared = {s["key"] for s in endpoint.secretEnvironmentVariables or []}
    assert declared == EXPECTED[name]


def test_every_deployed_function_is_covered() -> None:
    """main.py's __all__, read without importing it (its import initialises the Admin SDK)."""
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).parents[2] / "main.py").read_text())
    exported = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert set(ast.literal_eval(exported)) == set(EXPECTED)
