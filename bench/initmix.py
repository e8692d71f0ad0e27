"""The init workload of `bench.cm` in process: random starts as its wrk script makes them,
through the server's own protocol (the lane), on the embedded store. No sockets, so it can run
under callgrind, where an instruction count is the same on a busy machine as on a quiet one.

Run: ``python -m bench.initmix [--n 60000]``. The first half fills the 4000 viewers and is not
counted; the second half prints CPU per init and what the inits got (about a tenth admitted,
as in the wrk bench). For instructions: ``valgrind --tool=callgrind --instr-atstart=no
python -m bench.initmix --callgrind``, which counts the second half only.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

from .cm import CONFIG
from .inproc import lifespan, run_on_uvloop
from .lane import FakeTransport, drive, init_request, protocol_for

def callgrind(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], capture_output=True)


async def main_async(args) -> None:
    from streamkeeper.app import create_app
    from streamkeeper.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="skinitmix-"))
    (work / "bench.toml").write_text(CONFIG)
    app = create_app(Settings(data_dir=work, config=work / "bench.toml", secret="s" * 32, admin_key="k" * 24,
                              log_level="warning"))
    stop = await lifespan(app)
    rnd = random.Random(args.seed)
    requests = [init_request(rnd.randint(1, args.subjects), rnd) for _ in range(args.n)]
    statuses: collections.Counter = collections.Counter()
    write = FakeTransport.write

    def counted(self, data: bytes) -> None:
        statuses[data[9:12].decode()] += 1
        write(self, data)

    FakeTransport.write = counted  # type: ignore[method-assign]
    conns = [protocol_for(app, lane=True) for _ in range(50)]
    half = args.n // 2
    await drive(conns, requests[:half], half, False)
    statuses.clear()
    if args.callgrind:
        callgrind(True)
    cpu = time.process_time()
    await drive(conns, requests[half:], args.n - half, False)
    cpu = time.process_time() - cpu
    if args.callgrind:
        callgrind(False)
    print(f"init: {cpu / (args.n - half) * 1e6:.1f} µs of CPU per init; answers {dict(sorted(statuses.items()))}")
    await stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--subjects", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true", help="count instructions of the second half only")
    run_on_uvloop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
