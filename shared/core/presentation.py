"""How a video is presented beyond its length and resolution: the background, a name card and
the presenter's style. These never decide which provider makes a video (the app asks for them
on every call, and refusing a provider over a backdrop would cost users their video); what the
provider that made it could not honour is said in the job's notes, in plain words, instead of
being dropped in silence. Subtitles are not here: we write them ourselves from the script, for
every provider (`shared.core.captions`).

    gaps = unhonoured(options, capabilities)   # at each submit, for the chosen provider
    notes(options, gaps)                       # the sentences a user is shown
"""

from __future__ import annotations

from enum import StrEnum

from shared.core.model import AvatarStyle, Background, Capabilities, VideoOptions


class Unhonoured(StrEnum):
    BACKGROUND = "background"
    NAME_CARD = "name card"
    AVATAR_STYLE = "avatar style"


# The presenters configured for every provider are real people in business dress (a photo or
# a recording): realistic, and corporate (the multimedia service's default "professional").
# An illustrated (the service's "cartoon") presenter is nobody's.
HONOURED_AVATAR_STYLES = frozenset({AvatarStyle.REALISTIC, AvatarStyle.CORPORATE})

_BACKGROUND_WORDS = {
    Background.OFFICE: "an office",
    Background.STUDIO: "a studio",
    Background.MODERN: "a modern",
    Background.GRADIENT: "a gradient",
    Background.VIRTUAL: "a virtual",
    Background.CUSTOM: "your own",
}


def unhonoured(options: VideoOptions, capabilities: Capabilities) -> tuple[Unhonoured, ...]:
    """What of ``options``' presentation the provider ``capabilities`` describes cannot do."""
    gaps: list[Unhonoured] = []
    if options.background not in capabilities.backgrounds:
        gaps.append(Unhonoured.BACKGROUND)
    if options.name_card and not capabilities.name_card:
        gaps.append(Unhonoured.NAME_CARD)
    if options.avatar_style not in HONOURED_AVATAR_STYLES:
        gaps.append(Unhonoured.AVATAR_STYLE)
    return tuple(gaps)


def notes(options: VideoOptions, gaps: tuple[Unhonoured, ...]) -> list[str]:
    """One plain sentence per gap, naming what was asked."""
    out: list[str] = []
    for gap in gaps:
        if gap is Unhonoured.BACKGROUND:
            asked = _BACKGROUND_WORDS[options.background]
            out.append(
                f"Made with the presenter's usual backdrop: {asked} background is not "
                "available from the studio that made it."
            )
        elif gap is Unhonoured.NAME_CARD:
            out.append("Made without a name card: none of our video studios can show one.")
        else:
            style = options.avatar_style.value
            article = "an" if style[0] in "aeiou" else "a"
            out.append(
                f"Made with a realistic presenter; {article} {style} presenter is not available."
            )
    return out
