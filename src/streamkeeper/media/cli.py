"""`streamkeeper media test-signal`: a real test source for a newcomer, no ffmpeg needed.

Sends H.264/AAC MPEG-TS over UDP in real time, paced by its own PCR, with
the frame number drawn into every picture. ``--restart-every`` makes the
encoder restart (its clock back to zero, continuity counters reset) the way
real encoders do, to see that recordings and players get through it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

MAX_SECONDS = 3600
LOOP_PIECE = 60.0  # past this many seconds without restarts, one minute is encoded and looped


def register(sub) -> None:
    """Add `media test-signal` to the `streamkeeper` command."""
    about = "media tools: a test signal to feed a source"
    media = sub.add_parser("media", help=about, description=about)
    tools = media.add_subparsers(dest="tool", required=True)
    text = "send a numbered test signal (H.264/AAC MPEG-TS) over UDP"
    sig = tools.add_parser("test-signal", help=text, description=f"{text}\n\n{__doc__.split(chr(10), 2)[2]}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sig.add_argument("url", help="where to send: udp://HOST:PORT (unicast or multicast)")
    sig.add_argument("--seconds", type=float, default=10.0, help="how long to send (default 10)")
    sig.add_argument("--restart-every", type=float, default=None, metavar="S",
                     help="restart the encoder every S seconds (clock back to zero)")
    sig.add_argument("--size", default="320x240", help="picture size WIDTHxHEIGHT (default 320x240)")
    sig.add_argument("--no-audio", action="store_true", help="video only")
    sig.set_defaults(func=test_signal)


def parse_udp_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "udp" or not parts.hostname or not parts.port:
        raise ValueError(f"{url!r} is not udp://HOST:PORT")
    return parts.hostname, parts.port


def plan(seconds: float, restart_every: float | None, audio: bool) -> tuple[list, int]:
    """The encoder runs to send and how often to loop them."""
    from .testsignal import Piece

    if restart_every:
        pieces, left = [], seconds
        while left > 1e-6:
            pieces.append(Piece(min(restart_every, left), start=0, audio=audio))
            left -= restart_every
        return pieces, 1
    if seconds <= LOOP_PIECE:
        return [Piece(seconds, start=0, audio=audio)], 1
    loops = int(seconds // LOOP_PIECE) + (1 if seconds % LOOP_PIECE else 0)
    return [Piece(LOOP_PIECE, start=0, audio=audio)], loops


def test_signal(args: argparse.Namespace) -> int:
    from .testsignal import UdpSender, encode_timeline

    try:
        address = parse_udp_url(args.url)
        width, height = (int(v) for v in args.size.lower().split("x"))
        if not 0 < args.seconds <= MAX_SECONDS:
            raise ValueError(f"--seconds must be between 0 and {MAX_SECONDS}")
        if args.restart_every is not None and args.restart_every < 0.5:
            raise ValueError("--restart-every must be at least 0.5 seconds")
        if width % 16 or height % 16 or not 64 <= width <= 1920 or not 64 <= height <= 1080:
            raise ValueError("--size must be multiples of 16, from 64x64 to 1920x1080")
    except ValueError as exc:
        print(f"streamkeeper: {exc}", file=sys.stderr)
        return 2
    pieces, loops = plan(args.seconds, args.restart_every, not args.no_audio)
    with tempfile.TemporaryDirectory(prefix="streamkeeper-signal-") as tmp:
        path = Path(tmp) / "signal.ts"
        path.write_bytes(encode_timeline(pieces, width=width, height=height))
        print(f"sending {args.seconds:g} s of {width}x{height} test signal to udp://{address[0]}:{address[1]}"
              + (f", encoder restarting every {args.restart_every:g} s" if args.restart_every else ""),
              file=sys.stderr)
        sender = UdpSender(path, address, loops=loops).start()
        try:
            sender.join()
        except KeyboardInterrupt:
            pass
        finally:
            sender.stop()
        print(f"sent {sender.sent_datagrams} datagrams, {sender.sent_bytes} bytes", file=sys.stderr)
    return 0
