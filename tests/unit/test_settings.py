"""Settings.from_env: defaults, parsing, every bad variable named at once, secrets never shown."""

from __future__ import annotations

import dataclasses

import pytest

from shared.shell.settings import Secret, Settings, SettingsError

FULL_ENV = {
    "HEYGEN_API_KEY": "hg-key-123",
    "RUNWAYML_API_KEY": "rw-key-789",
    "DID_API_KEY": "did-key-abc",
    "HEYGEN_BASE_URL": "http://127.0.0.1:8101/",
    "RUNWAYML_BASE_URL": "http://localhost:8102",
    "DID_BASE_URL": "https://did.example.test/api",
    "PUBLIC_WEBHOOK_BASE_URL": "https://hooks.example.test",
    "CIRCUIT_BREAKER_ENABLED": "false",
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD": "7",
    "CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "45000",
    "PERFORMANCE_TRACKING_ENABLED": "no",
    "HEYGEN_AVATAR_ID": "look_123",
    "RUNWAYML_PROMPT_IMAGE_URL": "https://img.example.test/still.jpg?v=2",
    "CVPLUS_TASKS_QUEUE": "projects/p1/locations/europe-west1/queues/video-jobs",
    "CVPLUS_TASKS_EMULATOR_HOST": "127.0.0.1:8123",
    "CVPLUS_TASKS_SERVICE_ACCOUNT": "tasks@p1.iam.gserviceaccount.com",
    "CVPLUS_FUNCTIONS_BASE_URL": "http://127.0.0.1:5001/p1/europe-west1/",
    "MAX_RETRY_ATTEMPTS": "5",
    "QUALITY_THRESHOLD": "7.25",
    "COST_OPTIMIZATION": "TRUE",
    "USER_JOBS_PER_HOUR": "25",
    "CVPLUS_VIDEO_BUCKET": "cvplus-videos.example.test",
    "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9199/",
}


_BUCKET_RULES = (
    "not a bucket name (3-222 of a-z 0-9 . _ -, starting and ending with a letter or digit, "
    "dot-separated parts of at most 63)"
)


def _problems(env: dict[str, str]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return {p.name: p.reason for p in caught.value.problems}


def test_an_empty_environment_gives_the_seed_defaults() -> None:
    """Nothing set: the seed's values, the public base URLs, no secrets, 10 jobs per hour."""
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.heygen_base_url == "https://api.heygen.com"
    assert settings.runwayml_base_url == "https://api.dev.runwayml.com"
    assert settings.did_base_url == "https://api.d-id.com"
    assert settings.public_webhook_base_url is None
    assert settings.heygen_api_key is None
    assert settings.circuit_breaker_enabled is True
    assert settings.circuit_breaker_failure_threshold is None
    assert settings.circuit_breaker_recovery_timeout_s is None
    assert settings.performance_tracking_enabled is True
    assert settings.tasks_queue is None
    assert settings.functions_base_url is None
    assert settings.max_retry_attempts == 3
    assert settings.quality_threshold == 8.5
    assert settings.cost_optimization is False
    assert settings.user_jobs_per_hour == 100
    assert settings.daily_spend_cap_usd == 500.0  # a cap ships on: a burst cannot run up a bill
    assert settings.jobs_per_minute == 60


def test_every_variable_is_read_with_its_type() -> None:
    """Each of the variables lands in its field, typed, milliseconds kept."""
    settings = Settings.from_env(FULL_ENV)
    assert settings.heygen_api_key == Secret("hg-key-123")
    assert settings.runwayml_api_key == Secret("rw-key-789")
    assert settings.did_api_key == Secret("did-key-abc")
    assert settings.heygen_base_url == "http://127.0.0.1:8101"  # trailing slash dropped
    assert settings.runwayml_base_url == "http://localhost:8102"
    assert settings.did_base_url == "https://did.example.test/api"
    assert settings.public_webhook_base_url == "https://hooks.example.test"
    assert settings.circuit_breaker_enabled is False
    assert settings.circuit_breaker_failure_threshold == 7
    assert settings.circuit_breaker_recovery_timeout_ms == 45_000
    assert settings.circuit_breaker_recovery_timeout_s == 45.0
    assert settings.performance_tracking_enabled is False
    assert settings.heygen_avatar_id == "look_123"
    assert settings.heygen_voice_id is None
    assert settings.runwayml_prompt_image_url == "https://img.example.test/still.jpg?v=2"
    assert settings.tasks_queue == "projects/p1/locations/europe-west1/queues/video-jobs"
    assert settings.tasks_emulator_host == "127.0.0.1:8123"
    assert settings.tasks_service_account == "tasks@p1.iam.gserviceaccount.com"
    assert settings.functions_base_url == "http://127.0.0.1:5001/p1/europe-west1"
    assert settings.max_retry_attempts == 5
    assert settings.quality_threshold == 7.25
    assert settings.cost_optimization is True
    assert settings.user_jobs_per_hour == 25
    assert settings.video_bucket == "cvplus-videos.example.test"
    assert settings.storage_emulator_host == "http://127.0.0.1:9199"


def test_the_settings_are_frozen() -> None:
    """Read once at cold start; nobody changes them afterwards."""
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_retry_attempts = 9  # type: ignore[misc]


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_variable_takes_its_default(blank: str) -> None:
    """`X=` in an .env file means unset, not an error."""
    assert Settings.from_env({"MAX_RETRY_ATTEMPTS": blank, "HEYGEN_API_KEY": blank}) == Settings()


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("MAX_RETRY_ATTEMPTS", "abc", "not an integer"),
        ("MAX_RETRY_ATTEMPTS", "2.5", "not an integer"),
        ("MAX_RETRY_ATTEMPTS", "-1", "must be between 0 and 10"),
        ("MAX_RETRY_ATTEMPTS", "11", "must be between 0 and 10"),
        ("QUALITY_THRESHOLD", "high", "not a number"),
        ("QUALITY_THRESHOLD", "10.5", "must be between 0 and 10"),
        ("QUALITY_THRESHOLD", "-0.1", "must be between 0 and 10"),
        ("QUALITY_THRESHOLD", "nan", "must be between 0 and 10"),
        ("CIRCUIT_BREAKER_ENABLED", "maybe", "not a boolean (true/false, 1/0, yes/no, on/off)"),
        ("CIRCUIT_BREAKER_FAILURE_THRESHOLD", "0", "must be between 1 and 1000"),
        ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "60", "must be between 1000 and 86400000"),
        ("CVPLUS_TASKS_QUEUE", "video-jobs", "not a queue name (projects/P/locations/L/queues/Q)"),
        ("CVPLUS_TASKS_EMULATOR_HOST", "localhost", "not host:port"),
        ("CVPLUS_TASKS_EMULATOR_HOST", "localhost:99999", "not host:port"),
        ("CVPLUS_TASKS_SERVICE_ACCOUNT", "tasks", "not a service account email"),
        ("CVPLUS_FUNCTIONS_BASE_URL", "functions", "not an http(s) URL with a host"),
        ("HEYGEN_VOICE_ID", "my voice", "an id takes no spaces"),
        ("CVPLUS_VIDEO_BUCKET", "gs://videos", "the bucket's name, without gs://"),
        ("CVPLUS_VIDEO_BUCKET", "Videos", _BUCKET_RULES),
        ("CVPLUS_VIDEO_BUCKET", "ab", _BUCKET_RULES),
        ("CVPLUS_VIDEO_BUCKET", "a..b", _BUCKET_RULES),
        ("STORAGE_EMULATOR_HOST", "127.0.0.1:9199", "not an http(s) URL with a host"),
        (
            "DID_SOURCE_URL_PORTRAIT",
            "http://img.test/p.jpg",
            "must use https (plain http only for localhost/127.0.0.1)",
        ),
        ("DID_SOURCE_URL_LANDSCAPE", "img.test/p.jpg", "not an http(s) URL with a host"),
        ("DID_SOURCE_URL_LANDSCAPE", "http://[::1", "not an http(s) URL with a host"),
        ("USER_JOBS_PER_HOUR", "0", "must be between 1 and 10000"),
        ("HEYGEN_BASE_URL", "api.heygen.com", "not an http(s) URL with a host"),
        ("HEYGEN_BASE_URL", "ftp://api.heygen.com", "not an http(s) URL with a host"),
        ("HEYGEN_BASE_URL", "http://[::1", "not an http(s) URL with a host"),
        (
            "DID_BASE_URL",
            "http://api.d-id.com",
            "must use https (plain http only for localhost/127.0.0.1)",
        ),
        ("RUNWAYML_BASE_URL", "https://x.test/?v=1", "a base URL takes no query or fragment"),
        ("PUBLIC_WEBHOOK_BASE_URL", "hooks", "not an http(s) URL with a host"),
    ],
)
def test_a_bad_value_is_named_with_the_reason(name: str, value: str, reason: str) -> None:
    """The error names the variable, shows the value and says why it is bad."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert _problems({name: value}) == {name: reason}
    assert f"{name}={value!r}: {reason}" in str(caught.value)


def test_the_example_from_the_brief_reads_as_promised() -> None:
    """MAX_RETRY_ATTEMPTS='abc' reads "MAX_RETRY_ATTEMPTS='abc': not an integer"."""
    with pytest.raises(SettingsError, match="MAX_RETRY_ATTEMPTS='abc': not an integer"):
        Settings.from_env({"MAX_RETRY_ATTEMPTS": "abc"})


def test_every_bad_variable_is_reported_in_one_error() -> None:
    """Three mistakes, one error listing all three, so a deploy is fixed in one go."""
    env = {
        **FULL_ENV,
        "MAX_RETRY_ATTEMPTS": "abc",
        "QUALITY_THRESHOLD": "11",
        "COST_OPTIMIZATION": "sometimes",
    }
    assert _problems(env) == {
        "MAX_RETRY_ATTEMPTS": "not an integer",
        "QUALITY_THRESHOLD": "must be between 0 and 10",
        "COST_OPTIMIZATION": "not a boolean (true/false, 1/0, yes/no, on/off)",
    }


@pytest.mark.parametrize("raw", ["True", "1", "yes", "ON", " true "])
def test_booleans_accept_the_usual_spellings(raw: str) -> None:
    """true/1/yes/on in any case, surrounding spaces ignored."""
    assert Settings.from_env({"COST_OPTIMIZATION": raw}).cost_optimization is True


def test_secrets_never_appear_in_repr_or_str() -> None:
    """No key or webhook secret shows in the settings' repr or str (logs print both)."""
    settings = Settings.from_env(FULL_ENV)
    for shown in (repr(settings), str(settings), str(settings.heygen_api_key)):
        for name in ("HEYGEN_API_KEY", "RUNWAYML_API_KEY", "DID_API_KEY"):
            assert FULL_ENV[name] not in shown
    assert "********" in repr(settings)


def test_a_secret_with_stray_whitespace_is_an_error_that_hides_the_value() -> None:
    """A pasted key with a newline is refused, and the message does not echo the key."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"RUNWAYML_API_KEY": "rw-secret-value\n", "MAX_RETRY_ATTEMPTS": "x"})
    message = str(caught.value)
    assert "RUNWAYML_API_KEY=<secret>: has leading or trailing whitespace" in message
    assert "rw-secret-value" not in message
    assert "MAX_RETRY_ATTEMPTS='x': not an integer" in message


def test_secrets_compare_by_value() -> None:
    """Two secrets with the same value are equal (constant-time), different values are not."""
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"


def test_unrelated_variables_are_ignored() -> None:
    """os.environ holds PATH, HOME and the like; they are none of our business. So is the
    seed's METRICS_FLUSH_INTERVAL: snapshots are written with the job, never on a timer."""
    env = {"PATH": "/usr/bin", "HOME": "/root", "METRICS_FLUSH_INTERVAL": "30s"}
    assert Settings.from_env(env) == Settings()


def test_the_business_rules_of_selection_are_settings() -> None:
    """The cost cap, prioritize_* and the quality probe share are read
    from the environment, not fixed in code, and reach the rules selection uses."""
    from shared.shell.deployment import business_rules

    env = {
        "MAX_COST_PER_VIDEO": "0.9",
        "PRIORITIZE_SPEED": "true",
        "PRIORITIZE_QUALITY": "1",
        "QUALITY_PROBE_SHARE": "0.1",
    }
    rules = business_rules(Settings.from_env(env))
    assert rules.max_cost_per_video == 0.9
    assert rules.prioritize_speed
    assert rules.prioritize_quality
    assert rules.quality_probe_share == 0.1
    defaults = business_rules(Settings.from_env({}))
    assert defaults.max_cost_per_video is None
    assert defaults.quality_probe_share == 0.05
    assert _problems({"QUALITY_PROBE_SHARE": "2"}) == {
        "QUALITY_PROBE_SHARE": "must be between 0 and 1"
    }
