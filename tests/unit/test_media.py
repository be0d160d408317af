"""The delivered file read as a file: tiny real MP4s written by tools/mp4.py, read back with the
container parser, and the reasons a file is not the video a job asked for."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.adapters import media
from tools.mp4 import mp4

HD = media.Expected(duration_s=20.0, width=1920, height=1080, audio=True)


@given(
    st.floats(1.0, 300.0),
    st.sampled_from([(1920, 1080), (1080, 1920), (1280, 720), (512, 512)]),
    st.booleans(),
)
def test_a_written_mp4_reads_back_as_written(
    seconds: float, frame: tuple[int, int], audio: bool
) -> None:
    """Length (to the millisecond), frame and audio track survive the round trip."""
    container = media.read(io.BytesIO(mp4(seconds, width=frame[0], height=frame[1], audio=audio)))
    assert container.duration_s == pytest.approx(seconds, abs=0.002)
    assert (container.width, container.height) == frame
    assert container.audio is audio


def test_the_video_asked_for_passes() -> None:
    for frame in ((1920, 1080), (3840, 2160)):  # larger than asked is fine
        file = media.read(io.BytesIO(mp4(18.0, width=frame[0], height=frame[1])))
        assert media.problem(file, HD) is None


@pytest.mark.parametrize(
    ("seconds", "frame", "audio", "reason"),
    [
        (18.0, (512, 512), True, "512x512"),  # D-ID's default face crop
        (18.0, (1080, 1920), True, "1080x1920"),  # portrait for a landscape job
        (18.0, (1280, 720), True, "1280x720"),  # 720p for a 1080p job
        (18.0, (1920, 1080), False, "no audio track"),
        (3.0, (1920, 1080), True, "lasts 3.0s"),  # truncated
        (90.0, (1920, 1080), True, "lasts 90.0s"),
    ],
)
def test_a_file_that_is_not_the_video_asked_for_says_why(
    seconds: float, frame: tuple[int, int], audio: bool, reason: str
) -> None:
    file = media.read(io.BytesIO(mp4(seconds, width=frame[0], height=frame[1], audio=audio)))
    problem = media.problem(file, HD)
    assert problem is not None
    assert reason in problem


def test_bytes_that_only_look_like_a_video_are_not_one() -> None:
    """What the simulator used to serve (a WAV tone), or a truncated file, is no MP4."""
    wav = b"RIFF\x24\x7d\x00\x00WAVEfmt " + b"\x00" * 64
    for fake in (wav, mp4(5.0, width=64, height=64)[:40]):
        with pytest.raises(media.NotAVideoError):
            media.read(io.BytesIO(fake))


def test_a_silent_clip_needs_no_audio_track() -> None:
    silent = media.Expected(duration_s=None, width=1280, height=720, audio=False)
    file = media.read(io.BytesIO(mp4(10.0, width=1280, height=720, audio=False)))
    assert media.problem(file, silent) is None
