"""Ingest bench: N UDP sources at 10 Mbit/s recorded with zero loss, CPU against `ffmpeg -c copy`.

Run: ``python -m bench.ingest [--sources 20] [--seconds 8] [--mbps 10]``.

One run does both sides on the same input and the same machine:
1. streamkeeper's ingest + recorder in a child process (as the server
   runs it), every source received natively and written to a track file;
2. the baseline, one ``ffmpeg -i udp://... -c copy -f mpegts file`` per
   source, the usual way to record a UDP source.
The sender (this process) plays the same real H.264/AAC multiplex to every
port, paced by its PCR. CPU time comes from the children's rusage, so the
sender is not counted for either side. Results are printed as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# -- the child: streamkeeper's receiving side ---------------------------------

async def _child(ports: list[int], out_dir: str) -> None:
    from streamkeeper.media.ingest import SourceSpec, UdpIngest
    from streamkeeper.media.recorder import Recording

    ingests = {}
    for i, port in enumerate(ports):
        ingests[f"src{i}"] = UdpIngest(SourceSpec(type="UDP", host="127.0.0.1", port=port))
        await ingests[f"src{i}"].start()
    rec = Recording(out_dir, "bench", ingests, min_free=0)
    print("ready", flush=True)
    cpu0 = time.process_time()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop": the sender is done
    # what is still queued in the socket buffers is part of the stream: take it in first
    while any(i.meter.last_arrival and time.monotonic() - i.meter.last_arrival < 0.3 for i in ingests.values()):
        await asyncio.sleep(0.1)
    receiving_cpu = time.process_time() - cpu0
    infos = rec.stop()
    for ing in ingests.values():
        await ing.stop()
    result = {
        sid: {"packets": ing.meter.total_packets, "cc_errors": ing.analyzer.cc_errors,
              "skipped": ing.resync.skipped_bytes, "track_bytes": infos[sid].size,
              "track_cc_errors": infos[sid].cc_errors, "duration": infos[sid].duration}
        for sid, ing in ingests.items()
    }
    print(json.dumps({"sources": result, "receiving_cpu": receiving_cpu}), flush=True)


def child_main(argv: list[str]) -> None:
    ports = [int(p) for p in argv[0].split(",")]
    try:
        import uvloop  # the server's event loop when installed

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_child(ports, argv[1]))


# -- the sender ---------------------------------------------------------------

def send_all(schedule: list[tuple[float, bytes]], ports: list[int]) -> int:
    """Play the schedule to every port at once; returns datagrams sent per port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    addrs = [("127.0.0.1", p) for p in ports]
    base = time.monotonic() + 0.05
    for t, dgram in schedule:
        delay = base + t - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)
        for a in addrs:
            while True:
                try:
                    sock.sendto(dgram, a)
                    break
                except BlockingIOError:
                    time.sleep(0.0001)
    sock.close()
    return len(schedule)


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) used so far by running processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _wait_rusage(proc: subprocess.Popen) -> float:
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def run(sources: int, seconds: float, mbps: float) -> dict:
    from streamkeeper.media.ingest import ffmpeg_exe
    from streamkeeper.media.pacer import paced_datagrams
    from streamkeeper.media.testsignal import make_clip
    from streamkeeper.media.ts import analyze_file

    work = Path(tempfile.mkdtemp(prefix="sk-bench-ingest-"))
    clip = make_clip(work / "input.ts", seconds=seconds, width=640, height=360,
                     video_bitrate=int(mbps * 1e6 * 0.6), muxrate=int(mbps * 1e6))
    own = analyze_file(clip)
    data = clip.read_bytes()
    schedule = list(paced_datagrams(data))
    packets_sent = len(data) // 188
    stream_seconds = schedule[-1][0]

    # streamkeeper
    ports = _free_ports(sources)
    child = subprocess.Popen([sys.executable, "-m", "bench.ingest", "--child", ",".join(map(str, ports)),
                              str(work / "sk")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    cpu0 = _cpu([child.pid])
    send_all(schedule, ports)
    time.sleep(0.5)
    sk_window_cpu = _cpu([child.pid]) - cpu0  # sampled from outside, the same way as ffmpeg below
    child.stdin.write("stop\n")
    child.stdin.flush()
    report = json.loads(child.stdout.readline())
    result = report["sources"]
    sk_total_cpu = _wait_rusage(child)  # with start-up, imports and finalisation
    sk_cpu = sk_window_cpu  # while receiving and writing: what ffmpeg does
    sk_wall = time.monotonic() - t0

    # ffmpeg -c copy, same input, same ports scheme
    ports = _free_ports(sources)
    (work / "ff").mkdir()
    procs = [subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
         "-i", f"udp://127.0.0.1:{p}?timeout=1500000&buffer_size=8388608&fifo_size=1000000&overrun_nonfatal=1",
         "-map", "0", "-c", "copy", "-f", "mpegts", str(work / "ff" / f"src{i}.ts")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i, p in enumerate(ports)]
    time.sleep(1.0)  # let every ffmpeg open its socket
    ff0 = _cpu([p.pid for p in procs])
    send_all(schedule, ports)
    time.sleep(0.5)
    ff_cpu = _cpu([p.pid for p in procs]) - ff0  # same window: start-up and probing excluded
    ff_total_cpu = sum(_wait_rusage(p) for p in procs)

    total_mbps = sources * own.bitrate / 1e6
    lost = sum(packets_sent - r["packets"] for r in result.values())
    errors = sum(r["cc_errors"] + r["track_cc_errors"] for r in result.values())
    sk_per_mbps = sk_cpu / stream_seconds / total_mbps
    ff_per_mbps = ff_cpu / stream_seconds / total_mbps
    return {
        "sources": sources, "stream_seconds": round(stream_seconds, 2), "mbps_per_source": round(own.bitrate / 1e6, 3),
        "packets_sent_per_source": packets_sent, "packets_lost": lost, "continuity_errors": errors,
        "min_track_duration": round(min(r["duration"] for r in result.values()), 2),
        "streamkeeper_cpu_s": round(sk_cpu, 2), "streamkeeper_process_cpu_s": round(sk_total_cpu, 2),
        "ffmpeg_copy_cpu_s": round(ff_cpu, 2), "ffmpeg_copy_process_cpu_s": round(ff_total_cpu, 2),
        "streamkeeper_self_reported_cpu_s": round(report["receiving_cpu"], 2),
        "streamkeeper_cpu_ms_per_mbit": round(sk_per_mbps * 1000, 3),
        "ffmpeg_copy_cpu_ms_per_mbit": round(ff_per_mbps * 1000, 3),
        "cpu_ratio_vs_ffmpeg_copy": round(sk_per_mbps / ff_per_mbps, 3) if ff_per_mbps else None,
        "work_dir": str(work), "wall_s": round(sk_wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child_main(argv[1:])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--mbps", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true", help="keep the recorded files")
    args = ap.parse_args(argv)
    r = run(args.sources, args.seconds, args.mbps)
    ok = r["packets_lost"] == 0 and r["continuity_errors"] == 0
    print(f"ingest: {r['sources']} UDP sources x {r['mbps_per_source']} Mbit/s for {r['stream_seconds']} s: "
          f"{'zero loss' if ok else 'LOSS'} (lost {r['packets_lost']} packets, {r['continuity_errors']} CC errors)")
    print(f"ingest: CPU per Mbit/s (ms of CPU per second of stream): streamkeeper {r['streamkeeper_cpu_ms_per_mbit']}, "
          f"ffmpeg -c copy {r['ffmpeg_copy_cpu_ms_per_mbit']}, ratio {r['cpu_ratio_vs_ffmpeg_copy']}")
    print(json.dumps(r))
    if not args.keep:
        import shutil

        shutil.rmtree(r["work_dir"], ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
