"""The home side: each run a detached agent on a node of the cluster, its files relayed home.

The supervisor's process joins the cluster as a Ray driver once
(:class:`RayLauncher`), and for each run creates an agent
(:mod:`mosaic_ray_launcher.agent`) with the run's resources, which Ray
places on a node (spreading a sweep over them by default; a run that fits
nowhere yet waits in Ray's queue, not in MOSAIC's). :class:`~mosaic_ray_launcher.run.RayRun`
is the run as the supervisor sees it: each ``pump`` takes the batch the agent read
last (one call in flight per run, answered as soon as the worker wrote
something) and appends it to the run's directory at home. The launcher's
relay thread (:class:`~mosaic_ray_launcher.relay.Pumper`) pumps the runs
too, one step at a time with the supervisor's, so batches come home while
the supervisor indexes what came before. When the worker
has exited and everything is read, its files come home, the agent removes
the node's copy and ends. An agent that dies on a node Ray reports dead
ends the run with ``node_lost`` (retryable); Ray's "actor unavailable" is a
hiccup, and the batch is asked for again from the same offsets.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import signal
import time
from collections.abc import Mapping
from typing import Any

from mosaic_core.runs.launchers import Ended, LaunchError, LaunchSpec, Recovered
from mosaic_core.runs.store import RunStore
from mosaic_ray_launcher.relay import Pumper, relay_lock
from mosaic_ray_launcher.run import (
    RayRun,
    collect_files,
    load_placement,
    save_placement,
    where_of,
)

__all__ = ["RayLauncher", "RayRun"]

logger = logging.getLogger(__name__)


def agent_class() -> Any:
    """The agent as a Ray actor class, its module shipped by value (nodes need no copy)."""
    import ray

    from mosaic_ray_launcher import agent

    ray.cloudpickle.register_pickle_by_value(agent)
    return ray.remote(agent.RunAgent)


class RayLauncher:
    """Joins the cluster once per process; starts, recovers and stops runs there."""

    def __init__(self, *, relay_thread: bool = True) -> None:
        """``relay_thread=False``: runs come home only through the supervisor's calls."""
        self._address: str | None = None
        self._runtime_env: Any = None
        self._agent_class: Any = None
        self._pumper = Pumper() if relay_thread else None

    # -- the connection ------------------------------------------------------------------

    def connect(self, options: Mapping[str, Any]) -> None:
        """Join the cluster at ``options["address"]`` as a driver, once."""
        address = str(options["address"])
        if self._address is not None:
            if address != self._address:
                raise LaunchError(
                    f"this process joined the Ray cluster at {self._address}; a run for "
                    f"{address} needs a `mosaic run` of its own"
                )
            return
        # Before Ray is imported, which reads them then.
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        if _loopback(address):  # Ray would swap 127.0.0.1 for the external address
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray

        # ray.init installs its own SIGTERM handler (sys.exit): the supervisor's stays.
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            # The runs' runtime_env is this driver's job's, which every agent inherits: Ray
            # uploads a local working_dir or package only for a job, never for one actor.
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                     runtime_env=options.get("runtime_env") or None)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - said in one line, the run fails with it
            raise LaunchError(f"cannot join the Ray cluster at {address}: {exc}") from None
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        _keep_stdout_clean()
        self._address = address
        self._runtime_env = options.get("runtime_env") or None
        self._agent_class = agent_class()

    def close(self) -> None:
        if self._pumper is not None:
            self._pumper.close()
        if self._address is not None:
            import ray

            with contextlib.suppress(Exception):
                ray.shutdown()
            self._address = None

    # -- runs --------------------------------------------------------------------------

    def start(
        self, spec: LaunchSpec, run_dir: pathlib.Path, variables: Mapping[str, str]
    ) -> RayRun:
        options = spec.launcher_options
        self.connect(options)
        attempt = _attempt(run_dir)
        name = f"mosaic-run-{spec.run_id}" + (f"-{attempt}" if attempt else "")
        resources = dict(options.get("resources") or {})
        actor: dict[str, Any] = {
            "name": name,
            "namespace": options.get("namespace", "mosaic"),
            "lifetime": "detached",
            "max_restarts": 0,
            "max_concurrency": 4,
            "num_cpus": resources.pop("CPU", 1.0),
            "num_gpus": resources.pop("GPU", 0.0),
            "scheduling_strategy": options.get("scheduling", "SPREAD"),
        }
        if "memory" in resources:
            actor["memory"] = resources.pop("memory")
        if resources:
            actor["resources"] = resources
        if (options.get("runtime_env") or None) != self._runtime_env:
            actor["runtime_env"] = options.get("runtime_env") or {}  # not the job's: Ray's
        argv = list(spec.command)
        at = argv.index("--config")
        request = {
            "run_id": spec.run_id,
            "attempt": attempt,
            "worker_type": spec.worker_type,
            "distribution": options.get("worker_distribution"),
            "worker_args": argv[1:at] + argv[at + 2 :],
            "config": (run_dir / "config.json").read_text(encoding="utf-8"),
            "variables": dict(variables),
            "node_dir": options.get("node_dir"),
            "storage": options.get("storage"),
        }
        try:
            agent = self._agent_class.options(**actor).remote()
            start = agent.start.remote(request)
        except Exception as exc:  # noqa: BLE001 - Ray refused the options: said in one line
            raise LaunchError(f"Ray refused the run's agent: {exc}") from None
        placement = {"address": self._address, "namespace": actor["namespace"], "agent": name,
                     "attempt": attempt, "resources": options.get("resources")}  # fmt: skip
        save_placement(run_dir, placement)
        run = RayRun(agent, run_dir, placement, start=start, keep=options.get("keep_on_node"))
        if self._pumper is not None:
            self._pumper.add(run)
        return run

    def recover(
        self, store: RunStore, run_id: str, spec: LaunchSpec, *, telemetry: bool, files: bool
    ) -> Recovered | None:
        """Bring home what a run nobody supervises has written; its end once it ended."""
        import ray

        run_dir = store.run_dir(run_id)
        placement = load_placement(run_dir)
        if placement.get("collected"):
            ended = Ended(returncode=placement.get("returncode"), failure=placement.get("failure"))
            return Recovered(running=False, ended=ended, where=where_of(placement))
        if "agent" not in placement:
            return None
        self.connect(spec.launcher_options)
        try:
            agent = ray.get_actor(placement["agent"], namespace=placement["namespace"])
        except ValueError:  # no such actor any more: its node went away with it
            failure = f"node_lost: {where_of(placement) or 'the run'} is gone, and the run with it"
            save_placement(run_dir, {**placement, "collected": True, "failure": failure})
            ended = Ended(returncode=None, failure=failure)
            return Recovered(running=False, ended=ended, where=where_of(placement))
        with relay_lock(run_dir):
            if not telemetry:
                names = collect_files(agent, run_dir)
                state = ray.get(agent.state.remote(), timeout=60)
                return Recovered(running=state["exit"] is None, files=tuple(names),
                                 where=where_of(placement))  # fmt: skip
            run = RayRun(agent, run_dir, placement, keep=spec.launcher_options.get("keep_on_node"))
            moved = run.drain()
            if run.poll() is None and files:
                run.collected = collect_files(agent, run_dir)
            return Recovered(running=run.poll() is None, ended=run.poll(), telemetry_bytes=moved,
                             files=tuple(run.collected), where=where_of(run.placement))  # fmt: skip

    def stop(self, store: RunStore, run_id: str, spec: LaunchSpec, grace: float) -> bool:
        """SIGTERM to the run's tree on its node, SIGKILL after ``grace``; then home."""
        import ray

        placement = load_placement(store.run_dir(run_id))
        if "agent" not in placement or placement.get("collected"):
            return False
        self.connect(spec.launcher_options)
        try:
            agent = ray.get_actor(placement["agent"], namespace=placement["namespace"])
            if ray.get(agent.signal.remote(signal.SIGTERM), timeout=30):
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and ray.get(agent.state.remote())["exit"] is None:
                    time.sleep(0.1)
                if ray.get(agent.state.remote())["exit"] is None:
                    ray.get(agent.signal.remote(signal.SIGKILL), timeout=30)
        except (ValueError, ray.exceptions.RayError):
            pass  # gone already: recover says how
        self.recover(store, run_id, spec, telemetry=True, files=True)
        return True


def _attempt(run_dir: pathlib.Path) -> int:
    attempts = run_dir / "attempts"
    return sum(1 for p in attempts.iterdir() if p.is_dir()) if attempts.is_dir() else 0


def _loopback(address: str) -> bool:
    host = address.rpartition(":")[0].strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _keep_stdout_clean() -> None:
    """Ray prints what it publishes about this driver's job (a node that died, with its
    raylet's log) on stdout, where ``mosaic run --json`` writes its result: to the log."""
    import ray._private.worker as ray_worker

    def to_log(data: dict[str, Any], ignore_prefix: bool) -> None:
        for line in data.get("lines", []):
            logger.debug("ray: %s", line)

    ray_worker.print_to_stdstream = to_log
