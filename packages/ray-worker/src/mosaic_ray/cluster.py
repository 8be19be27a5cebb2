"""Where the run's Ray lives: a private local Ray it starts and stops, or a cluster it joins.

A local Ray is started with ``address="local"`` (never an instance someone
else started on this machine), no dashboard, no usage stats, the CPUs the
run needs, a small object store and a short temporary directory named
after the run; its processes are children of this worker, in its session,
so the supervisor's tree kill reaches them too. A cluster (``ray_address``)
is joined as one more driver: ``ray.shutdown()`` disconnects, Ray then ends
the actors of this job, and the cluster itself is never stopped.

``ray.init`` replaces the SIGTERM handler with one that calls
``sys.exit``; :func:`ray_session` puts MOSAIC's back (SIGTERM raises
:class:`~mosaic_core.RunCancelled`) and turns a SIGTERM that arrives during
``ray.init`` into a cancellation too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import attrs

from mosaic_core import MosaicError, RunCancelled, RunContext
from mosaic_ray.config import RayConfig

__all__ = ["RayPlace", "prepare_environment", "ray_session", "temp_dir_for"]


@attrs.define
class RayPlace:
    """The Ray a run uses, as the summary and manifest report it."""

    address: str
    local: bool
    temp_dir: str | None
    cpus: float
    nodes: int


def prepare_environment(config: RayConfig) -> None:
    """Process settings Ray and torch read at import: call before importing either."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torch's default threads thrash 2 cores
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if config.local or _loopback(config.ray_address):
        # Ray swaps a loopback address for the machine's external one unless told not to:
        # a private Ray stays on loopback, and a head addressed by loopback is reached there.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _loopback(address: str | None) -> bool:
    host = (address or "").rpartition(":")[0].strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def temp_dir_for(run_id: str) -> str:
    """A short directory for a local Ray (its socket paths must stay under ~107 bytes)."""
    name = run_id if len(run_id) <= 26 else hashlib.sha1(run_id.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"mosaic-ray-{name}")


def _init(**kwargs: Any) -> Any:
    import ray

    previous = signal.getsignal(signal.SIGTERM)
    try:
        return ray.init(**kwargs)
    except SystemExit as exc:
        if exc.code == signal.SIGTERM:  # Ray's own handler ran: the run was cancelled
            raise RunCancelled("received SIGTERM") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def ray_session(config: RayConfig, cpus_needed: int) -> Iterator[RayPlace]:
    """Start or join Ray for one run; always shut the driver down, and a local Ray with it."""
    import ray

    common: dict[str, Any] = {
        "namespace": f"mosaic-{config.run_id}",
        "logging_level": logging.WARNING,
        "log_to_driver": True,
    }
    temp_dir = None
    if config.local:
        temp_dir = config.ray_temp_dir or temp_dir_for(config.run_id)
    cancelled = False
    try:
        if config.local:
            _init(
                address="local",
                num_cpus=config.num_cpus or max(os.cpu_count() or 1, cpus_needed),
                object_store_memory=config.object_store_memory_mb * 1024 * 1024,
                include_dashboard=False,
                _temp_dir=temp_dir,
                **common,
            )
        else:
            _check_reachable(str(config.ray_address))
            _init(address=config.ray_address, **common)
        place = _place(config, temp_dir)
        if not config.local and place.cpus < cpus_needed:
            print(
                f"mosaic-ray: the cluster at {config.ray_address} has {place.cpus:g} CPUs and "
                f"this run reserves {cpus_needed}; RLlib waits until they are free (or an "
                "autoscaler adds them)",
                file=sys.stderr,
            )
        yield place
    except RunCancelled:
        cancelled = True
        raise
    finally:
        if cancelled and config.local:
            # The supervisor signals the whole session, so this Ray is already going down and
            # ray.shutdown() could wait on peers that are gone: kill what is left directly.
            RunContext.kill_descendants()
        elif ray.is_initialized():
            ray.shutdown()
        if temp_dir is not None and config.ray_temp_dir is None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once on a head that is not there: ray.init would retry for minutes."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout).close()
    except (OSError, ValueError) as exc:
        raise MosaicError(
            f"no Ray head answers at ray_address {address!r} ({exc}); start one with "
            "`ray start --head` and use the address it prints, or unset ray_address for a "
            "local Ray"
        ) from None


def _place(config: RayConfig, temp_dir: str | None) -> RayPlace:
    import ray

    return RayPlace(
        address=ray.get_runtime_context().gcs_address,
        local=config.local,
        temp_dir=temp_dir,
        cpus=float(ray.cluster_resources().get("CPU", 0.0)),
        nodes=len([node for node in ray.nodes() if node.get("Alive")]),
    )
