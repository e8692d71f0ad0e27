"""`python -m bench.initmix` runs and sees what the wrk init bench sees: admissions and refusals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_init_mix_admits_some_and_refuses_most():
    run = subprocess.run([sys.executable, "-m", "bench.initmix", "--n", "6000", "--subjects", "300"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r"init: ([\d.]+) µs of CPU per init; answers \{'202': (\d+), '409': (\d+)\}", run.stdout)
    assert found, run.stdout
    admitted, refused = int(found.group(2)), int(found.group(3))
    assert abs(admitted + refused - 3000) <= 50  # (inits still in flight when the count starts)
    assert 0 < admitted < refused
