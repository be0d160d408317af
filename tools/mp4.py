"""Tiny, real MP4 files written in pure Python (no ffmpeg needed on CI): an ISO base media file
(ISO/IEC 14496-12) with a ``moov`` that says how long the video lasts, its frame size and,
when asked, an AAC audio track, and an ``mdat`` with one placeholder sample per track that lasts
the whole video (so every track is exactly as long as the movie).
The samples are not decodable pictures or sound: what the simulator and the tests need is a
container that a parser reads as a video of that length, size and tracks, as CVPlus checks every
delivered file (``shared.adapters.media``).

    python -m tools.mp4 out.mp4 --seconds 12 --width 1920 --height 1080 [--silent]
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

MOVIE_TIMESCALE = 1000
AUDIO_RATE = 8000
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_LANGUAGE_UND = 0x55C4


def box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def full(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags), *parts)


def _descriptor(tag: int, payload: bytes) -> bytes:
    return bytes([tag, len(payload)]) + payload


def _esds() -> bytes:
    """An AAC-LC, 8 kHz, mono elementary stream descriptor (ISO/IEC 14496-1)."""
    audio_config = bytes([0x15, 0x88])  # object type 2 (LC), frequency index 11, 1 channel
    decoder = _descriptor(
        0x04,
        bytes([0x40, 0x15])
        + b"\x00\x00\x00"
        + struct.pack(">II", 16000, 16000)
        + _descriptor(0x05, audio_config),
    )
    es = _descriptor(0x03, struct.pack(">HB", 1, 0) + decoder + _descriptor(0x06, b"\x02"))
    return full(b"esds", 0, 0, es)


def _video_entry(width: int, height: int) -> bytes:
    sps = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5])
    pps = bytes([0x68, 0xCE, 0x3C, 0x80])
    avcc = box(
        b"avcC",
        bytes([1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1]),
        struct.pack(">H", len(sps)) + sps,
        bytes([1]) + struct.pack(">H", len(pps)) + pps,
    )
    return box(
        b"avc1",
        b"\x00" * 6 + struct.pack(">H", 1),
        b"\x00" * 16,
        struct.pack(">HHIIIH", width, height, 0x480000, 0x480000, 0, 1),
        b"\x00" * 32,
        struct.pack(">Hh", 0x18, -1),
        avcc,
    )


def _audio_entry() -> bytes:
    return box(
        b"mp4a",
        b"\x00" * 6 + struct.pack(">H", 1),
        b"\x00" * 8,
        struct.pack(">HHHHI", 1, 16, 0, 0, AUDIO_RATE << 16),
        _esds(),
    )


def _track(
    track_id: int,
    *,
    handler: bytes,
    timescale: int,
    samples: int,
    delta: int,
    sample_size: int,
    entry: bytes,
    offset: int,
    seconds_ms: int,
    width: int = 0,
    height: int = 0,
) -> bytes:
    audio = handler == b"soun"
    tkhd = full(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, track_id, 0, seconds_ms),
        b"\x00" * 8,
        struct.pack(">hhhH", 0, 0, 0x0100 if audio else 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = full(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, samples * delta, _LANGUAGE_UND, 0)
    )
    name = b"SoundHandler\x00" if audio else b"VideoHandler\x00"
    hdlr = full(b"hdlr", 0, 0, struct.pack(">I", 0), handler, b"\x00" * 12, name)
    media_header = full(b"smhd", 0, 0, b"\x00" * 4) if audio else full(b"vmhd", 0, 1, b"\x00" * 8)
    dinf = box(b"dinf", full(b"dref", 0, 0, struct.pack(">I", 1), full(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full(b"stts", 0, 0, struct.pack(">III", 1, samples, delta)),
        full(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, samples, 1)),
        full(b"stsz", 0, 0, struct.pack(">II", sample_size, samples)),
        full(b"stco", 0, 0, struct.pack(">II", 1, offset)),
    )
    minf = box(b"minf", media_header, dinf, stbl)
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))


def mp4(seconds: float, *, width: int, height: int, audio: bool = True) -> bytes:
    """An MP4 of ``seconds`` (whole milliseconds), ``width`` x ``height``, with an audio track
    unless ``audio`` is False."""
    ms = max(1, round(seconds * 1000))
    frames = 1
    video_size, audio_size = 16, 8
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")

    def moov(video_at: int, audio_at: int) -> bytes:
        mvhd = full(
            b"mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, ms),
            struct.pack(">IH", 0x10000, 0x0100),
            b"\x00" * 10,
            _MATRIX,
            b"\x00" * 24,
            struct.pack(">I", 3 if audio else 2),
        )
        tracks = [
            _track(
                1,
                handler=b"vide",
                timescale=MOVIE_TIMESCALE,
                samples=frames,
                delta=ms,
                sample_size=video_size,
                entry=_video_entry(width, height),
                offset=video_at,
                seconds_ms=ms,
                width=width,
                height=height,
            )
        ]
        if audio:
            tracks.append(
                _track(
                    2,
                    handler=b"soun",
                    timescale=AUDIO_RATE,
                    samples=frames,
                    delta=ms * AUDIO_RATE // 1000,
                    sample_size=audio_size,
                    entry=_audio_entry(),
                    offset=audio_at,
                    seconds_ms=ms,
                )
            )
        return box(b"moov", mvhd, *tracks)

    head = len(ftyp) + len(moov(0, 0)) + 8
    video_bytes = b"\x00\x00\x00\x0c\x65" + b"\x88" * (video_size - 5)
    mdat = box(b"mdat", video_bytes * frames, (b"\x21" * audio_size * frames) if audio else b"")
    return ftyp + moov(head, head + video_size * frames) + mdat


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--silent", action="store_true", help="no audio track")
    args = ap.parse_args(argv)
    data = mp4(args.seconds, width=args.width, height=args.height, audio=not args.silent)
    args.out.write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
