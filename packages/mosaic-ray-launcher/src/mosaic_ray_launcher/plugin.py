"""What discovery imports: the Ray launcher's spec and the check of its options; no Ray.

``check`` runs in ``mosaic run`` before any run exists: it needs an address
(``--address`` or ``$RAY_ADDRESS``) where a Ray head answers, works out what
each run reserves (``--resources`` over the worker's declared ``cpu_cores``,
``requires_gpu`` and ``estimated_memory_mb``), and notes the worker's
distribution and version, which every node must have.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core import ConfigError, hookimpl
from mosaic_core.runs.launchers import LauncherSpec
from mosaic_ray_launcher.storage import check_storage

if TYPE_CHECKING:
    from mosaic_core import WorkerCapabilities
    from mosaic_core.runs.launchers import Launcher

__all__ = ["OPTIONS", "SPEC", "check"]

OPTIONS = {
    "runtime_env": "a Ray runtime_env for each run (JSON), e.g. "
    '{"pip": ["mosaic-bandit-worker==0.1.0"]} to install the worker on the nodes',
    "node_dir": "where the runs live on the nodes (default: the node's temporary "
    "directory, mosaic-node-runs)",
    "keep_on_node": "true: keep a run's directory on its node once it is home",
    "storage": "a directory every node mounts at the same path (path or file:// URI): the "
    "runs' checkpoints, TensorBoard files and videos are written there, not copied home",
    "namespace": "the Ray namespace of the runs' agents (default mosaic)",
    "scheduling": "SPREAD (default: runs spread over the nodes) or DEFAULT (Ray packs them)",
}
_SCHEDULING = ("SPREAD", "DEFAULT")


def check(options: Mapping[str, Any], capabilities: WorkerCapabilities | None) -> dict[str, Any]:
    """The options saved in each run's launch.json, or a ConfigError naming what is wrong."""
    address = options.get("address") or os.environ.get("RAY_ADDRESS")
    if not address:
        raise ConfigError(
            "--launcher ray needs the cluster's address: --address HOST:PORT (what `ray "
            "start --head` prints), or $RAY_ADDRESS",
            field="--address",
        )
    address = str(address)
    if address.startswith("ray://"):
        raise ConfigError(
            f"--address {address!r}: a Ray Client address; the launcher joins the cluster "
            "as a driver, at the head's GCS address HOST:PORT (run mosaic on a machine that "
            "reaches the cluster's nodes)",
            field="--address",
            value=address,
        )
    _check_reachable(address)
    checked: dict[str, Any] = {
        "address": address,
        "resources": _resources(options.get("resources"), capabilities),
        "worker_distribution": _distribution(capabilities),
        "namespace": _text(options, "namespace", "mosaic"),
        "scheduling": _text(options, "scheduling", "SPREAD").upper(),
        "keep_on_node": bool(options.get("keep_on_node", False)),
    }
    if checked["scheduling"] not in _SCHEDULING:
        raise ConfigError(
            f"--launcher-option scheduling={options.get('scheduling')!r}: expected one of "
            f"{', '.join(_SCHEDULING)}",
            field="--launcher-option",
            value=options.get("scheduling"),
        )
    if options.get("node_dir") is not None:
        checked["node_dir"] = _text(options, "node_dir", "")
    if options.get("storage") is not None:
        checked["storage"] = check_storage(options["storage"])
    runtime_env = options.get("runtime_env")
    if runtime_env is not None:
        if not isinstance(runtime_env, dict):
            raise ConfigError(
                f"--launcher-option runtime_env={runtime_env!r}: expected a JSON object, "
                'such as {"pip": ["mosaic-cleanrl-worker"]}',
                field="--launcher-option",
                value=runtime_env,
            )
        checked["runtime_env"] = runtime_env
    return checked


def _text(options: Mapping[str, Any], name: str, default: str) -> str:
    value = options.get(name, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"--launcher-option {name}={value!r}: expected a non-empty string",
            field="--launcher-option",
            value=value,
        )
    return value


def _resources(given: Any, capabilities: WorkerCapabilities | None) -> dict[str, float]:
    """What one run reserves: the worker's declaration, then ``--resources`` over it."""
    resources: dict[str, float] = {"CPU": 1.0}
    if capabilities is not None:
        resources["CPU"] = float(capabilities.cpu_cores)
        if capabilities.requires_gpu:
            resources["GPU"] = 1.0
        if capabilities.estimated_memory_mb:
            resources["memory"] = float(capabilities.estimated_memory_mb) * 2**20
    resources.update(dict(given or {}))
    return resources


def _distribution(capabilities: WorkerCapabilities | None) -> list[str] | None:
    """The worker's distribution and version here, which each node must have too."""
    if capabilities is None:
        return None
    from mosaic_core.plugins import discover_workers

    found = discover_workers(load=[capabilities.worker_type]).workers.get(capabilities.worker_type)
    if found is None or not found.distribution or not found.distribution_version:
        return None
    return [found.distribution, found.distribution_version]


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once, before any run exists, when no head answers there."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout).close()
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--address {address!r}: no Ray head answers there ({exc}); start one with "
            "`ray start --head` and give the address it prints",
            field="--address",
            value=address,
        ) from None


def _factory() -> Launcher:
    from mosaic_ray_launcher.launcher import RayLauncher

    return RayLauncher()


SPEC = LauncherSpec(
    name="ray",
    description="each run on a node of a Ray cluster, its telemetry relayed home live",
    factory=_factory,
    check=check,
    options=OPTIONS,
)


@hookimpl
def mosaic_register_launchers(register: Callable[[LauncherSpec], None]) -> None:
    register(SPEC)
