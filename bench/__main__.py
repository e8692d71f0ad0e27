"""`make bench`: the concurrency-monitoring bench, the journal bench, then the ingest bench."""

import subprocess
import sys

codes = [subprocess.call([sys.executable, "-m", "bench.cm", *sys.argv[1:]]),
         subprocess.call([sys.executable, "-m", "bench.journal"]),
         subprocess.call([sys.executable, "-m", "bench.ingest"])]
raise SystemExit(max(codes))
