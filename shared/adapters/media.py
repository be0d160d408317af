"""What a delivered video file is, read from its own container: CVPlus judges a video by the file
it keeps, not by what the provider says about it. A pure reading of bytes (no I/O of its own):
the delivery path (``shared.shell.delivery``) hands it our stored copy.

The parser is mutagen (PyPI ``mutagen``, pinned in requirements.txt): its MP4 reader walks the
ISO base media box tree, gives the movie's length (``mvhd``) and the audio track's codec and
channels, and exposes the box tree, from which the video track's ``tkhd`` gives its frame size.
hachoir was compared: it reads the length and the frame size too, but reports no audio track in
its metadata and brings a hundred parsers for one format. A file mutagen cannot read as MP4 is
not a valid MP4.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Any

from mutagen import MutagenError
from mutagen.mp4 import MP4
from mutagen.mp4._atom import Atoms  # the box tree MP4 itself reads

# The container's length is held to the expected spoken length as a provider's reported length
# is (`shared.adapters.providers.base.check_render`): within a factor of two, with slack.
DURATION_FACTOR = 2.0
DURATION_SLACK_S = 5.0
ASPECT_TOLERANCE = 0.03  # 1920x1080 and 1280x720 are both 16:9; 512x512 is not
SHORT_EDGE_SHARE = 0.95  # at least this share of the requested short edge


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    duration_s: float
    width: int | None  # the video track's frame; None: no video track
    height: int | None
    audio: bool  # an audio track with at least one channel


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    """What the job asked for: the spoken length (None: not checked), the frame, a voice."""

    duration_s: float | None
    width: int
    height: int
    audio: bool


class NotAVideoError(Exception):
    """The file is not a readable MP4."""


def read(file: IO[bytes]) -> Container:
    """The container of the MP4 in ``file`` (seekable; only its boxes' headers and ``moov``
    are read). NotAVideoError when it is not one."""
    try:
        file.seek(0)
        info: Any = MP4(file).info  # type: ignore[no-untyped-call]
        file.seek(0)
        atoms = Atoms(file)
    except (MutagenError, struct.error, ValueError, EOFError) as error:
        raise NotAVideoError(f"not a readable MP4: {error}") from error
    width = height = None
    try:
        traks = list(atoms[(b"moov",)].findall(b"trak"))
    except KeyError as error:
        raise NotAVideoError("an MP4 without a moov box") from error
    for trak in traks:
        if _handler(trak, file) == b"vide":
            width, height = _frame(trak, file)
            break
    return Container(
        duration_s=float(info.length),
        width=width,
        height=height,
        audio=bool(getattr(info, "channels", 0)),
    )


def _handler(trak: object, file: IO[bytes]) -> bytes | None:
    try:
        ok, data = trak[(b"mdia", b"hdlr")].read(file)  # type: ignore[index]
    except KeyError:
        return None
    return bytes(data[8:12]) if ok and len(data) >= 12 else None


def _frame(trak: object, file: IO[bytes]) -> tuple[int | None, int | None]:
    """The ``tkhd`` width and height (16.16 fixed point, the box's last eight bytes)."""
    try:
        ok, data = trak[(b"tkhd",)].read(file)  # type: ignore[index]
    except KeyError:
        return None, None
    if not ok or len(data) < 8:
        return None, None
    width, height = struct.unpack(">II", data[-8:])
    return width >> 16, height >> 16


def problem(container: Container, expected: Expected) -> str | None:
    """Why the file is not the video the job asked for, or None: no video track, the wrong
    frame (aspect ratio, or smaller than asked), no audio track for a voice, or a length far
    from the script's."""
    if container.width is None or container.height is None or not container.height:
        return "the file has no video track"
    w, h = container.width, container.height
    if abs(w / h - expected.width / expected.height) > ASPECT_TOLERANCE * expected.width / (
        expected.height
    ):
        return f"the video is {w}x{h}; {expected.width}x{expected.height} was asked"
    if min(w, h) < SHORT_EDGE_SHARE * min(expected.width, expected.height):
        return f"the video is {w}x{h}; {expected.width}x{expected.height} was asked"
    if expected.audio and not container.audio:
        return "the video has no audio track, and the job has a voice"
    if expected.duration_s is not None:
        low = expected.duration_s / DURATION_FACTOR - DURATION_SLACK_S
        high = expected.duration_s * DURATION_FACTOR + DURATION_SLACK_S
        if not low <= container.duration_s <= high:
            return (
                f"the file lasts {container.duration_s:.1f}s; its script takes about "
                f"{expected.duration_s:.0f}s to speak"
            )
    return None
