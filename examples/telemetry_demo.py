"""A worker process speaks telemetry over a dedicated pipe; the parent reads it.

This is the wire protocol every MOSAIC worker speaks, shown end to end with
two real processes: the child is started with MOSAIC_TELEMETRY_FD naming the
write end of a pipe, emits a run with TelemetryEmitter (and prints to its
stdout, which cannot corrupt the channel), and the parent parses the stream
with TelemetryReader and proves that no event was lost.

    python examples/telemetry_demo.py [--steps N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from mosaic_core import TelemetryEvent, TelemetryReader

CHILD = """
import math, sys
from mosaic_core import TelemetryEmitter

steps = int(sys.argv[1])
emitter = TelemetryEmitter()
with emitter.lifecycle(worker_type="demo", algorithm="sine", env_id="none",
                       total_steps=steps, heartbeat_interval=0.2) as run:
    for step in range(steps):
        print(f"library log line {step}")          # goes to stdout, not telemetry
        if step % 10 == 0:
            run.metrics(step, {"charts/episodic_return": 100 * math.sin(step / 50) ** 2})
    run.summary["final_step"] = steps
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, MOSAIC_TELEMETRY_FD=str(write_fd), MOSAIC_RUN_ID="demo-run")
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(args.steps)],
        env=env,
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
    )
    os.close(write_fd)
    reader = TelemetryReader(expected_run_id="demo-run")
    counts: dict[str, int] = {}
    last: TelemetryEvent | None = None
    with os.fdopen(read_fd, "rb") as channel:
        for chunk in iter(lambda: channel.read1(65536), b""):
            for item in reader.feed(chunk):
                if isinstance(item, TelemetryEvent):
                    counts[item.event] = counts.get(item.event, 0) + 1
                    last = item
                    if item.event in ("run_started", "run_completed"):
                        print(f"  seq {item.seq:>3}  {item.event:<14} {item.payload}")
                else:
                    print(f"  anomaly: {item}")
    for item in reader.close():
        print(f"  anomaly: {item}")
    code = child.wait()
    elapsed = time.perf_counter() - started
    print(f"events by type: {counts}")
    print(f"seq gaps: {reader.gaps or 'none'}; terminal: {last.event if last else None}; "
          f"worker exit status {code}; {elapsed:.2f} s")
    ok = code == 0 and not reader.gaps and reader.terminal is not None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
