"""Finding installed workers: entry points of group ``mosaic.workers``, loaded one by one.

A plugin that fails to import or to register (an exception, ``SystemExit``,
even a ``KeyboardInterrupt`` it raises itself) is isolated: it becomes a
:class:`BrokenPlugin` record (distribution, version, error, hint) and every
other plugin still loads. What a plugin prints while it loads goes to
stderr, never stdout, which may be JSON. ``MOSAIC_LOAD_PLUGINS=a,b`` loads
only the named entry points; ``MOSAIC_STRICT_PLUGINS=1`` turns the first
failure into a :class:`~mosaic_core._errors.PluginError`.

Two distributions that register the same worker type make it *ambiguous*:
neither wins (which would depend on the order of ``sys.path``), both are
listed in :attr:`Discovery.ambiguous`, and asking for the worker is a
``PluginError`` naming both distributions (under ``MOSAIC_STRICT_PLUGINS``,
discovery itself fails).

Entry points come in two styles. The current one names a module holding
``@hookimpl def mosaic_register_workers(register)``. The legacy one, from
the original worker guide, names a callable returning
``(WorkerMetadata, WorkerCapabilities)``; such workers are listed with
status ``legacy`` and cannot be run until they register a ``WorkerSpec``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol, TypeVar

import attrs
import pluggy

from mosaic_core import _hooks as hookspecs
from mosaic_core._errors import PluginError, did_you_mean
from mosaic_core._metadata import WorkerCapabilities, WorkerMetadata
from mosaic_core._spec import WorkerSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "BrokenPlugin",
    "DiscoveredWorker",
    "Discovery",
    "discover_workers",
]

ENTRY_POINT_GROUP = "mosaic.workers"
_ENV_LOAD = "MOSAIC_LOAD_PLUGINS"
_ENV_STRICT = "MOSAIC_STRICT_PLUGINS"


@attrs.frozen(kw_only=True)
class DiscoveredWorker:
    """A worker that loaded. ``spec`` is None for a legacy entry point."""

    worker_type: str
    status: Literal["ok", "legacy"]
    metadata: WorkerMetadata
    capabilities: WorkerCapabilities
    spec: WorkerSpec | None
    entry_point: str
    distribution: str | None = None
    distribution_version: str | None = None
    load_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker_type": self.worker_type,
            "status": self.status,
            "version": self.metadata.version,
            "distribution": self.distribution,
            "distribution_version": self.distribution_version,
            "entry_point": self.entry_point,
            "load_seconds": round(self.load_seconds, 4),
            "metadata": self.metadata.to_dict(),
            "capabilities": self.capabilities.to_dict(),
            "runnable": self.spec is not None,
            "console_module": self.spec.console_module if self.spec else None,
            "setup_module": self.spec.setup_module if self.spec else None,
            "config_schema": self.config_schema(),
        }

    def config_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of the worker's config, None when its class gives none."""
        schema = getattr(self.spec.config_class, "json_schema", None) if self.spec else None
        if not callable(schema):
            return None
        try:
            described: dict[str, Any] = schema()
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not break the listing
            return {"error": f"{type(exc).__name__}: {exc}"}
        return described


@attrs.frozen(kw_only=True)
class BrokenPlugin:
    """A plugin that could not be loaded or registered, and what to do about it."""

    name: str
    entry_point: str
    error: str
    error_type: str
    hint: str
    distribution: str | None = None
    distribution_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": "broken", "worker_type": self.name, **attrs.asdict(self)}


@attrs.frozen(kw_only=True)
class Discovery:
    """The outcome of one discovery: working workers by type, and the broken plugins."""

    workers: Mapping[str, DiscoveredWorker]
    broken: tuple[BrokenPlugin, ...] = ()
    skipped: tuple[str, ...] = ()
    #: Worker types that several distributions register, with each of them.
    ambiguous: Mapping[str, tuple[DiscoveredWorker, ...]] = attrs.field(factory=dict)

    def get(self, worker_type: str) -> DiscoveredWorker:
        """The worker named ``worker_type``, or a PluginError that says why not."""
        if worker_type in self.workers:
            return self.workers[worker_type]
        if worker_type in self.ambiguous:
            message = _ambiguity(worker_type, self.ambiguous[worker_type])
            raise PluginError(message, plugin=worker_type)
        for plugin in self.broken:
            if plugin.name == worker_type:
                raise PluginError(
                    f"worker {worker_type!r} is installed but broken: {plugin.error_type}: "
                    f"{plugin.error}. {plugin.hint}",
                    plugin=worker_type,
                )
        if worker_type in self.skipped:
            raise PluginError(
                f"worker {worker_type!r} was not loaded because ${_ENV_LOAD} does not name it",
                plugin=worker_type,
            )
        known = sorted(self.workers)
        raise PluginError(
            f"no worker named {worker_type!r}{did_you_mean(worker_type, known)}; installed: "
            f"{', '.join(known) or 'none'} (install one, e.g. `pip install mosaic-cleanrl-worker`)",
            plugin=worker_type,
        )

    def runnable(self, worker_type: str) -> WorkerSpec:
        """The spec of a worker that can be run, or a PluginError naming the reason."""
        worker = self.get(worker_type)
        if worker.spec is None:
            raise PluginError(
                f"worker {worker_type!r} uses a legacy entry point that returns only metadata; "
                "it cannot be run until its plugin registers a WorkerSpec through "
                "@hookimpl mosaic_register_workers(register)",
                plugin=worker_type,
            )
        return worker.spec


class _Source:
    """One thing to load: an entry point or an object passed in directly."""

    def __init__(self, name: str, value: str, load: Any, dist: Any) -> None:
        self.name, self.value, self.load = name, value, load
        self._dist = dist

    @functools.cached_property
    def dist_name(self) -> str | None:
        """The distribution's name, read when first asked: parsing the metadata of every
        entry point's distribution, the skipped ones too, would slow each ``mosaic run``."""
        if self._dist is None:
            return None
        name: str | None = self._dist.metadata["Name"]
        return name

    @functools.cached_property
    def dist_version(self) -> str | None:
        if self._dist is None:
            return None
        version: str | None = self._dist.version
        return version

    def load_module(self, hook: str) -> types.ModuleType:
        """The module the entry point names; anything else is a PluginError naming ``hook``,
        the hook such a module implements."""
        module = self.load()
        if not isinstance(module, types.ModuleType):
            raise PluginError(
                f"entry point {self.name!r} = {self.value!r} is a {type(module).__name__}; "
                f"expected a module with @hookimpl {hook}",
                plugin=self.name,
            )
        return module

    def hooked(self, hook: str) -> tuple[types.ModuleType, pluggy.PluginManager]:
        """The module, registered in a plugin manager of its own; a PluginError unless it
        implements ``hook``."""
        module = self.load_module(hook)
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        manager.register(module, name=f"{self.name}:{module.__name__}")
        if hook not in [c.name for c in (manager.get_hookcallers(module) or [])]:
            raise PluginError(
                f"module {module.__name__!r} defines no {hook} hook; expected "
                f"`@mosaic_core.hookimpl def {hook}(register): ...`",
                plugin=self.name,
            )
        return module, manager


def _sources(group: str, extra: Iterable[Any]) -> list[_Source]:
    import importlib.metadata  # here: a worker told its plugin's module never needs it

    found = [
        _Source(ep.name, ep.value, ep.load, getattr(ep, "dist", None))
        for ep in importlib.metadata.entry_points(group=group)
    ]
    for obj in extra:
        name = getattr(obj, "__name__", repr(obj)).rsplit(".", 1)[-1]
        found.append(_Source(name, getattr(obj, "__name__", repr(obj)), lambda o=obj: o, None))
    return found


def _env_list(value: str | None) -> set[str] | None:
    if value is None or not value.strip():
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def discover_workers(
    *,
    plugins: Iterable[Any] = (),
    load: Iterable[str] | None = None,
    strict: bool | None = None,
    group: str = ENTRY_POINT_GROUP,
) -> Discovery:
    """Load every installed worker plugin, isolating failures.

    ``plugins`` adds plugin modules (or legacy callables) directly, for tests
    and embedding. ``load`` and ``strict`` default to ``$MOSAIC_LOAD_PLUGINS``
    and ``$MOSAIC_STRICT_PLUGINS``.
    """
    wanted = set(load) if load is not None else _env_list(os.environ.get(_ENV_LOAD))
    if strict is None:
        strict = os.environ.get(_ENV_STRICT, "").lower() in ("1", "true", "yes", "on")
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    workers: dict[str, DiscoveredWorker] = {}
    ambiguous: dict[str, tuple[DiscoveredWorker, ...]] = {}
    broken: list[BrokenPlugin] = []
    skipped: list[str] = []
    for source in _sources(group, plugins):
        if wanted is not None and source.name not in wanted:
            skipped.append(source.name)
            continue
        started = time.perf_counter()
        try:
            loaded = _load_isolated(source, manager)
            elapsed = time.perf_counter() - started
            for worker in loaded:
                worker = attrs.evolve(worker, load_seconds=elapsed)
                name = worker.worker_type
                if name in workers:  # neither wins: the order of sys.path would decide
                    ambiguous[name] = (workers.pop(name),)
                if name in ambiguous:
                    ambiguous[name] += (worker,)
                else:
                    workers[name] = worker
        except (Exception, SystemExit) as exc:
            if strict:
                raise PluginError(
                    f"worker plugin {source.name!r} ({source.value}) failed: "
                    f"{type(_interrupt_of(exc)).__name__}: {_interrupt_of(exc)}",
                    plugin=source.name,
                ) from exc
            broken.append(_broken(source, _interrupt_of(exc)))
    if strict and ambiguous:
        name, candidates = next(iter(ambiguous.items()))
        raise PluginError(_ambiguity(name, candidates), plugin=name)
    return Discovery(
        workers=workers, broken=tuple(broken), skipped=tuple(skipped), ambiguous=ambiguous
    )


def worker_from_module(worker_type: str, module_name: str) -> WorkerSpec | None:
    """The spec that the plugin module ``module_name`` registers for ``worker_type``,
    without reading every installed distribution's entry points: the supervisor, which
    found the worker, names its entry point's module to the worker process. None when the
    module does not load or does not register it: a full discovery then says why."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    source = _Source(worker_type, module_name, lambda: importlib.import_module(module_name), None)
    try:
        loaded = _load_isolated(source, manager)
    except (Exception, SystemExit):  # noqa: BLE001 - discover_workers reports it
        return None
    return next((w.spec for w in loaded if w.worker_type == worker_type), None)


class _PluginInterrupted(Exception):
    """A plugin raised ``KeyboardInterrupt`` while it loaded: a broken plugin, carried so."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


def _interrupt_of(exc: BaseException) -> BaseException:
    return exc.interrupt if isinstance(exc, _PluginInterrupted) else exc


def _load_isolated(source: _Source, manager: pluggy.PluginManager) -> list[DiscoveredWorker]:
    """:func:`_load_one`, its prints sent to stderr, its own KeyboardInterrupt made a failure
    (a real Ctrl-C meanwhile still interrupts)."""
    with _plugin_output_to_stderr(), _interrupts() as interrupted:
        try:
            return _load_one(source, manager)
        except KeyboardInterrupt as exc:
            if interrupted():
                raise
            raise _PluginInterrupted(exc) from exc


def _ambiguity(worker_type: str, candidates: tuple[DiscoveredWorker, ...]) -> str:
    names = " and ".join(
        f"{w.distribution} {w.distribution_version}" if w.distribution else w.entry_point
        for w in candidates
    )
    return (
        f"worker {worker_type!r} is ambiguous: {names} both register it; uninstall all but "
        "one (`pip uninstall DISTRIBUTION`)"
    )


@contextlib.contextmanager
def _plugin_output_to_stderr() -> Iterator[None]:
    """Send what plugins print while they load to stderr: stdout may be JSON, or a
    protocol. The descriptor too, so a C extension's printf is caught as well."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        with contextlib.suppress(OSError):
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _interrupts() -> Iterator[Callable[[], bool]]:
    """Tell the user's Ctrl-C from a ``KeyboardInterrupt`` a plugin raises at import:
    yields a function that says whether SIGINT really arrived meanwhile."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # SIGINT is never raised in another thread
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: Any) -> None:
        if previous == signal.SIG_IGN:
            return
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:
        yield lambda: False
        return
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _load_one(source: _Source, manager: pluggy.PluginManager) -> list[DiscoveredWorker]:
    obj = source.load()
    common = {
        "entry_point": source.value,
        "distribution": source.dist_name,
        "distribution_version": source.dist_version,
    }
    if isinstance(obj, types.ModuleType):
        return _from_module(source, obj, manager, common)
    if callable(obj):
        return [_from_legacy(source, obj, common)]
    raise PluginError(
        f"entry point {source.name!r} = {source.value!r} is a {type(obj).__name__}; expected a "
        "module with @hookimpl mosaic_register_workers, or a legacy callable",
        plugin=source.name,
    )


def _from_module(
    source: _Source, module: types.ModuleType, manager: pluggy.PluginManager, common: dict[str, Any]
) -> list[DiscoveredWorker]:
    if manager.is_registered(module):
        manager.unregister(module)
    manager.register(module, name=f"{source.name}:{module.__name__}")
    if not manager.get_hookcallers(module):
        manager.unregister(module)
        raise PluginError(
            f"module {module.__name__!r} defines no hook; expected "
            "`@mosaic_core.hookimpl def mosaic_register_workers(register): ...`",
            plugin=source.name,
        )
    specs: list[WorkerSpec] = []

    def register(spec: WorkerSpec) -> None:
        if not isinstance(spec, WorkerSpec):
            raise PluginError(
                f"register() got {type(spec).__name__}; expected a mosaic_core.WorkerSpec",
                plugin=source.name,
            )
        specs.append(spec)

    others = [p for p in manager.get_plugins() if p is not module]
    manager.subset_hook_caller("mosaic_register_workers", remove_plugins=others)(register=register)
    if not specs:
        raise PluginError(
            f"module {module.__name__!r} registered no worker; call register(WorkerSpec(...)) "
            "in its mosaic_register_workers hook",
            plugin=source.name,
        )
    names = [s.worker_type for s in specs]
    if len(specs) == 1 and _is_entry_point(common) and names[0] != source.name:
        raise PluginError(
            f"entry point {source.name!r} registered worker type {names[0]!r}; the entry-point "
            f"name must equal the worker type (rename one so both read {names[0]!r})",
            plugin=source.name,
        )
    return [
        DiscoveredWorker(
            worker_type=spec.worker_type,
            status="ok",
            metadata=spec.metadata,
            capabilities=spec.capabilities,
            spec=spec,
            **common,
        )
        for spec in specs
    ]


def _is_entry_point(common: dict[str, Any]) -> bool:
    return common["distribution"] is not None


def _from_legacy(source: _Source, func: Any, common: dict[str, Any]) -> DiscoveredWorker:
    result = func()
    if (
        not isinstance(result, tuple)
        or len(result) != 2
        or not isinstance(result[0], WorkerMetadata)
        or not isinstance(result[1], WorkerCapabilities)
    ):
        raise PluginError(
            f"legacy entry point {source.value!r} returned {type(result).__name__}; expected a "
            "tuple (mosaic_core.WorkerMetadata, mosaic_core.WorkerCapabilities)",
            plugin=source.name,
        )
    metadata, capabilities = result
    return DiscoveredWorker(
        worker_type=capabilities.worker_type,
        status="legacy",
        metadata=metadata,
        capabilities=capabilities,
        spec=None,
        **common,
    )


def _broken(source: _Source, exc: BaseException) -> BrokenPlugin:
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "gym_gui":
        hint = (
            f"{source.dist_name or source.value} was written for the original MOSAIC worker "
            "guide (gym_gui.core.worker); `mosaic migrate PATH` rewrites its project onto "
            "mosaic_core (pip install 'mosaic-core[migrate]'), or see the guide's migration "
            "section"
        )
    elif isinstance(exc, ModuleNotFoundError):
        hint = (
            f"install the missing module {exc.name!r} into this environment "
            f"({sys.executable}), or uninstall {source.dist_name or source.value}"
        )
    elif isinstance(exc, PluginError):
        hint = f"the plugin {source.dist_name or source.value} must be fixed by its author"
    else:
        hint = (
            f"{source.dist_name or source.value} raised while loading; upgrade or uninstall it, "
            f"or skip it with {_ENV_LOAD}=<the workers you want>"
        )
    return BrokenPlugin(
        name=source.name,
        entry_point=source.value,
        error=str(exc) or type(exc).__name__,
        error_type=type(exc).__name__,
        hint=hint,
        distribution=source.dist_name,
        distribution_version=source.dist_version,
    )


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


def load_each(
    sources: Iterable[_Source],
    load: Callable[[_Source], list[_Named]],
    *,
    kind: str,
    strict: bool,
) -> tuple[dict[str, _Named], dict[str, tuple[str, str | None, str | None]], list[BrokenPlugin]]:
    """``load`` each source's registrations (things with a ``name``), isolating failures.

    What a plugin prints while loading goes to stderr (``--json`` output stays
    JSON); a name registered twice breaks the second source; a broken source is
    listed, or raised as a PluginError when ``strict``. Returns the registrations
    by name, where each came from (entry point, distribution, version), and the
    broken sources.
    """
    found: dict[str, _Named] = {}
    origins: dict[str, tuple[str, str | None, str | None]] = {}
    broken: list[BrokenPlugin] = []
    for source in sources:
        try:
            with _plugin_output_to_stderr():
                loaded = load(source)
            for item in loaded:
                name = item.name
                if name in found:
                    where = origins[name]
                    raise PluginError(
                        f"{kind} {name!r} is already provided by {where[1] or where[0]}",
                        plugin=source.name,
                    )
            for item in loaded:
                found[item.name] = item
                origins[item.name] = (source.value, source.dist_name, source.dist_version)
        except (Exception, SystemExit) as exc:
            if strict:
                raise PluginError(
                    f"{kind} plugin {source.name!r} ({source.value}) failed: "
                    f"{type(exc).__name__}: {exc}",
                    plugin=source.name,
                ) from exc
            broken.append(_broken(source, exc))
    return found, origins, broken
