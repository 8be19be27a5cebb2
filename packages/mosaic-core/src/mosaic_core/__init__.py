"""mosaic-core: the thin SDK every MOSAIC worker stands on.

This module is the one import a worker author needs; anything not in
``__all__`` is private. Importing it loads no RL library, no numpy and no
torch: workers import those when a run starts. Names are resolved lazily
(PEP 562), so ``import mosaic_core`` costs about a millisecond and each
part (attrs, pluggy, json) is imported only when first used.
"""

from __future__ import annotations

from mosaic_core.__about__ import __version__
from mosaic_core._lazy import lazy_attributes

# Not ``typing.TYPE_CHECKING``: importing typing alone would triple the cost of
# ``import mosaic_core``. Type checkers treat this name the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core.config import (
        TrainingConfigBase,
        WorkerConfigBase,
        check_run_id,
        extract_worker_config,
        load_worker_config,
    )
    from mosaic_core.errors import (
        ConfigError,
        ManifestError,
        MosaicError,
        PluginError,
        ProtocolError,
        RunCancelled,
    )
    from mosaic_core.fastlane import FastlaneReader, FastlaneWriter
    from mosaic_core.hookspecs import hookimpl
    from mosaic_core.interactive import InteractiveServer
    from mosaic_core.manifest import (
        ArtifactsMetadata,
        CheckpointMetadata,
        TensorBoardMetadata,
        WandBMetadata,
        WorkerAnalyticsManifest,
    )
    from mosaic_core.metadata import WorkerCapabilities, WorkerMetadata
    from mosaic_core.operator_client import OperatorClient
    from mosaic_core.operator_main import serve_main
    from mosaic_core.operators import HumanOperator, Operator, OperatorContext, RandomOperator
    from mosaic_core.plugins import BrokenPlugin, DiscoveredWorker, Discovery, discover_workers
    from mosaic_core.protocols import WorkerConfig, WorkerRuntime
    from mosaic_core.spec import WorkerSpec
    from mosaic_core.telemetry import RunHandle, TelemetryEmitter
    from mosaic_core.telemetry_reader import Anomaly, LogLine, TelemetryEvent, TelemetryReader
    from mosaic_core.worker_main import run_worker

_LAZY = {
    "Anomaly": "mosaic_core.telemetry_reader",
    "ArtifactsMetadata": "mosaic_core.manifest",
    "BrokenPlugin": "mosaic_core.plugins",
    "CheckpointMetadata": "mosaic_core.manifest",
    "ConfigError": "mosaic_core.errors",
    "DiscoveredWorker": "mosaic_core.plugins",
    "Discovery": "mosaic_core.plugins",
    "FastlaneReader": "mosaic_core.fastlane",
    "FastlaneWriter": "mosaic_core.fastlane",
    "HumanOperator": "mosaic_core.operators",
    "InteractiveServer": "mosaic_core.interactive",
    "LogLine": "mosaic_core.telemetry_reader",
    "ManifestError": "mosaic_core.errors",
    "MosaicError": "mosaic_core.errors",
    "Operator": "mosaic_core.operators",
    "OperatorClient": "mosaic_core.operator_client",
    "OperatorContext": "mosaic_core.operators",
    "PluginError": "mosaic_core.errors",
    "ProtocolError": "mosaic_core.errors",
    "RandomOperator": "mosaic_core.operators",
    "RunCancelled": "mosaic_core.errors",
    "RunHandle": "mosaic_core.telemetry",
    "TelemetryEmitter": "mosaic_core.telemetry",
    "TelemetryEvent": "mosaic_core.telemetry_reader",
    "TelemetryReader": "mosaic_core.telemetry_reader",
    "TensorBoardMetadata": "mosaic_core.manifest",
    "TrainingConfigBase": "mosaic_core.config",
    "WandBMetadata": "mosaic_core.manifest",
    "WorkerAnalyticsManifest": "mosaic_core.manifest",
    "WorkerCapabilities": "mosaic_core.metadata",
    "WorkerConfig": "mosaic_core.protocols",
    "WorkerConfigBase": "mosaic_core.config",
    "WorkerMetadata": "mosaic_core.metadata",
    "WorkerRuntime": "mosaic_core.protocols",
    "WorkerSpec": "mosaic_core.spec",
    "check_run_id": "mosaic_core.config",
    "discover_workers": "mosaic_core.plugins",
    "extract_worker_config": "mosaic_core.config",
    "hookimpl": "mosaic_core.hookspecs",
    "load_worker_config": "mosaic_core.config",
    "run_worker": "mosaic_core.worker_main",
    "serve_main": "mosaic_core.operator_main",
}


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, "mosaic_core")


__all__ = [
    "Anomaly",
    "ArtifactsMetadata",
    "BrokenPlugin",
    "CheckpointMetadata",
    "ConfigError",
    "DiscoveredWorker",
    "Discovery",
    "FastlaneReader",
    "FastlaneWriter",
    "HumanOperator",
    "InteractiveServer",
    "LogLine",
    "ManifestError",
    "MosaicError",
    "Operator",
    "OperatorClient",
    "OperatorContext",
    "PluginError",
    "ProtocolError",
    "RandomOperator",
    "RunCancelled",
    "RunHandle",
    "TelemetryEmitter",
    "TelemetryEvent",
    "TelemetryReader",
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
    "check_run_id",
    "discover_workers",
    "extract_worker_config",
    "hookimpl",
    "load_worker_config",
    "run_worker",
    "serve_main",
]
