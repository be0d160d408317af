"""The app's presentation options (background, name card, avatar style, subtitles, square) kept
from its request to the job, and what the provider that made the video could not honour said
in the job's notes in plain words, never dropped."""

from __future__ import annotations

from dataclasses import replace

from shared.adapters.providers import did, heygen, runwayml
from shared.api.requests import CvDataIntroductionRequest, IntroductionRequest, parse
from shared.core import jobs, userview
from shared.core import orchestration as orch
from shared.core.degradation import Degradation
from shared.core.jobs import Job, JobStatus, VideoResult
from shared.core.model import AspectRatio, AvatarStyle, Background, VideoOptions
from shared.core.presentation import Unhonoured, notes, unhonoured
from shared.core.scoring import Scored

NOW = 1_000_000.0
CAPS = {c.provider_id: c for c in (heygen.CAPABILITIES, did.CAPABILITIES, runwayml.CAPABILITIES)}
SETUP = orch.Setup(capabilities=CAPS)
# The app's own call (cvplus-frontend src/services/features/MediaService.ts L19-27).
APP_CALL = {
    "jobId": "cv-1",
    "duration": "medium",
    "style": "professional",
    "avatarStyle": "realistic",
    "background": "office",
    "includeSubtitles": True,
    "includeNameCard": True,
}


def test_the_apps_call_keeps_background_subtitles_and_name_card_on_the_options() -> None:
    """MediaService.ts L23-26: office, subtitles and a name card, as asked."""
    options = parse(IntroductionRequest, APP_CALL).video_options()
    assert options.background is Background.OFFICE
    assert options.subtitles is True
    assert options.name_card is True
    off = parse(
        IntroductionRequest,
        {**APP_CALL, "background": "gradient", "includeSubtitles": False, "includeNameCard": False},
    ).video_options()
    assert (off.background, off.subtitles, off.name_card) == (Background.GRADIENT, False, False)


def test_the_multimedia_services_square_orientation_is_asked_as_1_1() -> None:
    """MultimediaService.ts L69-78's ``orientation: 'square'`` and ``background: 'studio'``."""
    request = parse(
        CvDataIntroductionRequest,
        {
            "cvData": {"personalInfo": {"name": "Dana Levi"}, "summary": "Builds payments."},
            "options": {"orientation": "square", "background": "studio", "quality": "medium"},
        },
    )
    options = request.video_options()
    assert options.aspect_ratio is AspectRatio.SQUARE
    assert options.background is Background.STUDIO
    assert options.subtitles is True
    assert options.name_card is True


def test_only_what_the_provider_lacks_is_unhonoured() -> None:
    """Office is everyone's; a name card nobody's; a non-realistic presenter nobody's."""
    plain = VideoOptions(background=Background.OFFICE)
    assert unhonoured(plain, did.CAPABILITIES) == ()
    drawn = VideoOptions(background=Background.MODERN, avatar_style=AvatarStyle.ILLUSTRATED)
    assert unhonoured(drawn, heygen.CAPABILITIES) == (Unhonoured.AVATAR_STYLE,)
    assert unhonoured(drawn, runwayml.CAPABILITIES) == (
        Unhonoured.BACKGROUND,
        Unhonoured.AVATAR_STYLE,
    )


def test_a_corporate_presenter_is_honoured_and_an_illustrated_one_is_not() -> None:
    """The multimedia service's default "professional" (corporate) is what every configured
    presenter is; its "cartoon" (illustrated) is not."""
    request = parse(
        CvDataIntroductionRequest,
        {"cvData": {"personalInfo": {"name": "Dana Levi"}, "skills": ["Go"]}, "options": {}},
    )
    assert request.video_options().avatar_style is AvatarStyle.CORPORATE
    assert unhonoured(request.video_options(), heygen.CAPABILITIES) == (Unhonoured.NAME_CARD,)
    cartoon = VideoOptions(avatar_style=AvatarStyle.ILLUSTRATED)
    assert unhonoured(cartoon, heygen.CAPABILITIES) == (Unhonoured.AVATAR_STYLE,)


def test_the_notes_name_what_was_asked_in_plain_words() -> None:
    asked = VideoOptions(background=Background.GRADIENT, avatar_style=AvatarStyle.ILLUSTRATED)
    said = notes(asked, (Unhonoured.BACKGROUND, Unhonoured.NAME_CARD, Unhonoured.AVATAR_STYLE))
    assert said == [
        "Made with the presenter's usual backdrop: a gradient background is not available "
        "from the studio that made it.",
        "Made without a name card: none of our video studios can show one.",
        "Made with a realistic presenter; an illustrated presenter is not available.",
    ]


def _scored(provider_id: str, options: VideoOptions) -> Scored:
    return Scored(
        provider_id=provider_id,
        score=1.0,
        breakdown={},
        options=options,
        degradations=(),
        reasons=(),
        probe=False,
        cost=1.0,
    )


def test_each_submit_records_what_its_provider_cannot_honour_and_forgets_the_last() -> None:
    """D-ID cannot draw the studio background; when HeyGen takes over, only the name card is
    left in the notes of the video HeyGen made."""
    asked = VideoOptions(background=Background.STUDIO, name_card=True)
    job = Job(job_id="j", created_at=NOW, deadline_at=NOW + 600, options=asked)
    on_did = orch.begin(job, _scored("did", asked), NOW, SETUP)
    assert on_did.unhonoured == (Unhonoured.BACKGROUND, Unhonoured.NAME_CARD)
    failed = replace(on_did, provider_job_id=None)
    on_heygen = orch.begin(failed, _scored("heygen", asked), NOW + 5, SETUP)
    assert on_heygen.unhonoured == (Unhonoured.NAME_CARD,)
    done = replace(
        on_heygen, status=JobStatus.COMPLETED, result=VideoResult(video_url="https://v/x.mp4")
    )
    assert userview.degradation_notes(done) == [
        "Made without a name card: none of our video studios can show one."
    ]


def test_a_square_job_on_runwayml_says_it_was_made_in_landscape() -> None:
    """The ladder's square -> 16:9 step, and its note first, before the presentation's."""
    job = jobs.begin_attempt(
        Job(
            job_id="j",
            created_at=NOW,
            deadline_at=NOW + 600,
            options=VideoOptions(aspect_ratio=AspectRatio.SQUARE, background=Background.VIRTUAL),
        ),
        provider_id="runwayml",
        options=VideoOptions(aspect_ratio=AspectRatio.LANDSCAPE, background=Background.VIRTUAL),
        degradations=(Degradation.SQUARE_TO_LANDSCAPE,),
        reasoning=(),
        now=NOW,
        unhonoured=(Unhonoured.BACKGROUND,),
    )
    assert userview.degradation_notes(job) == [
        "Made in landscape (16:9) instead of square.",
        "Made with the presenter's usual backdrop: a virtual background is not available from "
        "the studio that made it.",
    ]


def test_a_fingerprint_made_before_presentation_was_kept_still_matches() -> None:
    """Default presentation leaves the digest as it was; a name card changes it."""
    plain = jobs.request_fingerprint("script", VideoOptions(), None)
    assert plain == jobs.request_fingerprint(
        "script", VideoOptions(background=Background.OFFICE), None
    )
    assert plain != jobs.request_fingerprint("script", VideoOptions(name_card=True), None)
