"""The ingest benchmark's lag probe: how long a line appended to a run's ``events.jsonl``
takes to be queryable in ``mosaic.db``, sampled under the flood.

    python -I -S _lag_probe.py HOME RUN_ID...

A process of its own (it must not take the supervisor's GIL), started by
``benchmarks/ingest.py`` and as light as it can be, since it shares the two
cores with what it measures: the standard library only, no ``site``, plain
``os`` calls. Every ~10 ms, each run whose file grew since the last look
gives a sample (the ``seq`` of its last complete line, and the time it was
seen); one read-only query of ``mosaic.db`` settles the samples whose
``seq`` the index now holds. ``HOME/lag-probe.stop`` appears once every
run is indexed: a last look settles what is left, and the probe prints one
JSON object, the lags in seconds and the CPU time this process used.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

TAIL = 4096  # bytes read back from a file's end: more than one line


def probe(home: str, run_ids: list[str]) -> dict[str, object]:
    paths = [os.path.join(home, "runs", run_id, "events.jsonl") for run_id in run_ids]
    sizes = [0] * len(paths)
    stop = os.path.join(home, "lag-probe.stop")
    lags: list[float] = []
    pending: list[tuple[str, int, float]] = []
    db: sqlite3.Connection | None = None
    while True:
        stopping = os.path.exists(stop)  # everything is indexed by then: a last look
        if not stopping:
            time.sleep(0.01)
        for i, path in enumerate(paths):
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                continue
            if size <= sizes[i]:
                continue
            seen = time.monotonic()
            sizes[i] = size
            fd = os.open(path, os.O_RDONLY)
            try:
                lines = os.pread(fd, TAIL, max(0, size - TAIL)).split(b"\n")
            finally:
                os.close(fd)
            if len(lines) >= 2 and lines[-2].startswith(b"{"):
                pending.append((run_ids[i], json.loads(lines[-2])["seq"], seen))
        if pending:
            if db is None:
                uri = "file:" + os.path.join(home, "mosaic.db") + "?mode=ro"
                db = sqlite3.connect(uri, uri=True, timeout=30)
            indexed = dict(db.execute("SELECT run_id, next_seq FROM runs"))
            now = time.monotonic()
            left = []
            for run_id, seq, seen in pending:
                if indexed.get(run_id, 0) > seq:
                    lags.append(now - seen)
                else:
                    left.append((run_id, seq, seen))
            pending = left
        if stopping:
            break
    return {"lags": lags, "cpu": time.process_time()}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], sys.argv[2:])))
