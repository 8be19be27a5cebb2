"""Shared fixtures: throwaway plugin distributions and helpers for real subprocesses.

The plugin distributions are real: ``*.dist-info`` directories with an
``entry_points.txt`` next to their modules, so ``importlib.metadata`` finds
them exactly as it finds an installed wheel, in this process (through
``sys.path``) and in child processes (through ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from mosaic_core import TelemetryEmitter

MOSAIC_ENV = (
    "MOSAIC_TELEMETRY_FD",
    "MOSAIC_RUN_ID",
    "MOSAIC_RUN_DIR",
    "MOSAIC_LOAD_PLUGINS",
    "MOSAIC_STRICT_PLUGINS",
    "MOSAIC_DEBUG",
)

TOY_PLUGIN = '''
"""A working plugin: a tiny training loop whose behaviour the config chooses."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from mosaic_core import (
    TelemetryEmitter,
    TrainingConfigBase,
    WorkerCapabilities,
    WorkerMetadata,
    WorkerSpec,
    hookimpl,
)


@dataclass(frozen=True, kw_only=True)
class ToyConfig(TrainingConfigBase):
    env_id: str = "Toy-v0"
    algorithm: str = "toy"
    total_steps: int = 3
    learning_rate: float = 0.1
    mode: Literal["complete", "raise", "wait"] = "complete"


class ToyRuntime:
    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def run(self) -> dict:
        c = self.config
        emitter = TelemetryEmitter(c.run_id)
        with emitter.lifecycle(
            heartbeat_interval=None,
            worker_type="toy",
            algorithm=c.algorithm,
            env_id=c.env_id,
            seed=c.seed,
            total_steps=c.total_steps,
        ) as run:
            print("toy: training", flush=True)
            for step in range(1, c.total_steps + 1):
                run.metrics(step, {"loss": 1.0 / step, "lr": c.learning_rate})
            if c.mode == "raise":
                raise RuntimeError("toy runtime exploded")
            if c.mode == "wait":
                run.heartbeat(step=c.total_steps)
                emitter.flush()
                time.sleep(60)
            run.summary = {"steps": c.total_steps, "env_id": c.env_id}
        return run.summary


SPEC = WorkerSpec(
    metadata=WorkerMetadata(name="Toy worker", version="1.2.3", description="a test worker"),
    capabilities=WorkerCapabilities(worker_type="toy"),
    config_class=ToyConfig,
    runtime_factory=ToyRuntime,
)


@hookimpl
def mosaic_register_workers(register):
    register(SPEC)
'''

OLDIE_PLUGIN = '''
"""A seed-style legacy entry point: a callable returning metadata and capabilities."""

from mosaic_core import WorkerCapabilities, WorkerMetadata


def get_worker_info():
    return (
        WorkerMetadata(name="Oldie worker", version="0.1.0", description="from the old guide"),
        WorkerCapabilities(worker_type="oldie", action_spaces=("discrete", "continuous")),
    )
'''

CRASHY_PLUGIN = """
raise RuntimeError("crashy plugin cannot start")
"""

NOHOOK_PLUGIN = '''
"""A plugin module that forgot its hook."""

VALUE = 1
'''

MISNAMED_PLUGIN = """
from dataclasses import dataclass

from mosaic_core import WorkerCapabilities, WorkerConfigBase, WorkerMetadata, WorkerSpec, hookimpl


@dataclass(frozen=True, kw_only=True)
class Config(WorkerConfigBase):
    pass


@hookimpl
def mosaic_register_workers(register):
    register(
        WorkerSpec(
            metadata=WorkerMetadata(name="Other", version="0.3.0"),
            capabilities=WorkerCapabilities(worker_type="othername"),
            config_class=Config,
            runtime_factory=lambda config: None,
        )
    )
"""

PAIR_PLUGIN = """
'''One plugin module registering two worker types, neither named like its entry point.'''

from mosaic_core import WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl
from mosaictest_toy import ToyConfig, ToyRuntime


@hookimpl
def mosaic_register_workers(register):
    for worker_type in ("pair-a", "pair-b"):
        register(
            WorkerSpec(
                metadata=WorkerMetadata(name=worker_type, version="0.5.0"),
                capabilities=WorkerCapabilities(worker_type=worker_type),
                config_class=ToyConfig,
                runtime_factory=ToyRuntime,
            )
        )
"""

NEEDSDEP_PLUGIN = """
import mosaictest_no_such_dependency  # noqa: F401
"""


class Dist(NamedTuple):
    name: str
    version: str
    entry_points: Mapping[str, str]
    modules: Mapping[str, str]


DISTRIBUTIONS = (
    Dist("mosaic-test-toy", "1.2.3", {"toy": "mosaictest_toy"}, {"mosaictest_toy": TOY_PLUGIN}),
    Dist(
        "mosaic-test-oldie",
        "0.1.0",
        {"oldie": "mosaictest_oldie:get_worker_info"},
        {"mosaictest_oldie": OLDIE_PLUGIN},
    ),
    Dist(
        "mosaic-test-crashy",
        "0.0.1",
        {"crashy": "mosaictest_crashy"},
        {"mosaictest_crashy": CRASHY_PLUGIN},
    ),
    Dist(
        "mosaic-test-nohook",
        "0.2.0",
        {"nohook": "mosaictest_nohook"},
        {"mosaictest_nohook": NOHOOK_PLUGIN},
    ),
    Dist(
        "mosaic-test-misnamed",
        "0.3.0",
        {"misnamed": "mosaictest_misnamed"},
        {"mosaictest_misnamed": MISNAMED_PLUGIN},
    ),
    Dist(
        "mosaic-test-pair", "0.5.0", {"pair": "mosaictest_pair"}, {"mosaictest_pair": PAIR_PLUGIN}
    ),
    Dist(
        "mosaic-test-needsdep",
        "0.4.0",
        {"needsdep": "mosaictest_needsdep"},
        {"mosaictest_needsdep": NEEDSDEP_PLUGIN},
    ),
)
PLUGIN_MODULES = tuple(m for d in DISTRIBUTIONS for m in d.modules)
BROKEN = {"crashy", "nohook", "misnamed", "needsdep"}


def write_distribution(root: Path, dist: Dist) -> None:
    """Lay out ``dist`` under ``root`` as an installer would: modules and a dist-info."""
    info = root / f"{dist.name.replace('-', '_')}-{dist.version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist.name}\nVersion: {dist.version}\n", encoding="utf-8"
    )
    lines = ["[mosaic.workers]"] + [f"{k} = {v}" for k, v in dist.entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for module, source in dist.modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding every throwaway plugin distribution."""
    root = tmp_path_factory.mktemp("plugins")
    for dist in DISTRIBUTIONS:
        write_distribution(root, dist)
    return root


@pytest.fixture(scope="session")
def toy_only_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only the working toy plugin."""
    root = tmp_path_factory.mktemp("toy-only")
    write_distribution(root, DISTRIBUTIONS[0])
    return root


@pytest.fixture
def plugin_distribution(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``plugin_distribution(*dists)``: a new directory holding the toy worker and ``dists``
    (each a :class:`Dist` or the tuple of its fields)."""

    def make(*dists: Sequence[Any]) -> Path:
        root = tmp_path_factory.mktemp("dists")
        for dist in (DISTRIBUTIONS[0], *dists):
            write_distribution(root, Dist(*dist))
        return root

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MOSAIC_* variable from the outer environment leaks into a test."""
    for name in MOSAIC_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def installed_plugins(plugin_dir: Path, clean_env: pytest.MonkeyPatch) -> Iterator[Path]:
    """Put the plugin distributions on ``sys.path`` for this test, and forget them after."""
    clean_env.syspath_prepend(str(plugin_dir))
    importlib.invalidate_caches()  # also drops importlib.metadata's view of sys.path
    yield plugin_dir
    for module in PLUGIN_MODULES:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


@pytest.fixture
def fresh_emitters(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An empty cache of shared process-channel emitters for this test."""
    clean_env.setattr(TelemetryEmitter, "_shared", {})
    return clean_env


def _child_env(*pythonpath: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: ours, minus MOSAIC_*, plus ``pythonpath``."""
    env = {k: v for k, v in os.environ.items() if k not in MOSAIC_ENV}
    paths = [str(p) for p in pythonpath]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Finished(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    telemetry: bytes


class TelemetryChild:
    """A child process whose ``MOSAIC_TELEMETRY_FD`` is the write end of a real pipe."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], **popen: Any) -> None:
        read_fd, write_fd = os.pipe()
        env = {**env, "MOSAIC_TELEMETRY_FD": str(write_fd)}
        try:
            self.proc = subprocess.Popen(
                list(argv),
                env=env,
                pass_fds=(write_fd,),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                **popen,
            )
        finally:
            os.close(write_fd)
        self._read_fd = read_fd
        self._chunks: list[bytes] = []
        #: ``(arrival time, line)`` for every complete telemetry line.
        self.lines: list[tuple[float, bytes]] = []
        self._partial = b""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            select.select([self._read_fd], [], [])
            data = os.read(self._read_fd, 1 << 16)
            now = time.time()
            with self._changed:
                if not data:
                    self._changed.notify_all()
                    break
                self._chunks.append(data)
                *complete, self._partial = (self._partial + data).split(b"\n")
                self.lines.extend((now, line) for line in complete)
                self._changed.notify_all()
        os.close(self._read_fd)

    def wait_for_event(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until an envelope of ``event`` arrives; return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for _, line in self.lines:
                    if line.startswith(b"{") and json.loads(line).get("event") == event:
                        return dict(json.loads(line))
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"no {event!r} event; telemetry so far: {self.lines}")
                self._changed.wait(left)

    def finish(self, timeout: float = 20.0) -> Finished:
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate()
            raise AssertionError(f"child did not finish in {timeout}s; stderr:\n{stderr}") from None
        self._reader.join(timeout)
        return Finished(self.proc.returncode, stdout, stderr, b"".join(self._chunks))


@pytest.fixture
def child_env() -> Any:
    """``child_env(*pythonpath, **extra)``: the environment for a child process."""
    return _child_env


@pytest.fixture
def telemetry_child() -> Iterator[Any]:
    """``telemetry_child(argv, env)``: start a child that writes telemetry to a real pipe."""
    started: list[TelemetryChild] = []

    def start(argv: Sequence[str], env: Mapping[str, str], **popen: Any) -> TelemetryChild:
        child = TelemetryChild(argv, env, **popen)
        started.append(child)
        return child

    yield start
    for child in started:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.communicate()


@pytest.fixture(scope="module", params=["orjson", "stdlib"])
def each_decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """The telemetry reader's tests run with each decoder (``pytestmark =
    pytest.mark.usefixtures("each_decoder")``): they must read every line alike."""
    from mosaic_core.runs import reader

    fast = reader.fast_loads
    if request.param == "orjson" and fast is None:
        pytest.skip("orjson is not installed (mosaic-core's `fast` extra)")
    reader.fast_loads = fast if request.param == "orjson" else None
    try:
        yield request.param
    finally:
        reader.fast_loads = fast
