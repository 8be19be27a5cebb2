"""``WorkerSpec``: everything MOSAIC needs to know to list, configure and run a worker."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

import attrs

from mosaic_core._errors import PluginError
from mosaic_core._metadata import WorkerCapabilities, WorkerMetadata
from mosaic_core._protocols import WorkerRuntime

__all__ = ["WorkerSpec", "wants_context"]

_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def wants_context(factory: Any) -> bool:
    """Does ``factory`` name a parameter ``context``? Factories that do are given one."""
    import inspect

    try:
        return "context" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a callable without a signature
        return False


def _is(cls: type, what: str) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, cls):
            raise PluginError(
                f"WorkerSpec.{attribute.name}: got {type(value).__name__}; expected {what}"
            )

    return validate


def _callable(optional: bool) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not callable(value):
            raise PluginError(
                f"WorkerSpec.{attribute.name}: got {value!r}; expected a callable"
                + (" or None" if optional else "")
            )

    return validate


def _config_class(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, type) or not all(
        callable(getattr(value, name, None)) for name in ("from_dict", "to_dict")
    ):
        raise PluginError(
            f"WorkerSpec.config_class: got {value!r}; expected a class with from_dict() and "
            "to_dict(), e.g. a dataclass deriving from mosaic_core.WorkerConfigBase"
        )


def _module_name(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not _MODULE.match(value)):
        raise PluginError(
            f"WorkerSpec.{attribute.name}: got {value!r}; expected a dotted module name that "
            "`python -m` can run, such as 'mosaic_cleanrl.cli'"
        )


def _optional_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise PluginError(
            f"WorkerSpec.{attribute.name}: got {value!r}; expected a metric key such as "
            "'charts/episodic_return', or None"
        )


@attrs.frozen(kw_only=True)
class WorkerSpec:
    """A worker as a plugin registers it.

    ``runtime_factory(config)`` builds the :class:`~mosaic_core.WorkerRuntime`
    for a loaded config; one that names a ``context`` parameter is called as
    ``runtime_factory(config, context=RunContext)``. It is called inside the
    worker process, so it is where heavy imports belong.

    ``console_module``, if set, is the module the
    supervisor runs as ``python -m <console_module> --config FILE``; without
    it the supervisor runs the SDK's generic entry point, which discovers this
    spec and calls the factory. ``operator_factory(checkpoint_dir, **options)``,
    if set, loads a trained policy for evaluation; one that declares a
    ``context`` parameter is also given the seat's ``OperatorContext`` (which
    agent of a multi-agent environment it plays, and that agent's spaces).

    ``smoke_service``, if set, is what the smoke run needs beside the worker,
    such as a local server: a callable returning a context manager, which
    the conformance kit enters before its first run and leaves when it is
    done. What the context manager yields (a mapping, or None) is merged over
    ``smoke_config`` in every run the kit makes, so a service started on a
    free port can say where it listens: ``yield {"base_url": server.url}``.
    """

    metadata: WorkerMetadata = attrs.field(validator=_is(WorkerMetadata, "a WorkerMetadata"))
    capabilities: WorkerCapabilities = attrs.field(
        validator=_is(WorkerCapabilities, "a WorkerCapabilities")
    )
    config_class: type[Any] = attrs.field(validator=_config_class)
    runtime_factory: Callable[..., WorkerRuntime] = attrs.field(validator=_callable(False))
    operator_factory: Callable[..., Any] | None = attrs.field(
        default=None, validator=_callable(True)
    )
    console_module: str | None = attrs.field(default=None, validator=_module_name)
    #: A config (without run_id) small enough for a smoke run of a few seconds.
    smoke_config: Mapping[str, Any] | None = attrs.field(default=None)
    #: Changes merged over ``smoke_config`` that pass validation but make ``run()``
    #: raise, such as an env id that does not exist: the conformance kit's failing run.
    failing_config: Mapping[str, Any] | None = attrs.field(default=None)
    #: A callable returning a context manager around the kit's runs (see above).
    smoke_service: Callable[[], AbstractContextManager[Mapping[str, Any] | None]] | None = (
        attrs.field(default=None, validator=_callable(True))
    )
    #: A module that ``mosaic env create`` runs as ``python -m <setup_module>`` in a new
    #: environment once pip has installed the worker: for the install steps pip
    #: metadata cannot express (such as a dependency added with ``--no-deps``).
    setup_module: str | None = attrs.field(default=None, validator=_module_name)
    #: The metric key that says how well a run learned, such as
    #: ``"charts/episodic_return"``: the default of ``mosaic runs``' metric column
    #: and of a sweep's table. Without one the host picks a key that looks like a return.
    headline_metric: str | None = attrs.field(default=None, validator=_optional_text)

    @property
    def worker_type(self) -> str:
        return self.capabilities.worker_type
