"""A Ray cluster of several nodes on this machine, to try ``mosaic run --launcher ray``.

    python docs/examples/local_cluster.py [--nodes 2] [--cpus 2]

Starts a head that runs nothing and ``--nodes`` nodes of ``--cpus`` CPUs on
127.0.0.1 (``ray.cluster_utils.Cluster``, what the launcher's tests use),
each node with a custom resource of its own name (``node_1``, ``node_2``,
...) so that ``--resources`` can pick one. Everything Ray keeps lives in a
temporary directory of its own, so another Ray on the machine is left
alone. Prints the address, then waits; Ctrl-C (or SIGTERM) shuts every node
down and removes the directory. It needs Ray (``pip install
./packages/mosaic-ray-launcher``); the nodes run the workers installed in
this Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2, help="nodes that run runs")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of each node")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="mosaic-cluster-", dir="/tmp")  # short: Ray's socket paths
    # Before Ray is imported, which reads them: nodes on 127.0.0.1 (not the machine's
    # external address), no usage report.
    os.environ.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0",
                      RAY_TMPDIR=root)  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds like Ctrl-C
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False,
    })  # fmt: skip
    try:
        for n in range(1, args.nodes + 1):
            cluster.add_node(num_cpus=args.cpus, resources={f"node_{n}": 100},
                             node_ip_address="127.0.0.1")  # fmt: skip
        cluster.wait_for_nodes()
        print(f"a head and {args.nodes} nodes of {args.cpus} CPUs at {cluster.address}", flush=True)
        print(f"    export RAY_ADDRESS={cluster.address}", flush=True)
        print("Ctrl-C stops them.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
