"""`make bench`: the concurrency-monitoring bench, the journal bench, the ingest bench, then the enforced
playback bench (bench/playback.py)."""

import subprocess
import sys

codes = [subprocess.call([sys.executable, "-m", "bench.cm", *sys.argv[1:]]),
         subprocess.call([sys.executable, "-m", "bench.journal"]),
         subprocess.call([sys.executable, "-m", "bench.ingest"]),
         subprocess.call([sys.executable, "-m", "bench.playback"])]
raise SystemExit(max(codes))
