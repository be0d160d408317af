"""The `generateVideo` request (DESIGN section 3) as a strict pydantic model, the per-field error
details for an `invalid-argument` HttpsError, and the deterministic script template.

    request = parse_generate_video(data)      # InvalidRequestError: .details [{field, message}]
    options = request.video_options()         # shared.core.model.VideoOptions
    script = request.effective_script()       # the script, or one written from parsedCV

Unknown fields are rejected at the top level and in ``options``; inside ``parsedCV`` (the web app's
own type, `shared.core.cv`) fields the app may add later are ignored. The app's own call shapes
(`generateVideoIntroduction`, `regenerateVideoIntroduction`, `getVideoStatus`: a CV ``jobId``)
ignore unknown fields likewise, for the same reason: the app is deployed apart from us.

Every text is normalised to NFC and refused if it holds a control character (NUL, ESC...; tab
and line breaks are fine) or an invisible formatting one (bidi overrides such as U+202E, zero-width
spaces; ZWNJ and ZWJ are kept, they are part of spelling in several scripts): such text would be
sent as is to paid providers. A script must also hold at least SCRIPT_MIN_WORDS real words.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.core.cv import WORD_BUDGET, ParsedCV, script_from_cv
from shared.core.model import (
    AspectRatio,
    AvatarStyle,
    Background,
    Duration,
    QualityLevel,
    Resolution,
    Style,
    Tier,
    Urgency,
    VideoOptions,
)
from shared.core.refusals import InvalidRequest
from shared.core.text import clean_text, real_words

_M = TypeVar("_M", bound=BaseModel)

SCRIPT_MIN_CHARS = 20
SCRIPT_MAX_CHARS = 5000
SCRIPT_MIN_WORDS = 5
__all__ = ["WORD_BUDGET", "ParsedCV", "clean_text", "real_words", "script_from_cv"]


def _spoken(value: str) -> str:
    if real_words(value) < SCRIPT_MIN_WORDS:
        raise PydanticCustomError(
            "script_words", "must hold at least {min} words", {"min": SCRIPT_MIN_WORDS}
        )
    return value


_Clean = AfterValidator(clean_text)

RequestId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]{8,128}$")]
CvJobId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, strict=True, min_length=1, max_length=128),
    _Clean,
]
Script = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        strict=True,
        min_length=SCRIPT_MIN_CHARS,
        max_length=SCRIPT_MAX_CHARS,
    ),
    _Clean,
    AfterValidator(_spoken),
]
JobId = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class Options(_Strict):
    duration: Literal["short", "medium", "long"] = "medium"
    style: Literal["professional", "friendly", "energetic"] = "professional"
    avatar_style: Literal["realistic", "corporate", "illustrated"] = Field(
        "realistic", alias="avatarStyle"
    )
    urgency: Literal["low", "normal", "high", "critical"] = "normal"
    quality_level: Literal["standard", "premium"] = Field("standard", alias="qualityLevel")
    resolution: Literal["720p", "1080p"] = "1080p"
    aspect_ratio: Literal["16:9", "9:16"] = Field("16:9", alias="aspectRatio")
    allow_fallback: StrictBool = Field(True, alias="allowFallback")


class GenerateVideoRequest(_Strict):
    request_id: RequestId | None = Field(None, alias="requestId")
    cv_job_id: CvJobId | None = Field(None, alias="cvJobId")
    script: Script | None = None
    parsed_cv: ParsedCV | None = Field(None, alias="parsedCV")
    options: Options = Options.model_validate({})

    @model_validator(mode="after")
    def _needs_something_to_say(self) -> GenerateVideoRequest:
        if self.script is None and self.parsed_cv is None:
            raise PydanticCustomError("script_or_cv", "either script or parsedCV is required")
        if self.script is None and self.parsed_cv is not None:
            written = script_from_cv(self.parsed_cv, _duration(self.options), _style(self.options))
            if len(written) < SCRIPT_MIN_CHARS:
                raise PydanticCustomError(
                    "cv_too_thin", "parsedCV holds too little to write a script from"
                )
            if len(written) > SCRIPT_MAX_CHARS:  # only with absurdly long words
                raise PydanticCustomError(
                    "cv_script", "parsedCV yields a script over 5000 characters"
                )
        return self

    def video_options(self) -> VideoOptions:
        o = self.options
        return VideoOptions(
            duration=_duration(o),
            style=_style(o),
            avatar_style=AvatarStyle(o.avatar_style),
            urgency=Urgency(o.urgency),
            quality_level=QualityLevel(o.quality_level),
            resolution=Resolution(o.resolution),
            aspect_ratio=AspectRatio(o.aspect_ratio),
            allow_fallback=o.allow_fallback,
        )

    def effective_script(self) -> str:
        """The script as sent, or the template's script from parsedCV for the duration."""
        if self.script is not None:
            return self.script
        assert self.parsed_cv is not None  # the validator guarantees one of the two
        return script_from_cv(self.parsed_cv, _duration(self.options), _style(self.options))


class JobRequest(_Strict):
    """cancelVideoJob, retryVideoJob, getVideoJob: one of the caller's video jobs."""

    job_id: JobId = Field(alias="jobId")


class QuotaRequest(_Strict):
    """getVideoQuota takes nothing."""


class RatingRequest(_Strict):
    """rateVideo: one of the caller's finished videos, rated 1 to 5."""

    job_id: JobId = Field(alias="jobId")
    rating: StrictInt = Field(ge=1, le=5)


class LinksRequest(_Strict):
    """rotateVideoLinks (admins): new download tokens for one job's video, and why."""

    job_id: JobId = Field(alias="jobId")
    reason: str = Field(min_length=3, max_length=500)


class CircuitRequest(_Strict):
    """setCircuitState (admins): force a provider's circuit, or forget its quality checks."""

    provider_id: str = Field(alias="providerId", min_length=1, max_length=64)
    # reset_quality: forget the provider's failed quality checks (it is selected again at once).
    action: Literal["open", "close", "reset", "reset_quality"]
    reason: str = Field(min_length=3, max_length=500)
    # Epoch seconds: the end of a maintenance window (open only; jobs wait for it).
    until: float | None = Field(default=None, gt=0)


class _AppShaped(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=False)


class IntroductionRequest(_AppShaped):
    """generateVideoIntroduction, the web app's call: the CV job whose ``parsedData`` to use.
    Every option is kept on the job: subtitles are a WebVTT file we write beside the video; a
    background, a name card or an avatar style the provider that made the video cannot honour
    is said in the job's degradation notes (`shared.core.presentation`)."""

    job_id: JobId = Field(alias="jobId")
    duration: Literal["short", "medium", "long"] = "medium"
    style: Literal["professional", "friendly", "energetic"] = "professional"
    avatar_style: Literal["realistic", "corporate", "illustrated"] = Field(
        "realistic", alias="avatarStyle"
    )
    background: Literal["office", "modern", "gradient", "custom"] = "office"
    include_subtitles: StrictBool = Field(True, alias="includeSubtitles")
    include_name_card: StrictBool = Field(True, alias="includeNameCard")
    custom_script: Script | None = Field(None, alias="customScript")

    def video_options(self) -> VideoOptions:
        return VideoOptions(
            duration=Duration(self.duration),
            style=Style(self.style),
            avatar_style=AvatarStyle(self.avatar_style),
            background=Background(self.background),
            subtitles=self.include_subtitles,
            name_card=self.include_name_card,
        )


# The multimedia service's option names (cvplus-frontend
# src/microservices/multimedia-ui/services/MultimediaService.ts L69-78, L310-321; QualityLevel
# from cvplus-multimedia src/types/media.types.ts L21) and what each means here.
_CVDATA_STYLE = {
    "professional": Style.PROFESSIONAL,
    "creative": Style.ENERGETIC,
    "modern": Style.PROFESSIONAL,
    "casual": Style.FRIENDLY,
}
_CVDATA_AVATAR = {
    "realistic": AvatarStyle.REALISTIC,
    "cartoon": AvatarStyle.ILLUSTRATED,
    "professional": AvatarStyle.CORPORATE,
    "friendly": AvatarStyle.REALISTIC,
}
_CVDATA_QUALITY = {
    "source": Resolution.P1080,
    "high": Resolution.P1080,
    "medium": Resolution.P720,
    "low": Resolution.P720,
    "thumbnail": Resolution.P720,
}
# Square is asked as 1:1: HeyGen renders it; for the others the degradation ladder makes it
# 16:9 and the job's notes say so (`shared.core.degradation.Degradation.SQUARE_TO_LANDSCAPE`).
_CVDATA_ORIENTATION = {
    "landscape": AspectRatio.LANDSCAPE,
    "portrait": AspectRatio.PORTRAIT,
    "square": AspectRatio.SQUARE,
}


class CvDataOptions(_AppShaped):
    style: Literal["professional", "creative", "modern", "casual"] = "professional"
    duration: Literal["short", "medium", "long"] = "medium"
    avatar_style: Literal["realistic", "cartoon", "professional", "friendly"] = Field(
        "professional", alias="avatarStyle"
    )
    background: Literal["office", "studio", "virtual", "custom"] = "office"
    include_subtitles: StrictBool = Field(True, alias="includeSubtitles")
    include_name_card: StrictBool = Field(True, alias="includeNameCard")
    quality: Literal["source", "high", "medium", "low", "thumbnail"] = "high"
    orientation: Literal["landscape", "portrait", "square"] = "landscape"


class CvDataIntroductionRequest(_AppShaped):
    """generateVideoIntroduction as the multimedia service calls it: the CV itself and its
    options; answered ``{jobId}`` at once, then getGenerationStatus."""

    cv_data: ParsedCV = Field(alias="cvData")
    options: CvDataOptions = CvDataOptions.model_validate({})

    def video_options(self) -> VideoOptions:
        o = self.options
        return VideoOptions(
            duration=Duration(o.duration),
            style=_CVDATA_STYLE[o.style],
            avatar_style=_CVDATA_AVATAR[o.avatar_style],
            resolution=_CVDATA_QUALITY[o.quality],
            aspect_ratio=_CVDATA_ORIENTATION[o.orientation],
            background=Background(o.background),
            subtitles=o.include_subtitles,
            name_card=o.include_name_card,
        )


def is_cv_data_call(data: Any) -> bool:
    """generateVideoIntroduction's two request shapes: the multimedia service's carries
    ``cvData`` (and no CV ``jobId``), the original's a CV ``jobId``."""
    return isinstance(data, dict) and "cvData" in data and "jobId" not in data


class CvJobRequest(_AppShaped):
    """getVideoStatus, the web app's call: the CV job."""

    job_id: JobId = Field(alias="jobId")


def parse(model: type[_M], data: Any) -> _M:
    """``data`` as ``model``; InvalidRequestError with one detail per bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequestError(error_details(exc)) from None


def _duration(options: Options) -> Duration:
    return Duration(options.duration)


def _style(options: Options) -> Style:
    return Style(options.style)


class InvalidRequestError(InvalidRequest):
    """The request is malformed; `details` is the HttpsError `invalid-argument` details list."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{d['field']}: {d['message']}" for d in details), details)
        self.details = details


def parse_generate_video(data: Any) -> GenerateVideoRequest:
    """Validate the callable's ``data``; `InvalidRequestError` has one detail per bad field."""
    try:
        return GenerateVideoRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequestError(error_details(exc)) from None


# Root-level errors belong to a field the user can fix.
_ROOT_FIELD = {"script_or_cv": "script", "cv_too_thin": "parsedCV", "cv_script": "parsedCV"}


_FORMS = frozenset({"list", "object"})


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    """[{field, message}] for each error, fields as the client spells them ("options.duration",
    "parsedCV.skills.2"). Never echoes the input (it may be a whole CV)."""
    details: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=True):
        loc = [str(part) for part in error["loc"]]
        # The tag of the form of parsedCV.skills (a list or an object) is not a field.
        loc = [p for i, p in enumerate(loc) if not (i and loc[i - 1] == "skills" and p in _FORMS)]
        if error["type"] in _ROOT_FIELD and not loc:
            loc = [_ROOT_FIELD[error["type"]]]
        field = ".".join(loc) if loc else "data"
        message = _message(error["type"], error["msg"])
        if field == "requestId" and error["type"] == "string_pattern_mismatch":
            message = "must be 8-128 characters of A-Z, a-z, 0-9, _ or -"
        details.append({"field": field, "message": message})
    return details


def tier_from_claim(claim: object) -> Tier | None:
    """The tier a ``tier`` custom claim names, or None when it names none: absent, an unknown
    name, or not a string at all (a list or an object set by mistake)."""
    if isinstance(claim, str) and claim in Tier._value2member_map_:
        return Tier(claim)
    return None


def _message(kind: str, pydantic_message: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "model_type":
        return "must be an object"
    if kind == "string_pattern_mismatch":
        return "must be made of A-Z, a-z, 0-9, _ or -"
    if kind == "missing":
        return "is required"
    return pydantic_message
