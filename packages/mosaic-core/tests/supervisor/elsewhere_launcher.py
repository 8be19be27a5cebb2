"""A launcher plugin for the supervisor's tests: each run "elsewhere", in a directory of
this machine standing for a node, started by the keeper as a real remote launcher starts
it, and its streams copied home by offset as a relay does.

Options: ``lose`` (a list of seeds): the first attempt of a run with one of these seeds
loses its "node" once its first metrics event is home (the keeper and the worker are
killed, as a dying machine kills them), and the run ends with ``node_lost``, retryable.
Each run waits a few pumps before it starts, as on a cluster that queues it.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core import hookimpl
from mosaic_core.runs.keeper import read_exit, signal_worker
from mosaic_core.runs.launchers import Ended, LauncherSpec, LaunchSpec
from mosaic_core.runs.local import worker_environment

STREAMS = ("events.jsonl", "stdout.log", "stderr.log")


class ElsewhereRun:
    pid = None

    def __init__(self, node: pathlib.Path, home: pathlib.Path, keeper: Any, lose: bool) -> None:
        self.node, self.home, self.keeper, self.lose = node, home, keeper, lose
        self.waits = 3  # pumps before it "started"
        self.ended: Ended | None = None

    @property
    def started(self) -> bool:
        return self.waits <= 0

    def pump(self) -> bool:
        if self.waits > 0:
            self.waits -= 1
            return False
        moved = 0
        for name in STREAMS:
            have = (self.home / name).stat().st_size if (self.home / name).exists() else 0
            with open(self.node / name, "rb") as src, open(self.home / name, "ab") as out:
                src.seek(have)
                data = src.read()
                out.write(data)
                moved += len(data)
        return moved > 0

    def poll(self) -> Ended | None:
        if self.ended is not None:
            return self.ended
        if self.lose and b'"event":"metrics"' in (self.home / "events.jsonl").read_bytes():
            procs.signal_tree(self.keeper.pid, signal.SIGKILL)
            signal_worker(self.node, signal.SIGKILL)
            self.keeper.wait()
            self.ended = Ended(
                returncode=None, failure="node_lost: the test's node", retryable=True
            )
        elif read_exit(self.node) is not None and self.keeper.poll() is not None:
            self.pump()
            self.ended = Ended(returncode=read_exit(self.node)["returncode"])  # type: ignore[index]
        return self.ended

    def signal(self, signum: int) -> None:
        signal_worker(self.node, signum)


class Elsewhere:
    def start(self, spec: LaunchSpec, run_dir: pathlib.Path, variables: Mapping[str, str]) -> Any:
        attempts = run_dir / "attempts"
        attempt = len(list(attempts.iterdir())) if attempts.is_dir() else 0
        node = run_dir.parent.parent / "node" / f"{spec.run_id}.{attempt}"
        node.mkdir(parents=True)
        shutil.copy(run_dir / "config.json", node / "config.json")
        for name in STREAMS:
            (node / name).touch()
        seed = json.loads((run_dir / "config.json").read_text()).get("seed")
        lose = attempt == 0 and seed in spec.launcher_options.get("lose", [])
        argv = list(spec.command)
        at = argv.index("--config")
        command = [sys.executable, *argv[1:at], "--config", str(node / "config.json")]
        env = worker_environment({**variables, "MOSAIC_RUN_DIR": str(node)})
        keeper = subprocess.Popen(
            [sys.executable, "-m", "mosaic_core.runs.keeper", str(node), "--", *command],
            env=env, cwd=node, start_new_session=True,
        )  # fmt: skip
        (run_dir / "placement.json").write_text(json.dumps({"node": str(node)}))
        return ElsewhereRun(node, run_dir, keeper, lose)

    def recover(self, store: Any, run_id: str, spec: LaunchSpec, **kwargs: Any) -> None:
        return None

    def stop(self, store: Any, run_id: str, spec: LaunchSpec, grace: float) -> bool:
        return False

    def close(self) -> None:
        pass


def check(options: Mapping[str, Any], capabilities: Any) -> dict[str, Any]:
    return dict(options)


SPEC = LauncherSpec(
    name="elsewhere", description="a directory standing for a node", factory=Elsewhere,
    check=check, options={"lose": "seeds whose first attempt loses its node"},
)  # fmt: skip


@hookimpl
def mosaic_register_launchers(register: Callable[[LauncherSpec], None]) -> None:
    register(SPEC)
