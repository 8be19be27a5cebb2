"""What a migrated worker gains: its plugin module, and the lines of ``pyproject.toml``."""

from __future__ import annotations

import json
from typing import Any

from mosaic_core.migrate._survey import Survey

__all__ = ["plugin_source", "pyproject_text", "smoke_config"]

_HEADER = '''"""What discovery imports: the {worker} worker's spec, registered through the hook.

Written by `mosaic migrate` from the worker's get_worker_metadata and its config and
runtime classes. Import nothing heavy here: the runtime is imported when a run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mosaic_core import {sdk}

{imports}
'''

_LIFECYCLE = '''

class _Lifecycle:
    """Runs {runtime}, which reports no telemetry of its own, inside the run's
    lifecycle: run_started first, exactly one terminal event, its summary as a dict."""

    def __init__(self, runtime: Any, context: RunContext, **started: Any) -> None:
        self.runtime, self.context, self.started = runtime, context, started

    def run(self) -> dict[str, Any]:
        with self.context.lifecycle(**self.started) as run:
            summary = self.runtime.run()
            run.summary.update(summary if isinstance(summary, dict) else _as_dict(summary))
        return run.summary


def _as_dict(value: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return {{"result": value}}
'''

_FACTORY = """

def make_runtime(config: {config}, context: RunContext) -> Any:
    # Called when a run starts, in the worker process: heavy imports belong here.
    from {package}.{runtime_module} import {runtime}

    # The run's manifest (analytics.json) from the start; a runtime records its
    # checkpoints into it with context.record_checkpoint(path, step=...).
    context.write_manifest()
    return {build}


SPEC = WorkerSpec(
    metadata=METADATA,
    capabilities=CAPABILITIES,
    config_class={config},
    runtime_factory=make_runtime,
    # For the conformance kit (`mosaic check {worker}`): a short run. Add failing_config,
    # config changes that make run() raise (such as an unknown env_id).
    smoke_config={smoke},
)


@hookimpl
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    register(SPEC)
"""


def smoke_config(found: Survey) -> dict[str, Any]:
    """A config for a short run: what the config requires, and a small step budget."""
    smoke: dict[str, Any] = {}
    for name, (annotation, has_default) in found.config_fields.items():
        if name in ("run_id", "seed"):
            continue
        if name in ("total_steps", "total_timesteps"):
            smoke[name] = 1000
        elif not has_default:
            if "int" in annotation:
                smoke[name] = 1
            elif "float" in annotation:
                smoke[name] = 1.0
            elif name == "env_id":
                smoke[name] = "CartPole-v1"
            else:
                smoke[name] = "TODO"
                found.notes.append(
                    f"plugin.py: smoke_config[{name!r}] is 'TODO' ({found.config_class}.{name} "
                    "has no default); give the value of a short run"
                )
    return smoke


def plugin_source(found: Survey) -> str:
    """The plugin module of a migrated worker."""
    sdk = ["RunContext", "WorkerSpec", "hookimpl"]
    imports = []
    if found.metadata_function:
        imports.append(f"from {found.package} import {found.metadata_function}")
        metadata = f"\nMETADATA, CAPABILITIES = {found.metadata_function}()\n"
    else:
        sdk += ["WorkerCapabilities", "WorkerMetadata"]
        if found.has_version:
            imports.append(f"from {found.package} import __version__")
        version = "__version__" if found.has_version else json.dumps(found.version)
        description = found.description or "TODO: say in one line what this worker trains"
        if not found.description:
            found.notes.append(
                "plugin.py: WorkerMetadata.description is a TODO (pyproject.toml and the "
                "package say nothing); `mosaic workers` shows it"
            )
        found.notes.append(
            "plugin.py: the package had no get_worker_metadata, so the capabilities are "
            "WorkerCapabilities' defaults; declare what the worker supports"
        )
        title = found.worker_type.replace("-", " ").title()
        metadata = (
            f"\nMETADATA = WorkerMetadata(\n    name={json.dumps(title + ' worker')},\n"
            f"    version={version},\n    description={json.dumps(description)},\n)\n"
            f"CAPABILITIES = WorkerCapabilities(worker_type={json.dumps(found.worker_type)})\n"
        )
    imports.append(f"from {found.package}.{found.config_module} import {found.config_class}")
    source = _HEADER.format(
        worker=found.worker_type, sdk=", ".join(sorted(sdk)), imports="\n".join(imports)
    )
    source += metadata
    build = f"{found.runtime_class}(config)"
    if not found.reports_lifecycle:
        started = ", ".join(
            f"{f}=config.{f}"
            for f in ("env_id", "algorithm", "seed", "total_steps")
            if f in found.config_fields or f == "seed"
        )
        build = f"_Lifecycle({found.runtime_class}(config), context, {started})"
        source += _LIFECYCLE.format(runtime=found.runtime_class)
        found.notes.append(
            f"plugin.py: {found.runtime_class} reports no telemetry, so the plugin runs it "
            "inside context.lifecycle(); better, give the runtime the RunContext and report "
            "metrics from its loop with run.metrics(step, values)"
        )
    return source + _FACTORY.format(
        config=found.config_class,
        package=found.package,
        runtime_module=found.runtime_module,
        runtime=found.runtime_class,
        build=build,
        worker=found.worker_type,
        smoke=json.dumps(smoke_config(found)),
    )


def pyproject_text(text: str, found: Survey, requirement: str) -> str:
    """``pyproject.toml`` with the entry point on the plugin module and a mosaic-core
    dependency, everything else (comments, order) as it was."""
    import tomlkit

    document = tomlkit.parse(text)
    project: Any = document.setdefault("project", tomlkit.table())
    dependencies = project.get("dependencies")
    if dependencies is None:
        project["dependencies"] = [requirement]
        found.notes.append(f"pyproject.toml: depends on {requirement}")
    elif not any(str(d).replace("_", "-").startswith("mosaic-core") for d in dependencies):
        dependencies.append(requirement)
        found.notes.append(f"pyproject.toml: depends on {requirement}")
    entry_points = project.get("entry-points")
    if entry_points is None:
        project["entry-points"] = entry_points = tomlkit.table(is_super_table=True)
    workers = entry_points.get("mosaic.workers")
    if workers is None:
        entry_points["mosaic.workers"] = workers = tomlkit.table()
    for name in [n for n in workers if n != found.worker_type]:
        del workers[name]
    target = f"{found.package}.plugin"
    if not found.has_hook and workers.get(found.worker_type) != target:
        workers[found.worker_type] = target
    return tomlkit.dumps(document)
