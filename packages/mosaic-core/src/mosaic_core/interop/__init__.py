"""Runs handed to the tools researchers already use: TensorBoard and MLflow.

Both are optional: :func:`tensorboard_logdir` writes events with the
``tensorboard`` package, :func:`export_mlflow` talks to MLflow's tracking
API; each raises :class:`~mosaic_core.query.MissingExtra` naming what to
install when its library is missing. Metrics are read through the run
store, as everywhere in the host.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core.interop.mlflow import export_mlflow
    from mosaic_core.interop.tensorboard import readable_name, tensorboard_logdir

_LAZY = {
    "export_mlflow": "mosaic_core.interop.mlflow",
    "readable_name": "mosaic_core.interop.tensorboard",
    "tensorboard_logdir": "mosaic_core.interop.tensorboard",
}

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __name__)

__all__ = ["export_mlflow", "readable_name", "tensorboard_logdir"]
