"""The node side: one detached Ray actor per run, which starts the run's keeper and serves
its files.

This module is shipped to the nodes with the actor (``cloudpickle`` by
value), so a node needs Ray, mosaic-core and the worker, not this package:
it imports nothing of ``mosaic_ray_launcher`` and only the standard library
at the top. What it does:

- :meth:`RunAgent.start` checks that the worker's distribution is installed
  on the node, in the version the run was prepared with (else an error
  naming both, and nothing is started), makes the run's directory on the
  node, writes the config and starts ``python -m mosaic_core.runs.keeper``,
  which starts the worker exactly as the local supervisor does;
- :meth:`RunAgent.read` returns what the worker wrote to its
  ``events.jsonl``, ``stdout.log`` and ``stderr.log`` from the byte offsets
  the home side asks for (its own files' sizes): a batch that never
  arrived is asked for again, so nothing is lost or doubled, and once the
  keeper's ``exit.json`` exists and every stream is read to its end, the
  run is over;
- :meth:`RunAgent.files` and :meth:`RunAgent.read_file` serve the rest
  (manifest, checkpoints, TensorBoard files) in chunks;
- :meth:`RunAgent.signal` signals the worker's whole tree on the node;
- :meth:`RunAgent.release` removes the run's directory once it is home.

The actor is detached: it outlives the process that made it, so a run
whose home side dies goes on, and a later ``mosaic runs`` collects it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

STREAMS = ("events.jsonl", "stdout.log", "stderr.log")
#: Files of the node's run directory that never go home: the keeper's bookkeeping, and
#: what home wrote itself (config.json) or receives as a stream.
NODE_ONLY = frozenset({"config.json", "worker.pid", "exit.json", *STREAMS})
_SUBDIRS = ("checkpoints", "tensorboard", "videos")


class RunAgent:
    """One run on one node (see the module's docstring)."""

    def __init__(self) -> None:
        self.run_dir: pathlib.Path | None = None
        self.keeper: subprocess.Popen[bytes] | None = None

    # -- starting --------------------------------------------------------------------

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start the run; ``{"error": ...}`` when it cannot start on this node, else where
        it runs (``placement``)."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        where = f"node {node_id[:8]} ({_ip()})"
        problem = _missing(request.get("distribution"), request["worker_type"], where)
        if problem:
            return {"error": problem}
        base = pathlib.Path(request.get("node_dir") or _default_node_dir()).expanduser()
        name = request["run_id"] + (f".{request['attempt']}" if request.get("attempt") else "")
        run_dir = base / node_id[:12] / name
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            return {"error": f"the run's directory {run_dir} cannot be made on {where}: {exc}"}
        stored = _link_storage(request.get("storage"), name, run_dir, where)
        if stored is not None and "error" in stored:
            shutil.rmtree(run_dir, ignore_errors=True)
            return stored
        try:
            for sub in _SUBDIRS:
                if not (run_dir / sub).is_symlink():
                    (run_dir / sub).mkdir()
            (run_dir / "config.json").write_text(request["config"], encoding="utf-8")
            for stream in STREAMS:
                (run_dir / stream).touch()
        except OSError as exc:
            return {"error": f"the run's directory {run_dir} cannot be made on {where}: {exc}"}
        self.run_dir = run_dir
        env = dict(os.environ)
        env.update(request["variables"])
        env["MOSAIC_RUN_DIR"] = str(run_dir)
        for name_ in ("MOSAIC_HOME", "MOSAIC_TELEMETRY_FD"):
            env.pop(name_, None)  # the home's; the keeper gives the worker its own channel
        # Ray gives this actor its GPUs in CUDA_VISIBLE_DEVICES; the home's value is not ours.
        env.pop("CUDA_VISIBLE_DEVICES", None)
        if "CUDA_VISIBLE_DEVICES" in os.environ:
            env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        command = [
            sys.executable,
            *request["worker_args"],
            "--config",
            str(run_dir / "config.json"),
        ]
        with open(run_dir / "keeper.log", "ab") as log:
            self.keeper = subprocess.Popen(
                [sys.executable, "-m", "mosaic_core.runs.keeper", str(run_dir), "--", *command],
                cwd=run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        resources = {}
        for node in ray.nodes():
            if node.get("NodeID") == node_id:
                resources = dict(node.get("Resources") or {})
        return {
            "node_id": node_id,
            "node_ip": _ip(),
            "hostname": socket.gethostname(),
            "node_resources": resources,
            "node_run_dir": str(run_dir),
            "python": sys.executable,
            "keeper_pid": self.keeper.pid,
            "agent_pid": os.getpid(),
            **(stored or {}),
        }

    # -- relaying --------------------------------------------------------------------

    def read(self, offsets: list[int], budget: int, wait: float) -> dict[str, Any]:
        """What the streams hold from ``offsets`` on, at most ``budget`` bytes in all;
        waits up to ``wait`` seconds for something new. ``exit`` is set once the run is
        over and every stream has been read to its end."""
        run_dir = self._dir()
        deadline = time.monotonic() + wait
        while True:
            ended = self._ended(run_dir)  # before reading: nothing is written after it
            chunks: list[bytes] = []
            left = budget
            at_end = True
            for name, offset in zip(STREAMS, offsets, strict=True):
                with open(run_dir / name, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read(max(left, 0))
                    size = os.fstat(handle.fileno()).st_size
                chunks.append(data)
                left -= len(data)
                at_end = at_end and offset + len(data) >= size
            done = ended is not None and at_end
            if any(chunks) or done or time.monotonic() >= deadline:
                return {"chunks": chunks, "exit": ended if done else None}
            time.sleep(0.01)

    def files(self) -> list[tuple[str, int]]:
        """``(relative path, size)`` of the run's files that go home, the manifest last."""
        run_dir = self._dir()
        found = []
        for path in sorted(run_dir.rglob("*")):
            relative = path.relative_to(run_dir).as_posix()
            if (run_dir / relative.partition("/")[0]).is_symlink():
                continue  # on the shared storage already
            if path.is_file() and relative not in NODE_ONLY and not path.name.startswith("."):
                size = path.stat().st_size
                if relative != "keeper.log" or size:  # the keeper's log only when it said something
                    found.append((relative, size))
        found.sort(key=lambda item: item[0] == "analytics.json")
        return found

    def read_file(self, relative: str, offset: int, size: int) -> bytes:
        run_dir = self._dir()
        path = (run_dir / relative).resolve()
        if run_dir.resolve() not in path.parents:
            raise ValueError(f"{relative!r} is outside the run's directory")
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)

    def state(self) -> dict[str, Any]:
        """Whether the run is over (``exit``), without reading anything."""
        return {"exit": self._ended(self._dir())}

    # -- stopping --------------------------------------------------------------------

    def signal(self, signum: int) -> bool:
        """``signum`` to the worker's whole tree on this node; False if it is not running."""
        from mosaic_core.runs.keeper import signal_worker

        return signal_worker(self._dir(), signum)

    def release(self, keep: bool) -> None:
        """The run is home: remove its directory here (unless ``keep``); the caller then
        ends this actor."""
        if self.keeper is not None and self.keeper.poll() is None:
            self.keeper.kill()
            self.keeper.wait(5)
        if self.run_dir is not None and not keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                self.run_dir.parent.rmdir()  # the node's directory, once no run is left in it

    # -- helpers -----------------------------------------------------------------------

    def _dir(self) -> pathlib.Path:
        if self.run_dir is None:
            raise RuntimeError("the run was not started on this agent")
        return self.run_dir

    def _ended(self, run_dir: pathlib.Path) -> dict[str, Any] | None:
        """The keeper's ``exit.json``; a keeper that died without one ended the run too."""
        with contextlib.suppress(OSError, ValueError):
            data = json.loads((run_dir / "exit.json").read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        if self.keeper is not None and self.keeper.poll() is not None:
            with contextlib.suppress(OSError, ValueError):  # it may have written it just now
                return dict(json.loads((run_dir / "exit.json").read_text(encoding="utf-8")))
            return {"returncode": None, "error": f"the keeper died ({self.keeper.returncode})"}
        return None


def _missing(distribution: Any, worker_type: str, where: str) -> str | None:
    """Why the worker cannot run on this node, or None."""
    for name, version in [("mosaic-core", None), *([distribution] if distribution else [])]:
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wanted = f"{name} {version}" if version else name
            pin = f"{name}=={version}" if version else name
            return (
                f"worker {worker_type!r} needs {wanted}, which is not installed on {where} "
                f"(Python {sys.executable}): install it there (pip install '{pin}'), or "
                "give the runs a runtime_env that does (--launcher-option "
                f'\'runtime_env={{"pip": ["{pin}"]}}\')'
            )
        if version and have != version:
            return (
                f"worker {worker_type!r} was prepared with {name} {version}, and {where} has "
                f"{name} {have} (Python {sys.executable}): install {name}=={version} there, "
                "or the same version here"
            )
    return None


def _link_storage(
    storage: Any, name: str, run_dir: pathlib.Path, where: str
) -> dict[str, Any] | None:
    """With a shared storage: the run's checkpoints, TensorBoard and video directories made
    there (``STORAGE/RUN_ID``), and linked into its directory on the node, so the worker
    writes them there as it goes; None without one, else where they are or the error."""
    if not storage:
        return None
    base = pathlib.Path(storage) / name
    try:
        for sub in _SUBDIRS:
            (base / sub).mkdir(parents=True, exist_ok=True)
            (run_dir / sub).symlink_to(base / sub, target_is_directory=True)
    except OSError as exc:
        return {
            "error": f"the shared storage {storage} cannot be written on {where}: {exc} (is it "
            "mounted at the same path on every node?)"
        }
    return {"storage": str(base), "stored": list(_SUBDIRS)}


def _default_node_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "mosaic-node-runs")


def _ip() -> str:
    import ray

    return str(ray.util.get_node_ip_address())
