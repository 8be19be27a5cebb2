"""mosaic-core's SDK: everything a worker imports, and nothing else.

``from mosaic_core import X`` for every X in ``__all__``: these names are the
promise to workers published outside this repository. The modules behind
them are private (``mosaic_core._*``). The host, which runs workers, lives in
the subpackages ``runs``, ``operators``, ``plugins``, ``venvs`` and ``cli``;
a worker never imports them. ``mosaic_core.testing`` and
``mosaic_core.conformance`` are for a worker's test suite.

Importing this package loads no RL library, no numpy and no torch: names
resolve lazily (PEP 562), so ``import mosaic_core`` costs about a
millisecond and each part is imported when first used.
"""

from __future__ import annotations

from mosaic_core import _moved
from mosaic_core.__about__ import __version__
from mosaic_core._lazy import lazy_attributes

# Not ``typing.TYPE_CHECKING``: importing typing alone would triple the cost of
# ``import mosaic_core``. Type checkers treat this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core._config import (
        Secret,
        TrainingConfigBase,
        WorkerConfigBase,
        load_worker_config,
    )
    from mosaic_core._context import RunContext
    from mosaic_core._envspec import EnvSpec
    from mosaic_core._errors import (
        ConfigError,
        ManifestError,
        MosaicError,
        PluginError,
        ProtocolError,
        RunCancelled,
        did_you_mean,
    )
    from mosaic_core._families import EnvFamily, EnvTask, FamilySetting, KeyMap
    from mosaic_core._family_registry import find_env_task, make_env
    from mosaic_core._hooks import hookimpl
    from mosaic_core._manifest import (
        ArtifactsMetadata,
        CheckpointMetadata,
        TensorBoardMetadata,
        WandBMetadata,
        WorkerAnalyticsManifest,
    )
    from mosaic_core._metadata import WorkerCapabilities, WorkerMetadata
    from mosaic_core._operator import Operator, OperatorContext
    from mosaic_core._protocols import WorkerConfig, WorkerRuntime
    from mosaic_core._serve import serve_main
    from mosaic_core._spec import WorkerSpec
    from mosaic_core._telemetry import RunHandle, TelemetryEmitter
    from mosaic_core._worker import run_worker

_LAZY = {
    "ArtifactsMetadata": "mosaic_core._manifest",
    "CheckpointMetadata": "mosaic_core._manifest",
    "ConfigError": "mosaic_core._errors",
    "EnvFamily": "mosaic_core._families",
    "EnvSpec": "mosaic_core._envspec",
    "EnvTask": "mosaic_core._families",
    "FamilySetting": "mosaic_core._families",
    "KeyMap": "mosaic_core._families",
    "ManifestError": "mosaic_core._errors",
    "MosaicError": "mosaic_core._errors",
    "Operator": "mosaic_core._operator",
    "OperatorContext": "mosaic_core._operator",
    "PluginError": "mosaic_core._errors",
    "ProtocolError": "mosaic_core._errors",
    "RunCancelled": "mosaic_core._errors",
    "RunContext": "mosaic_core._context",
    "RunHandle": "mosaic_core._telemetry",
    "Secret": "mosaic_core._config",
    "TelemetryEmitter": "mosaic_core._telemetry",
    "TensorBoardMetadata": "mosaic_core._manifest",
    "TrainingConfigBase": "mosaic_core._config",
    "WandBMetadata": "mosaic_core._manifest",
    "WorkerAnalyticsManifest": "mosaic_core._manifest",
    "WorkerCapabilities": "mosaic_core._metadata",
    "WorkerConfig": "mosaic_core._protocols",
    "WorkerConfigBase": "mosaic_core._config",
    "WorkerMetadata": "mosaic_core._metadata",
    "WorkerRuntime": "mosaic_core._protocols",
    "WorkerSpec": "mosaic_core._spec",
    "did_you_mean": "mosaic_core._errors",
    "find_env_task": "mosaic_core._family_registry",
    "hookimpl": "mosaic_core._hooks",
    "load_worker_config": "mosaic_core._config",
    "make_env": "mosaic_core._family_registry",
    "run_worker": "mosaic_core._worker",
    "serve_main": "mosaic_core._serve",
}

_lazy_getattr, __dir__ = lazy_attributes(globals(), _LAZY, "mosaic_core")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return _lazy_getattr(name)
    return _moved.moved_name(name)  # a 1.0 name, with a DeprecationWarning


_moved.install()

__all__ = [
    "ArtifactsMetadata",
    "CheckpointMetadata",
    "ConfigError",
    "EnvFamily",
    "EnvSpec",
    "EnvTask",
    "FamilySetting",
    "KeyMap",
    "ManifestError",
    "MosaicError",
    "Operator",
    "OperatorContext",
    "PluginError",
    "ProtocolError",
    "RunCancelled",
    "RunContext",
    "RunHandle",
    "Secret",
    "TelemetryEmitter",
    "TensorBoardMetadata",
    "TrainingConfigBase",
    "WandBMetadata",
    "WorkerAnalyticsManifest",
    "WorkerCapabilities",
    "WorkerConfig",
    "WorkerConfigBase",
    "WorkerMetadata",
    "WorkerRuntime",
    "WorkerSpec",
    "__version__",
    "did_you_mean",
    "find_env_task",
    "hookimpl",
    "load_worker_config",
    "make_env",
    "run_worker",
    "serve_main",
]
