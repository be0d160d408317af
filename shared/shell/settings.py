"""The deployment's configuration (DESIGN section 11): one frozen, typed `Settings` read once at
cold start by the pure `Settings.from_env(env)`, which names every bad variable at once.

    settings = Settings.from_env(os.environ)   # SettingsError lists each problem and why

Conventions. An unset or blank variable takes its default. Durations keep the seed's unit,
milliseconds (`CIRCUIT_BREAKER_RECOVERY_TIMEOUT=60000`); `*_s` properties give seconds.
Secrets are `Secret`s: their value never appears in a repr, a str or an error message.

`CVPLUS_INTERNAL_SECRET` must hold at least 32 bytes when set, and outside the Functions emulator
(`FUNCTIONS_EMULATOR=true`) every function that uses it requires it: `settings.require(names)`.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

DEFAULT_HEYGEN_BASE_URL: Final = "https://api.heygen.com"
DEFAULT_RUNWAYML_BASE_URL: Final = "https://api.dev.runwayml.com"
DEFAULT_DID_BASE_URL: Final = "https://api.d-id.com"

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
INTERNAL_SECRET: Final = "CVPLUS_INTERNAL_SECRET"
INTERNAL_SECRET_MIN_BYTES: Final = 32
# Secrets a function cannot run without (outside the emulator), when it declares them.
REQUIRED_SECRETS: Final = frozenset({INTERNAL_SECRET})
# Plain http is allowed only where no key can leave the machine (simulators, emulators).
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_QUEUE = re.compile(r"projects/[^/\s]+/locations/[^/\s]+/queues/[^/\s]+")

# The longest the web app's generate calls wait for the video (functions/deploy.py checks it
# against the USER family's timeout).
APP_WAIT_MAX_S = 50.0


class Secret:
    """A secret value that never shows itself: repr and str are masked; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))


DEFAULT_DAILY_SPEND_CAP_USD = 500.0
DEFAULT_JOBS_PER_MINUTE = 60


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad variable: its name, the value as given (None for secrets), and why it is bad."""

    name: str
    value: str | None
    reason: str

    def __str__(self) -> str:
        shown = "<secret>" if self.value is None else repr(self.value)
        return f"{self.name}={shown}: {self.reason}"


class SettingsError(ValueError):
    """The environment holds one or more bad variables; `problems` lists every one of them."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(str(p) for p in problems))


class _BadValueError(Exception):
    """Raised by a parser with the reason; collected by `_Reader` into a `Problem`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the functions read from the environment, with the seed's defaults.

    Breaker overrides: `circuit_breaker_failure_threshold` and
    `circuit_breaker_recovery_timeout_ms` are None unless set, and then each provider keeps its
    own policy (DESIGN section 8: HeyGen 5 / 60 s, RunwayML 4 / 90 s, D-ID 4 / 60 s); when set they
    apply to every provider.
    """

    heygen_api_key: Secret | None = None
    runwayml_api_key: Secret | None = None
    did_api_key: Secret | None = None
    # Signs Cloud Tasks bodies and derives D-ID callback tokens; keep it across deploys.
    internal_secret: Secret | None = None
    heygen_base_url: str = DEFAULT_HEYGEN_BASE_URL
    runwayml_base_url: str = DEFAULT_RUNWAYML_BASE_URL
    did_base_url: str = DEFAULT_DID_BASE_URL
    public_webhook_base_url: str | None = None  # None: no webhooks, completion by polling
    circuit_breaker_enabled: bool = True
    circuit_breaker_failure_threshold: int | None = None
    circuit_breaker_recovery_timeout_ms: int | None = None
    performance_tracking_enabled: bool = True
    max_retry_attempts: int = 3
    quality_threshold: float = 8.5  # on the 0..10 quality scale
    cost_optimization: bool = False
    # Business rules of selection (scoring.BusinessRules): a cost cap per video in USD (None:
    # none), the prioritize_* weights, and the share of jobs that probe a provider below the
    # quality bar.
    max_cost_per_video: float | None = None
    prioritize_speed: bool = False
    prioritize_quality: bool = False
    quality_probe_share: float = 0.05
    user_jobs_per_hour: int = 100
    # USD the providers may bill per UTC day: new jobs reserve their estimate under it and no
    # render is submitted past it. On by default: at HeyGen's list price ($0.10 a second) $500
    # is ~80 minutes of video, a day of honest use at launch scale; raise it as traffic grows.
    daily_spend_cap_usd: float | None = DEFAULT_DAILY_SPEND_CAP_USD
    # The service-wide brake on new jobs per minute (every user together).
    jobs_per_minute: int = DEFAULT_JOBS_PER_MINUTE
    # Refuse generateVideo to anonymous (signed-in-anonymously) users; None: yes outside the
    # emulator, no in it.
    refuse_anonymous_users: bool | None = None
    # The callables refuse calls without a valid App Check token (the SDK's on_call option,
    # functions/deploy.py); off unless set: the CVPlus web app sends none.
    enforce_app_check: bool = False
    # Refuse the admin callables to a session signed in without a second factor (the ID token's
    # firebase.sign_in_second_factor claim; needs Identity Platform MFA); None: yes outside the
    # emulator, no in it (the Auth emulator enrols phone factors only: OPERATIONS).
    admin_require_mfa: bool | None = None
    # How long a webhook provider may take before its render is polled; None: 3 typical renders.
    webhook_wait_s: float | None = None
    # How long the web app's generate/regenerate calls wait for the video before answering that
    # it is still being made (under the USER family's timeout, functions/deploy.py, and the web
    # SDK's 70 s).
    app_wait_s: float = APP_WAIT_MAX_S
    # The presenters the adapters ask for; None: the adapter's placeholder.
    heygen_avatar_id: str | None = None
    heygen_voice_id: str | None = None
    # RunwayML's presenter: the image its avatar is made from, the avatar's preset voice, or a
    # ready avatar's id to use as it is (then nothing is looked up or made).
    runwayml_prompt_image_url: str | None = None
    runwayml_voice: str | None = None
    runwayml_avatar_id: str | None = None
    did_source_url_landscape: str | None = None
    did_source_url_portrait: str | None = None
    did_voice_id: str | None = None
    # Hosts whose https video URLs each adapter accepts (None: the adapter's documented default)
    # and RunwayML's concurrent generations for the project's tier (tier 1: 1).
    heygen_media_hosts: tuple[str, ...] | None = None
    runwayml_media_hosts: tuple[str, ...] | None = None
    did_media_hosts: tuple[str, ...] | None = None
    runwayml_concurrency: int = 1
    # Cloud Tasks: the queue (None: video-jobs in the project's us-central1), the emulator's
    # host:port (local stack), the service account whose OIDC token the tasks carry, and the
    # base URL of the functions the tasks call (None: the project's cloudfunctions.net URL).
    tasks_queue: str | None = None
    tasks_emulator_host: str | None = None
    tasks_service_account: str | None = None
    functions_base_url: str | None = None
    # Cloud Storage: the bucket finished videos are copied into (None: the project's default
    # Firebase bucket, <project>.firebasestorage.app), and the storage emulator's URL (local
    # stack; google-cloud-storage reads the same variable).
    video_bucket: str | None = None
    storage_emulator_host: str | None = None
    # Running in the Functions emulator (FUNCTIONS_EMULATOR=true): required secrets may be unset.
    emulator: bool = False

    @property
    def requires_admin_mfa(self) -> bool:
        """Off unless ``CVPLUS_ADMIN_REQUIRE_MFA=true``: the dashboard page signs in with a
        password and cannot answer a second-factor challenge, so requiring one by default would
        lock every admin out of it (OPERATIONS, "Admin sessions")."""
        return bool(self.admin_require_mfa) and not self.emulator

    @property
    def refuses_anonymous(self) -> bool:
        if self.refuse_anonymous_users is None:
            return not self.emulator
        return self.refuse_anonymous_users

    @property
    def circuit_breaker_recovery_timeout_s(self) -> float | None:
        ms = self.circuit_breaker_recovery_timeout_ms
        return None if ms is None else ms / 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse ``env`` (e.g. ``os.environ``); raise `SettingsError` naming every bad variable."""
        read = _Reader(env)
        settings = cls(
            heygen_api_key=read.secret("HEYGEN_API_KEY"),
            runwayml_api_key=read.secret("RUNWAYML_API_KEY"),
            did_api_key=read.secret("DID_API_KEY"),
            internal_secret=read.secret(INTERNAL_SECRET, min_bytes=INTERNAL_SECRET_MIN_BYTES),
            heygen_base_url=read("HEYGEN_BASE_URL", _base_url, DEFAULT_HEYGEN_BASE_URL),
            runwayml_base_url=read("RUNWAYML_BASE_URL", _base_url, DEFAULT_RUNWAYML_BASE_URL),
            did_base_url=read("DID_BASE_URL", _base_url, DEFAULT_DID_BASE_URL),
            public_webhook_base_url=read("PUBLIC_WEBHOOK_BASE_URL", _base_url, None),
            circuit_breaker_enabled=read("CIRCUIT_BREAKER_ENABLED", _boolean, True),
            circuit_breaker_failure_threshold=read(
                "CIRCUIT_BREAKER_FAILURE_THRESHOLD", _integer(1, 1000), None
            ),
            circuit_breaker_recovery_timeout_ms=read(
                "CIRCUIT_BREAKER_RECOVERY_TIMEOUT", _integer(1000, 86_400_000), None
            ),
            performance_tracking_enabled=read("PERFORMANCE_TRACKING_ENABLED", _boolean, True),
            max_retry_attempts=read("MAX_RETRY_ATTEMPTS", _integer(0, 10), 3),
            quality_threshold=read("QUALITY_THRESHOLD", _number(0.0, 10.0), 8.5),
            cost_optimization=read("COST_OPTIMIZATION", _boolean, False),
            max_cost_per_video=read("MAX_COST_PER_VIDEO", _number(0.0, 1000.0), None),
            prioritize_speed=read("PRIORITIZE_SPEED", _boolean, False),
            prioritize_quality=read("PRIORITIZE_QUALITY", _boolean, False),
            quality_probe_share=read("QUALITY_PROBE_SHARE", _number(0.0, 1.0), 0.05),
            user_jobs_per_hour=read("USER_JOBS_PER_HOUR", _integer(1, 10_000), 100),
            daily_spend_cap_usd=read(
                "DAILY_SPEND_CAP_USD", _number(0.0, 1e9), DEFAULT_DAILY_SPEND_CAP_USD
            ),
            jobs_per_minute=read("JOBS_PER_MINUTE", _integer(1, 100_000), DEFAULT_JOBS_PER_MINUTE),
            refuse_anonymous_users=read("REFUSE_ANONYMOUS_USERS", _boolean, None),
            enforce_app_check=read("ENFORCE_APP_CHECK", _boolean, False),
            admin_require_mfa=read("CVPLUS_ADMIN_REQUIRE_MFA", _boolean, None),
            webhook_wait_s=read("WEBHOOK_WAIT_SECONDS", _number(1.0, 86_400.0), None),
            app_wait_s=read("APP_WAIT_SECONDS", _number(0.0, APP_WAIT_MAX_S), APP_WAIT_MAX_S),
            heygen_avatar_id=read("HEYGEN_AVATAR_ID", _word, None),
            heygen_voice_id=read("HEYGEN_VOICE_ID", _word, None),
            runwayml_prompt_image_url=read("RUNWAYML_PROMPT_IMAGE_URL", _url, None),
            runwayml_voice=read("RUNWAYML_VOICE", _word, None),
            runwayml_avatar_id=read("RUNWAYML_AVATAR_ID", _word, None),
            did_source_url_landscape=read("DID_SOURCE_URL_LANDSCAPE", _url, None),
            did_source_url_portrait=read("DID_SOURCE_URL_PORTRAIT", _url, None),
            did_voice_id=read("DID_VOICE_ID", _word, None),
            heygen_media_hosts=read("HEYGEN_MEDIA_HOSTS", _hosts, None),
            runwayml_media_hosts=read("RUNWAYML_MEDIA_HOSTS", _hosts, None),
            did_media_hosts=read("DID_MEDIA_HOSTS", _hosts, None),
            runwayml_concurrency=read("RUNWAYML_CONCURRENCY", _integer(1, 20), 1),
            tasks_queue=read("CVPLUS_TASKS_QUEUE", _queue, None),
            tasks_emulator_host=read("CVPLUS_TASKS_EMULATOR_HOST", _host_port, None),
            tasks_service_account=read("CVPLUS_TASKS_SERVICE_ACCOUNT", _email, None),
            functions_base_url=read("CVPLUS_FUNCTIONS_BASE_URL", _base_url, None),
            video_bucket=read("CVPLUS_VIDEO_BUCKET", _bucket, None),
            storage_emulator_host=read("STORAGE_EMULATOR_HOST", _base_url, None),
            emulator=read("FUNCTIONS_EMULATOR", _boolean, False),
        )
        if read.problems:
            raise SettingsError(tuple(read.problems))
        return settings

    def require(self, names: Iterable[str]) -> None:
        """Raise `SettingsError` naming each of ``names`` (the secrets a function declares)
        that it cannot run without and that is unset. Nothing is required in the emulator."""
        if self.emulator:
            return
        values = {INTERNAL_SECRET: self.internal_secret}
        problems = tuple(
            Problem(
                name,
                None,
                f"required outside the emulator (at least {INTERNAL_SECRET_MIN_BYTES} bytes, "
                "e.g. `openssl rand -hex 32`)",
            )
            for name in sorted(set(names) & REQUIRED_SECRETS)
            if values.get(name) is None
        )
        if problems:
            raise SettingsError(problems)


class _Reader:
    """Reads variables one by one, keeping the default where a value is bad and noting why."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[Problem] = []

    def __call__(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self._env.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            return parse(raw.strip())
        except _BadValueError as why:
            self.problems.append(Problem(name, raw, str(why)))
            return default

    def secret(self, name: str, *, min_bytes: int = 0) -> Secret | None:
        raw = self._env.get(name)
        if raw is None or not raw.strip():
            return None
        if raw != raw.strip():
            # A pasted key with a trailing newline fails at the provider as "unauthorized",
            # far from its cause; say so here instead (without showing the value).
            self.problems.append(Problem(name, None, "has leading or trailing whitespace"))
            return None
        if len(raw.encode()) < min_bytes:
            self.problems.append(Problem(name, None, f"shorter than {min_bytes} bytes"))
            return None
        return Secret(raw)


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _BadValueError("not a boolean (true/false, 1/0, yes/no, on/off)")


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            raise _BadValueError("not an integer") from None
        if not low <= value <= high:
            raise _BadValueError(f"must be between {low} and {high}")
        return value

    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise _BadValueError("not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise _BadValueError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def _word(raw: str) -> str:
    if any(c.isspace() for c in raw):
        raise _BadValueError("an id takes no spaces")
    return raw


def _hosts(raw: str) -> tuple[str, ...]:
    """Comma-separated host names; ``.example.com`` stands for every host under it."""
    hosts = tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if not hosts or any(not re.fullmatch(r"\.?[a-z0-9.-]+", h) for h in hosts):
        raise _BadValueError("not a comma-separated list of host names")
    return hosts


def _url(raw: str) -> str:
    """An asset URL the provider fetches: like a base URL, but it may carry a query."""
    try:
        parts = urlsplit(raw)
        hostname = parts.hostname
    except ValueError:
        raise _BadValueError("not an http(s) URL with a host") from None
    if parts.scheme not in {"http", "https"} or not hostname:
        raise _BadValueError("not an http(s) URL with a host")
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        raise _BadValueError("must use https (plain http only for localhost/127.0.0.1)")
    return raw


def _queue(raw: str) -> str:
    if not _QUEUE.fullmatch(raw):
        raise _BadValueError("not a queue name (projects/P/locations/L/queues/Q)")
    return raw


def _bucket(raw: str) -> str:
    """A Cloud Storage bucket name (its naming rules, without the gs:// prefix)."""
    if raw.startswith("gs://"):
        raise _BadValueError("the bucket's name, without gs://")
    if not _BUCKET.fullmatch(raw) or ".." in raw or any(len(p) > 63 for p in raw.split(".")):
        raise _BadValueError(
            "not a bucket name (3-222 of a-z 0-9 . _ -, starting and ending with a letter or "
            "digit, dot-separated parts of at most 63)"
        )
    return raw


def _host_port(raw: str) -> str:
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65_536:
        raise _BadValueError("not host:port")
    return raw


def _email(raw: str) -> str:
    name, _, domain = raw.partition("@")
    if not name or "." not in domain or any(c.isspace() for c in raw):
        raise _BadValueError("not a service account email")
    return raw


def _base_url(raw: str) -> str:
    try:
        parts = urlsplit(raw)
        hostname = parts.hostname
    except ValueError:
        raise _BadValueError("not an http(s) URL with a host") from None
    if parts.scheme not in {"http", "https"} or not hostname:
        raise _BadValueError("not an http(s) URL with a host")
    if parts.query or parts.fragment:
        raise _BadValueError("a base URL takes no query or fragment")
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        raise _BadValueError("must use https (plain http only for localhost/127.0.0.1)")
    return raw.rstrip("/")
