"""The app's presentation options in each provider's submit body: what HeyGen documents is sent
(heygen-com/heygen-cli gen/video.go:97, the POST /v3/videos schema), nothing D-ID or RunwayML
do not document is, and the capabilities say which is which."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.adapters.providers import SubmitRequest
from shared.adapters.providers.did import CAPABILITIES as DID
from shared.adapters.providers.did import DIDProvider
from shared.adapters.providers.heygen import BACKGROUND_COLOURS, HeyGenProvider
from shared.adapters.providers.heygen import CAPABILITIES as HEYGEN
from shared.adapters.providers.runwayml import CAPABILITIES as RUNWAY
from shared.core.degradation import fit
from shared.core.model import AspectRatio, Background, VideoOptions
from shared.core.presentation import Unhonoured, unhonoured
from tests.support.adapters import API_KEY, AdapterFactory
from tools.provider_sim import ProviderSim


def sent_body(provider: str, options: VideoOptions) -> dict[str, Any]:
    """The JSON body the adapter's submit sends for ``options``."""
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if provider == "heygen":
            return httpx.Response(200, json={"data": {"video_id": "vid_1"}})
        return httpx.Response(201, json={"id": "tlk_1", "status": "created"})

    transport = httpx.MockTransport(answer)
    adapter = (
        HeyGenProvider(api_key="k", transport=transport)
        if provider == "heygen"
        else DIDProvider(api_key="u:p", transport=transport)
    )
    request = SubmitRequest(
        job_id="job-7", attempt=1, script="Hello, I build reliable systems.", options=options
    )
    adapter.submit(request)
    adapter.close()
    return bodies[-1]


@pytest.mark.parametrize(
    ("background", "colour"),
    [
        (Background.STUDIO, "#2b2d42"),
        (Background.MODERN, "#f4f5f7"),
        (Background.VIRTUAL, "#1e3a8a"),
    ],
)
def test_heygen_is_sent_a_solid_colour_background_for_a_named_backdrop(
    background: Background, colour: str
) -> None:
    """``background: {type: "color", value: hex}``, as gen/video.go:97 documents it."""
    body = sent_body("heygen", VideoOptions(background=background))
    assert body["background"] == {"type": "color", "value": colour}
    assert BACKGROUND_COLOURS[background] == colour


@pytest.mark.parametrize("background", [Background.OFFICE, Background.GRADIENT, Background.CUSTOM])
def test_heygen_is_sent_no_background_it_cannot_draw(background: Background) -> None:
    """The office is the presenter's own setting; a gradient or an image we were never given is
    not sent (a solid colour would not be what was asked)."""
    body = sent_body("heygen", VideoOptions(background=background))
    assert "background" not in body
    assert "remove_background" not in body


def test_heygen_is_asked_for_a_sidecar_caption_file_only_when_subtitles_are_wanted() -> None:
    """``caption: {file_format: "srt"}`` without ``style`` (nothing burnt into the picture)."""
    assert sent_body("heygen", VideoOptions(subtitles=True))["caption"] == {"file_format": "srt"}
    assert "caption" not in sent_body("heygen", VideoOptions(subtitles=False))


def test_heygen_is_asked_for_a_square_video_as_1_1() -> None:
    """``aspect_ratio: "1:1"`` is among the documented values: no degradation for HeyGen."""
    square = VideoOptions(aspect_ratio=AspectRatio.SQUARE)
    assert sent_body("heygen", square)["aspect_ratio"] == "1:1"
    assert fit(square, HEYGEN) == (square, ())


def test_did_body_carries_no_presentation_field() -> None:
    """Nothing D-ID's talks config does not show is sent; a square job fits D-ID as 16:9."""
    asked = VideoOptions(background=Background.STUDIO, subtitles=True, name_card=True)
    body = sent_body("did", asked)
    assert set(body) == {"source_url", "script", "config", "name", "user_data"}
    assert set(body["config"]) <= {"result_format", "stitch"}  # D-ID's example keys only
    fitted = fit(VideoOptions(aspect_ratio=AspectRatio.SQUARE), DID)
    assert fitted is not None
    assert fitted[0].aspect_ratio is AspectRatio.LANDSCAPE


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (HEYGEN, (Unhonoured.NAME_CARD,)),
        (DID, (Unhonoured.BACKGROUND, Unhonoured.NAME_CARD)),
        (RUNWAY, (Unhonoured.BACKGROUND, Unhonoured.NAME_CARD)),
    ],
    ids=["heygen", "did", "runwayml"],
)
def test_each_provider_declares_what_of_the_presentation_it_cannot_honour(
    caps: Any, expected: tuple[Unhonoured, ...]
) -> None:
    """A studio background and a name card: HeyGen draws the one, nobody draws the other."""
    asked = VideoOptions(background=Background.STUDIO, name_card=True, subtitles=True)
    assert unhonoured(asked, caps) == expected


def test_the_simulator_accepts_our_heygen_body_and_refuses_a_malformed_background(
    sim: ProviderSim, make_adapter: AdapterFactory
) -> None:
    """Our square, studio-coloured, captioned submit is accepted; a colour without a value
    (gen/video.go:97: "Required when type is 'color'") is a 400 ``invalid_parameter``."""
    asked = VideoOptions(
        aspect_ratio=AspectRatio.SQUARE, background=Background.STUDIO, subtitles=True
    )
    adapter = make_adapter("heygen")
    request = SubmitRequest(
        job_id="job-8", attempt=1, script="Hello, I build things.", options=asked
    )
    assert adapter.submit(request).provider_job_id
    bad = httpx.post(
        f"{sim.base_url('heygen')}/v3/videos",
        headers={"X-Api-Key": API_KEY},
        json={
            "type": "avatar",
            "avatar_id": "a",
            "voice_id": "v",
            "script": "Hello there, world.",
            "background": {"type": "color"},
        },
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_parameter"
