"""A run on the cluster as the supervisor drives it: its batches and files home, its end.

:class:`RayRun` takes each batch the run's agent read (one call in flight,
answered as soon as the worker wrote something), appends it to the run's
directory at home, brings the files home once the worker exited and
everything is read, and says how the run ended: ``node_lost`` when Ray
reports the agent's node dead, ``launch_failed`` when it could not start
there. ``placement.json`` in the run directory records where it went.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from mosaic_core.runs.launchers import Ended
from mosaic_ray_launcher.relay import Streams, write_file
from mosaic_ray_launcher.storage import link_home

__all__ = ["PLACEMENT", "RayRun", "collect_files", "first_line", "load_placement",
           "save_placement", "where_of"]  # fmt: skip

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
            self._end(Ended(returncode=None, failure=f"launch_failed: {first_line(exc)}"))
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
        save_placement(self.run_dir, self.placement)
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
        save_placement(self.run_dir, {**self.placement, "collected": True, "returncode": code,
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
        where = where_of(self.placement) or "its node"
        if node_id is None or not alive.get(node_id, False):
            failure = f"node_lost: {where} died" if node_id else "node_lost: its node died"
            link_home(self.run_dir, self.placement)  # what it saved there outlives the node
            save_placement(self.run_dir, {**self.placement, "collected": True, "failure": failure})
            self._end(Ended(returncode=None, failure=failure, retryable=True))
            return True
        if time.monotonic() - self._suspect > NODE_VERDICT:
            failure = f"launch_failed: the run's agent on {where} died, its node did not"
            save_placement(self.run_dir, {**self.placement, "collected": True, "failure": failure})
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


def save_placement(run_dir: pathlib.Path, placement: Mapping[str, Any]) -> None:
    """``placement.json``: where the run went, what it reserved, whether it is home."""
    tmp = run_dir / f".{PLACEMENT}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(dict(placement), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / PLACEMENT)


def load_placement(run_dir: pathlib.Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / PLACEMENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def where_of(placement: Mapping[str, Any]) -> str:
    node = placement.get("node_id")
    return f"node {node[:8]} ({placement.get('node_ip')})" if node else ""


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
