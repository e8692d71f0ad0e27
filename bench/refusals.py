"""A refused init's own cost: the viewers of `bench.initmix` filled, then the starts they
refuse replayed through the server's protocol (the lane), each answered in the parser's
callback. Most inits are refusals; this counts nothing else (no admissions, no journal).

Run: ``python -m bench.refusals``: µs of CPU per refusal. For instructions, the same on a busy
machine as on a quiet one: ``valgrind --tool=callgrind --instr-atstart=no python -m
bench.refusals --callgrind``, which counts the replay only; divide the total by the refusals
printed. The clock is a counter, so two versions of the code replay the same refusals.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from .cm import CONFIG
from .initmix import callgrind
from .inproc import lifespan, run_on_uvloop
from .lane import drive, init_request, protocol_for


class Ticks:
    """A clock that moves 100 µs per reading: the same run gives the same decisions."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 0.0001
        return self.now


async def replay(proto, transport, request: bytes) -> bytes:
    """The answer to one request on an idle connection, waiting for a journal commit if needed."""
    transport.out.clear()
    proto.data_received(request)
    while not proto.cycle.response_complete:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0)  # the turn's answers are written at its end
    return b"".join(transport.out)


async def main_async(args) -> None:
    from streamkeeper.app import create_app
    from streamkeeper.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="skrefusals-"))
    (work / "bench.toml").write_text(CONFIG)
    app = create_app(Settings(data_dir=work, config=work / "bench.toml", secret="s" * 32, admin_key="k" * 24,
                              log_level="warning"), clock=Ticks())
    stop = await lifespan(app)
    rnd = random.Random(args.seed)
    fill = [init_request(rnd.randint(1, args.subjects), rnd) for _ in range(args.fill)]
    await drive([protocol_for(app, lane=True) for _ in range(50)], fill, len(fill), False)
    proto, transport = protocol_for(app, lane=True)
    refused = []
    for _ in range(args.n * 3):
        request = init_request(rnd.randint(1, args.subjects), rnd)
        if (await replay(proto, transport, request))[9:12] == b"409":
            refused.append(request)
            if len(refused) == args.n:
                break
    # Kept: those refused again once all the candidates were sent (an admission among them may
    # have changed a viewer).
    refused = [r for r in refused if (await replay(proto, transport, r))[9:12] == b"409"]
    transport.out.clear()
    if args.callgrind:
        callgrind(True)
    cpu = time.process_time()
    for request in refused:
        proto.data_received(request)
    cpu = time.process_time() - cpu
    if args.callgrind:
        callgrind(False)
    await asyncio.sleep(0)
    answered = sum(1 for data in transport.out if data[9:12] == b"409")
    print(f"refusals: {len(refused)} replayed, {answered} answered 409 at once; "
          f"{cpu / max(1, len(refused)) * 1e6:.1f} µs of CPU per refusal")
    await stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="refusals replayed")
    parser.add_argument("--fill", type=int, default=40_000, help="inits sent first (not counted)")
    parser.add_argument("--subjects", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true", help="count instructions of the replay only")
    run_on_uvloop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
