"""Plain domain values shared by selection, degradation and the providers: what a job asks for
(`VideoOptions`) and what a provider can do (`Capabilities`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Duration(StrEnum):
    CLIP = "clip"  # the last resort of the degradation ladder; never asked for
    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"

    @property
    def seconds(self) -> int:
        return _SECONDS[self]


# What a request may ask for; the clip is only ever the degradation ladder's last resort.
ASKABLE_DURATIONS = (Duration.SHORT, Duration.MEDIUM, Duration.LONG)

_SECONDS = {Duration.CLIP: 10, Duration.SHORT: 30, Duration.MEDIUM: 60, Duration.LONG: 90}


class Style(StrEnum):
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    ENERGETIC = "energetic"


class AvatarStyle(StrEnum):
    REALISTIC = "realistic"
    CORPORATE = "corporate"
    ILLUSTRATED = "illustrated"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class QualityLevel(StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"


class Resolution(StrEnum):
    P720 = "720p"
    P1080 = "1080p"


class AspectRatio(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"
    SQUARE = "1:1"  # the web app's ``orientation: 'square'``; a ladder rung makes it 16:9


class Background(StrEnum):
    """What the presenter stands in front of. OFFICE is the presenter's own recorded setting
    (every configured presenter is filmed or photographed in one), so every provider honours
    it; the others are drawn by the provider, where it can (`Capabilities.backgrounds`)."""

    OFFICE = "office"
    STUDIO = "studio"
    MODERN = "modern"
    GRADIENT = "gradient"
    VIRTUAL = "virtual"
    CUSTOM = "custom"  # the app names it but sends no image: no provider can honour it


class Tier(StrEnum):
    FREE = "free"
    PREMIUM = "premium"
    ENTERPRISE = "enterprise"


class Feature(StrEnum):
    """Capabilities a request may need beyond duration and resolution."""

    VOICE = "voice"
    LIP_SYNC = "lip_sync"
    CUSTOM_AVATAR = "custom_avatar"


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoOptions:
    duration: Duration = Duration.MEDIUM
    style: Style = Style.PROFESSIONAL
    avatar_style: AvatarStyle = AvatarStyle.REALISTIC
    urgency: Urgency = Urgency.NORMAL
    quality_level: QualityLevel = QualityLevel.STANDARD
    resolution: Resolution = Resolution.P1080
    aspect_ratio: AspectRatio = AspectRatio.LANDSCAPE
    allow_fallback: bool = True
    # Presentation: never a reason to choose or skip a provider; what the provider that made
    # the video could not honour is said in the job's notes (`shared.core.presentation`).
    background: Background = Background.OFFICE
    subtitles: bool = False  # WebVTT captions beside the video (we write them from the script)
    name_card: bool = False  # the person's name and title shown on screen
    # A talking-head introduction needs a voice and lip-sync; a custom avatar is optional.
    features: frozenset[Feature] = frozenset({Feature.VOICE, Feature.LIP_SYNC})


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a provider declares it can do, and at what price (USD per video)."""

    provider_id: str
    priority: int
    features: frozenset[Feature]
    max_duration_s: int
    resolutions: frozenset[Resolution]
    aspect_ratios: frozenset[AspectRatio] = field(default_factory=lambda: frozenset(AspectRatio))
    price_per_video: float  # the list price of a medium (60 s) video: what scoring compares
    concurrency_limit: int
    # Render times from the provider's documentation (cited where each adapter declares them):
    # ``typical_render_s`` sets the ETA, the first look and the polling pace;
    # ``worst_render_s`` (about the 99th percentile) how long a render we cannot see is waited
    # for before another provider is paid; ``render_cap_s`` how long after its submit a render
    # still reported in progress keeps its job alive past the job's deadline.
    typical_render_s: float = 60.0
    worst_render_s: float = 300.0
    render_cap_s: float = 3600.0
    webhooks: bool = True  # it calls back when a render ends; without, its renders are polled
    # A repeated submit with the same idempotency key is answered with the first render, not
    # billed again. Without it, a submit whose answer was lost is never sent to it again.
    idempotent_submits: bool = False
    # Backgrounds it draws as asked (beyond the presenter's own, which every provider keeps).
    backgrounds: frozenset[Background] = frozenset({Background.OFFICE})
    name_card: bool = False  # it can show a name card (no provider here documents one)
    # How the provider bills a render: by the second of output (at least ``min_billed_s``)
    # when set, else ``price_per_video`` per clip whatever its length.
    price_per_second: float | None = None
    min_billed_s: float = 0.0
    # Its renders can be looked up by the title we give them: a submit whose answer was lost is
    # looked up first, and sent again only when the provider shows no such render.
    finds_renders: bool = False

    def price(self, seconds: float | None) -> float:
        """USD billed for a render of ``seconds`` (None: unknown, the medium video's price)."""
        if self.price_per_second is None or seconds is None:
            return self.price_per_video
        return round(self.price_per_second * max(seconds, self.min_billed_s), 4)

    def missing_for(self, options: VideoOptions, spoken_s: float | None = None) -> tuple[str, ...]:
        """What this provider lacks for ``options``; empty when it can serve them as asked.
        ``spoken_s``: how long the script takes to speak, when it is longer than asked (a
        talking head is as long as what it says)."""
        long = spoken_s is not None and Feature.VOICE in options.features
        length = max(_SECONDS[options.duration], spoken_s or 0.0) if long else None
        if (
            options.features <= self.features
            and _SECONDS[options.duration] <= self.max_duration_s
            and (length is None or length <= self.max_duration_s)
            and options.resolution in self.resolutions
            and options.aspect_ratio in self.aspect_ratios
        ):
            return ()
        missing: list[str] = [f.value for f in sorted(options.features - self.features)]
        if options.duration.seconds > self.max_duration_s:
            missing.append(f"duration {options.duration.value}")
        elif length is not None and length > self.max_duration_s:
            missing.append(f"a {length:.0f} s script")
        if options.resolution not in self.resolutions:
            missing.append(f"resolution {options.resolution.value}")
        if options.aspect_ratio not in self.aspect_ratios:
            missing.append(f"aspect ratio {options.aspect_ratio.value}")
        return tuple(missing)
