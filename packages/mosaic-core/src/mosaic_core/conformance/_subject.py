"""The worker under test: what every check asks of it, each piece computed once.

A check is a function of a :class:`WorkerUnderTest` (in practice the
:class:`~mosaic_core.conformance.Conformance` that runs it): it reads the
worker's discovery and spec, and shares the kit's run store and its smoke
run. This module knows no check; the runner above it knows them all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mosaic_core.conformance._launch import RunRecord, launch
from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from mosaic_core._discovery import BrokenPlugin, DiscoveredWorker
    from mosaic_core._spec import WorkerSpec
    from mosaic_core.runs.store import RunStore

__all__ = ["ENTRY_POINT_HINT", "WorkerUnderTest", "discover"]

ENTRY_POINT_HINT = (
    'declare it in pyproject.toml as `[project.entry-points."mosaic.workers"] {name} = '
    '"<your_package>.plugin"` and reinstall the package (`pip install -e .`)'
)

Discovered = tuple["DiscoveredWorker | None", "BrokenPlugin | None", "str | None"]


def discover(worker_type: str) -> Discovered:
    """``(worker, broken, problem)`` for ``worker_type``, loading only the plugins it needs."""
    from mosaic_core._discovery import discover_workers

    found = discover_workers(load=[worker_type], strict=False)
    if worker_type not in found.workers and not found.broken:
        # One plugin may register several worker types under another entry-point name.
        found = discover_workers(load=[worker_type, *found.skipped], strict=False)
    if worker_type in found.workers:
        return found.workers[worker_type], None, None
    for plugin in found.broken:
        if plugin.name == worker_type:
            return None, plugin, None
    known = ", ".join(sorted(found.workers)) or "none"
    return (
        None,
        None,
        f"no installed plugin provides worker {worker_type!r} (installed workers: {known}); "
        + ENTRY_POINT_HINT.format(name=worker_type),
    )


class WorkerUnderTest:
    """One installed worker, and everything the checks share about it.

    ``workdir`` holds the private ``MOSAIC_HOME`` of the kit's runs; without
    one, a temporary directory is made and :meth:`close` removes it.
    ``timeout`` bounds each run in seconds; ``max_silence`` is the longest a
    run may go without a telemetry event; ``cancel_grace`` is how long a
    worker has to stop after SIGTERM; ``import_budget`` is how long the
    plugin module may take to import. ``launcher`` and ``launcher_options``
    send the kit's runs where ``mosaic run --launcher`` would (options as its
    ``--address``, ``--resources`` and ``--launcher-option`` give them): the
    same checks then hold for the worker run elsewhere.
    """

    def __init__(
        self,
        worker_type: str,
        *,
        workdir: str | os.PathLike[str] | None = None,
        timeout: float = 120.0,
        max_silence: float = 15.0,
        cancel_grace: float = 5.0,
        import_budget: float = 2.0,
        launcher: str = "local",
        launcher_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.worker_type = worker_type
        self.launcher = launcher
        self.launcher_options = dict(launcher_options or {})
        self.timeout = timeout
        self.max_silence = max_silence
        self.cancel_grace = cancel_grace
        self.import_budget = import_budget
        self._own_workdir = workdir is None
        self.workdir = os.fspath(workdir or tempfile.mkdtemp(prefix="mosaic-check-"))
        self._cache: dict[str, Any] = {}
        self._store: RunStore | None = None
        self._services = contextlib.ExitStack()

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for; its value (or error) after."""
        if key not in self._cache:
            try:
                self._cache[key] = (True, compute())
            except (CheckFailed, CheckSkipped) as exc:
                self._cache[key] = (False, exc)
        ok, value = self._cache[key]
        if not ok:
            raise type(value)(*value.args)
        return value

    def discovery(self) -> Discovered:
        """``(worker, broken, problem)``: exactly one is set.

        ``worker`` when it loaded (``worker.spec`` is None for a legacy entry
        point), ``broken`` when its plugin failed, ``problem`` (a message)
        when no installed plugin provides it.
        """
        result: Discovered = self.once("discovery", lambda: discover(self.worker_type))
        return result

    @property
    def spec(self) -> WorkerSpec:
        """The worker's spec; :class:`CheckSkipped` when the worker did not load."""
        worker, _, _ = self.discovery()
        if worker is None or worker.spec is None:
            raise CheckSkipped(
                f"worker {self.worker_type!r} did not load as a runnable worker (see entry-point)"
            )
        return worker.spec

    @property
    def store(self) -> RunStore:
        if self._store is None:
            from mosaic_core.runs.store import RunStore

            self._store = RunStore(os.path.join(self.workdir, "mosaic-home"))
        return self._store

    def launch(
        self,
        document: Mapping[str, Any],
        *,
        validate: bool = True,
        cancel_after_start: bool = False,
        cancel_after_metrics: bool = False,
    ) -> RunRecord:
        """Run the worker once with ``document`` as its config, in the kit's run store."""
        return launch(
            self.store,
            self.worker_type,
            self.spec,
            document,
            timeout=self.timeout,
            cancel_grace=self.cancel_grace,
            validate=validate,
            cancel_after_start=cancel_after_start,
            cancel_after_metrics=cancel_after_metrics,
            launcher=self.launcher,
            launcher_options=self._checked_launcher_options(),
        )

    def _checked_launcher_options(self) -> dict[str, Any]:
        """The launcher's options as it checks them for ``mosaic run`` (once)."""
        if self.launcher == "local" and not self.launcher_options:
            return {}

        def check() -> dict[str, Any]:
            from mosaic_core.runs.launcher_registry import discover_launchers

            spec = discover_launchers().get(self.launcher)
            return spec.check(self.launcher_options, self.spec.capabilities)

        checked: dict[str, Any] = self.once("launcher-options", check)
        return checked

    def smoke_document(self, *changes: Mapping[str, Any]) -> dict[str, Any]:
        """``smoke_config`` with what the worker's smoke service yields, then ``changes``,
        merged over it: the config of a run the kit makes. Starts the service the first time."""
        service: dict[str, Any] = self.once("smoke-service", self._start_service)
        merged = {**dict(self.spec.smoke_config or {}), **service}
        for change in changes:
            merged.update(change)
        return merged

    def _start_service(self) -> dict[str, Any]:
        factory = self.spec.smoke_service
        if factory is None:
            return {}
        try:
            given = self._services.enter_context(factory())
        except Exception as exc:  # noqa: BLE001 - the worker's service is the finding
            raise CheckFailed(
                f"WorkerSpec.smoke_service did not start: {type(exc).__name__}: {exc}; it must "
                "return a context manager that starts what the smoke run needs and yields a "
                "mapping of config changes (or None)"
            ) from None
        if given is not None and not isinstance(given, Mapping):
            raise CheckFailed(
                f"WorkerSpec.smoke_service yielded {type(given).__name__}; expected a mapping of "
                "config changes merged over smoke_config, or None"
            )
        return dict(given or {})

    def smoke_run(self) -> RunRecord:
        """The smoke run, started the first time a check needs it."""
        record: RunRecord = self.once("smoke-run", self._smoke_run)
        return record

    def _smoke_run(self) -> RunRecord:
        smoke = self.spec.smoke_config
        if smoke is None:
            raise CheckFailed(
                "WorkerSpec.smoke_config is not set, so the kit cannot make a short run: give a "
                "config (without run_id) small enough for a run of a few seconds, e.g. "
                "smoke_config={'total_steps': 200}"
            )
        return self.launch(self.smoke_document())

    def completed_smoke_run(self) -> RunRecord:
        """The smoke run if it completed; :class:`CheckSkipped` otherwise."""
        try:
            record = self.smoke_run()
        except CheckFailed:
            raise CheckSkipped("there is no smoke run (see smoke-run)") from None
        if record.result.status != "completed":
            raise CheckSkipped(
                f"the smoke run did not complete ({record.result.status}; see smoke-run)"
            )
        return record

    def close(self) -> None:
        """Stop the smoke service, close the run store, remove the work directory if the kit
        made it."""
        self._services.close()
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
