"""The home side: each run a detached agent on a node of the cluster, its files relayed home.

The supervisor's process joins the cluster as a Ray driver once
(:class:`RayLauncher`), and for each run creates an agent
(:mod:`mosaic_ray_launcher.agent`) with the run's resources, which Ray
places on a node (spreading a sweep over them by default; a run that fits
nowhere yet waits in Ray's queue, not in MOSAIC's). :class:`RayRun` is the
run as the supervisor sees it: each ``pump`` takes the batch the agent read
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
import json
import logging
import os
import pathlib
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from mosaic_core.runs.launchers import Ended, LaunchError, LaunchSpec, Recovered
from mosaic_core.runs.store import RunStore
from mosaic_ray_launcher.relay import Pumper, Streams, relay_lock, write_file
from mosaic_ray_launcher.storage import link_home

__all__ = ["RayLauncher", "RayRun"]

logger = logging.getLogger(__name__)

#: Bytes one relay call brings at most (all three streams together).
BUDGET = 8 << 20
#: Seconds an agent waits for something new before it answers with nothing.
WAIT = 0.25
#: Bytes of a file per call when files come home.
CHUNK = 8 << 20
#: Seconds to wait for Ray to declare a node dead once its agent stopped answering.
NODE_VERDICT = 20.0
PLACEMENT = "placement.json"


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
        _save(run_dir, placement)
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
        placement = _load(run_dir)
        if placement.get("collected"):
            ended = Ended(returncode=placement.get("returncode"), failure=placement.get("failure"))
            return Recovered(running=False, ended=ended, where=_where(placement))
        if "agent" not in placement:
            return None
        self.connect(spec.launcher_options)
        try:
            agent = ray.get_actor(placement["agent"], namespace=placement["namespace"])
        except ValueError:  # no such actor any more: its node went away with it
            failure = f"node_lost: {_where(placement) or 'the run'} is gone, and the run with it"
            _save(run_dir, {**placement, "collected": True, "failure": failure})
            ended = Ended(returncode=None, failure=failure)
            return Recovered(running=False, ended=ended, where=_where(placement))
        with relay_lock(run_dir):
            if not telemetry:
                names = collect_files(agent, run_dir)
                state = ray.get(agent.state.remote(), timeout=60)
                return Recovered(running=state["exit"] is None, files=tuple(names),
                                 where=_where(placement))  # fmt: skip
            run = RayRun(agent, run_dir, placement, keep=spec.launcher_options.get("keep_on_node"))
            moved = run.drain()
            if run.poll() is None and files:
                run.collected = collect_files(agent, run_dir)
            return Recovered(running=run.poll() is None, ended=run.poll(), telemetry_bytes=moved,
                             files=tuple(run.collected), where=_where(run.placement))  # fmt: skip

    def stop(self, store: RunStore, run_id: str, spec: LaunchSpec, grace: float) -> bool:
        """SIGTERM to the run's tree on its node, SIGKILL after ``grace``; then home."""
        import ray

        placement = _load(store.run_dir(run_id))
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


class RayRun:
    """One run on the cluster, as the supervisor drives it (see the module's docstring)."""

    pid = None  # no process of this machine

    def __init__(
        self,
        agent: Any,
        run_dir: pathlib.Path,
        placement: dict[str, Any],
        *,
        start: Any = None,
        keep: Any = False,
    ) -> None:
        self.agent = agent
        self.run_dir = run_dir
        self.placement = placement
        self.started = start is None
        self.collected: list[str] = []
        self.moved = 0  # bytes of telemetry and logs brought home
        self._start = start
        self._keep = bool(keep)
        self._streams = Streams(run_dir)
        self._read: Any = None
        self._files: Iterator[str] | None = None
        self._exit: dict[str, Any] | None = None
        self._ended: Ended | None = None
        self._suspect: float | None = None  # since when the agent has not answered
        self._lock = threading.Lock()  # one step at a time: the supervisor's, or the relay's

    # -- the supervisor's calls ----------------------------------------------------------

    def pump(self) -> bool:
        """One step of the run (placed, a batch home, a file home, its end); False at once
        when another thread is taking one."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self._step()
        finally:
            self._lock.release()

    def _step(self) -> bool:
        if self._ended is not None:
            return False
        if self._suspect is not None:
            return self._judge()
        if not self.started:
            return self._guarded(self._placed)
        if self._files is not None:
            return self._guarded(self._collect_one)
        return self._guarded(self._relay)

    def _guarded(self, step: Any) -> bool:
        """``step()``, with what Ray raises when the agent does not answer turned into a
        retry (unavailable for a moment), a failed launch, or a suspected node loss."""
        import ray

        try:
            return bool(step())
        except ray.exceptions.ActorUnavailableError:
            self._read = None  # a hiccup: the same batch is asked for again
            return False
        except ray.exceptions.RuntimeEnvSetupError as exc:
            self._end(Ended(returncode=None, failure=f"launch_failed: {_first_line(exc)}"))
            return True
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            logger.debug("the agent of %s stopped answering: %s", self.run_dir.name, exc)
            self._read = None
            self._suspect = time.monotonic()
            return self._judge()

    def poll(self) -> Ended | None:
        return self._ended

    def signal(self, signum: int) -> None:
        with self._lock:  # not in the middle of a step of the relay's thread
            self._signal(signum)

    def _signal(self, signum: int) -> None:
        import ray

        if self._ended is not None:
            return
        if not self.started:  # still waiting for a node: it never runs
            with contextlib.suppress(Exception):
                ray.kill(self.agent, no_restart=True)
            self._end(Ended(returncode=None))
            return
        with contextlib.suppress(Exception):
            self.agent.signal.remote(signum)

    def drain(self) -> int:
        """Bring home everything the agent has now, and the files once the run is over
        (for a run nobody supervises); returns the bytes of telemetry and logs moved."""
        while self._ended is None:
            if self._suspect is not None:
                if not self._judge():
                    time.sleep(0.2)
            elif self._files is not None:
                self._guarded(self._collect_one)
            elif not self._guarded(self._relay_now):
                break
        return self.moved

    # -- steps -------------------------------------------------------------------------

    def _relay_now(self) -> bool:
        import ray

        result = ray.get(self.agent.read.remote(self._streams.offsets(), BUDGET, 0.0), timeout=120)
        return self._arrived(result, next_read=False)

    def _placed(self) -> bool:
        import ray

        ready, _ = ray.wait([self._start], timeout=0)
        if not ready:
            return False
        result = ray.get(self._start)
        if "error" in result:
            with contextlib.suppress(Exception):
                ray.kill(self.agent, no_restart=True)
            self._end(Ended(returncode=None, failure=f"launch_failed: {result['error']}"))
            return True
        self.placement.update(result)
        _save(self.run_dir, self.placement)
        self.started = True
        return True

    def _relay(self) -> bool:
        import ray

        if self._read is None:
            self._read = self.agent.read.remote(self._streams.offsets(), BUDGET, WAIT)
        ready, _ = ray.wait([self._read], timeout=0)
        if not ready:
            return False
        result = ray.get(self._read)
        self._read = None
        return self._arrived(result, next_read=True)

    def _arrived(self, result: dict[str, Any], *, next_read: bool) -> bool:
        """Append a batch at home; ask for the next one at once (it travels while this one
        is indexed), or, once the run is over, start bringing its files."""
        moved = self._streams.append(result["chunks"])
        self.moved += moved
        if result["exit"] is not None:
            self._exit = result["exit"]
            self._files = self._collect()
            return True
        if next_read:
            self._read = self.agent.read.remote(self._streams.offsets(), BUDGET, WAIT)
        return moved > 0

    def _collect(self) -> Iterator[str]:
        import ray

        for relative, size in ray.get(self.agent.files.remote()):
            write_file(self.run_dir, relative, _chunks(self.agent, relative, size))
            self.collected.append(relative)
            yield relative

    def _collect_one(self) -> bool:
        import ray

        assert self._files is not None
        if next(self._files, None) is not None:
            return True
        exit_ = self._exit or {}
        code = exit_.get("returncode")
        failure = None
        if exit_.get("error"):
            failure = f"launch_failed: {exit_['error']}"
        link_home(self.run_dir, self.placement)
        _save(self.run_dir, {**self.placement, "collected": True, "returncode": code,
                             "failure": failure})  # fmt: skip
        with contextlib.suppress(Exception):
            ray.get(self.agent.release.remote(self._keep), timeout=60)
        with contextlib.suppress(Exception):
            ray.kill(self.agent, no_restart=True)
        self._end(Ended(returncode=code, failure=failure))
        return True

    def _judge(self) -> bool:
        """The agent stopped answering: ``node_lost`` once Ray says its node is dead; an
        agent dead on a live node is not the node's loss and is not retried."""
        import ray

        assert self._suspect is not None
        node_id = self.placement.get("node_id")
        alive = {n["NodeID"]: n.get("Alive", False) for n in ray.nodes()}
        where = _where(self.placement) or "its node"
        if node_id is None or not alive.get(node_id, False):
            failure = f"node_lost: {where} died" if node_id else "node_lost: its node died"
            link_home(self.run_dir, self.placement)  # what it saved there outlives the node
            _save(self.run_dir, {**self.placement, "collected": True, "failure": failure})
            self._end(Ended(returncode=None, failure=failure, retryable=True))
            return True
        if time.monotonic() - self._suspect > NODE_VERDICT:
            failure = f"launch_failed: the run's agent on {where} died, its node did not"
            _save(self.run_dir, {**self.placement, "collected": True, "failure": failure})
            self._end(Ended(returncode=None, failure=failure))
            return True
        return False

    def _end(self, ended: Ended) -> None:
        self._ended = ended
        self._read = None
        self._streams.close()


def collect_files(agent: Any, run_dir: pathlib.Path) -> list[str]:
    """Copy every file of the run's node directory home now (``mosaic pull``)."""
    import ray

    names = []
    for relative, size in ray.get(agent.files.remote()):
        write_file(run_dir, relative, _chunks(agent, relative, size))
        names.append(relative)
    return names


def _chunks(agent: Any, relative: str, size: int) -> Iterator[bytes]:
    import ray

    offset = 0
    while offset < size:
        data = ray.get(agent.read_file.remote(relative, offset, CHUNK))
        if not data:
            return
        offset += len(data)
        yield data


def _attempt(run_dir: pathlib.Path) -> int:
    attempts = run_dir / "attempts"
    return sum(1 for p in attempts.iterdir() if p.is_dir()) if attempts.is_dir() else 0


def _save(run_dir: pathlib.Path, placement: Mapping[str, Any]) -> None:
    """``placement.json``: where the run went, what it reserved, whether it is home."""
    tmp = run_dir / f".{PLACEMENT}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(dict(placement), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / PLACEMENT)


def _load(run_dir: pathlib.Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / PLACEMENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _where(placement: Mapping[str, Any]) -> str:
    node = placement.get("node_id")
    return f"node {node[:8]} ({placement.get('node_ip')})" if node else ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


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
