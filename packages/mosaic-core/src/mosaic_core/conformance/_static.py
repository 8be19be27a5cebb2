"""Checks that need no run: discovery, the plugin module's imports, metadata, capabilities."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped, describe

if TYPE_CHECKING:
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = [
    "HEAVY_MODULES",
    "check_capabilities",
    "check_core_version",
    "check_entry_point",
    "check_light_import",
    "core_requirement",
]

#: Top-level modules a plugin module must not import (directly or through others).
HEAVY_MODULES = (
    "torch",
    "tensorflow",
    "jax",
    "ray",
    "xuance",
    "gymnasium",
    "gym",
    "numpy",
    "pettingzoo",
    "pandas",
    "cleanrl",
    "stable_baselines3",
)


def check_entry_point(kit: WorkerUnderTest) -> str:
    """Registered under ``mosaic.workers`` and loadable, as a runnable (not legacy) worker."""
    worker, broken, problem = kit.discovery()
    if problem is not None:
        raise CheckFailed(problem)
    if broken is not None:
        where = f"{broken.distribution} {broken.distribution_version}".strip()
        raise CheckFailed(
            f"the plugin of {kit.worker_type!r} ({broken.entry_point}, from {where or '?'}) "
            f"failed to load: {broken.error_type}: {broken.error}\nhint: {broken.hint}"
        )
    assert worker is not None
    if worker.spec is None:
        raise CheckFailed(
            f"{worker.entry_point} is a legacy entry point that returns only metadata, so "
            f"{kit.worker_type!r} cannot be run; point the entry point at a plugin module "
            "with `@mosaic_core.hookimpl def mosaic_register_workers(register): "
            "register(WorkerSpec(...))`"
        )
    source = (
        f"{worker.distribution} {worker.distribution_version}"
        if worker.distribution
        else "no distribution"
    )
    return f"{worker.entry_point} from {source}, loaded in {worker.load_seconds:.3f} s"


def core_requirement(distribution: str) -> str | None:
    """The requirement on mosaic-core that ``distribution`` declares, e.g. ``>=1.1,<2``:
    ``""`` for any version, None when it declares none (extras' requirements aside)."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in importlib.metadata.requires(distribution) or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != "mosaic-core":
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            # Lower bounds first, as people write them: >=1.1,<2.
            order = {">": 0, "~": 0, "=": 0, "!": 1, "<": 2}
            parts = sorted(map(str, requirement.specifier), key=lambda p: (order[p[0]], p))
            return ",".join(parts)
    return None


def check_core_version(kit: WorkerUnderTest) -> str:
    """The worker's distribution requires mosaic-core in a range that holds the installed one."""
    from packaging.specifiers import SpecifierSet

    from mosaic_core.__about__ import __version__

    worker, _, _ = kit.discovery()
    if worker is None:
        raise CheckSkipped(f"worker {kit.worker_type!r} did not load (see entry-point)")
    if worker.distribution is None:
        raise CheckSkipped(f"{worker.entry_point} belongs to no installed distribution")
    declared = core_requirement(worker.distribution)
    where = f"{worker.distribution} {worker.distribution_version}"
    if declared is None:
        raise CheckFailed(
            f"{where} does not declare a dependency on mosaic-core, so installing it does not "
            "install the SDK it imports; add `mosaic-core>=1.1,<2` (the range of the SDK "
            "names it uses) to [project] dependencies in pyproject.toml"
        )
    if not SpecifierSet(declared).contains(__version__, prereleases=True):
        raise CheckFailed(
            f"{where} requires mosaic-core{declared}, which excludes the mosaic-core "
            f"{__version__} installed here: pip would not install them together. Widen the "
            "range (mosaic-core keeps its public names within a major version), or test "
            "against a mosaic-core inside it"
        )
    note = "" if "<" in declared else "; no upper bound: declare <2, as a 2.0 may change names"
    return (
        f"mosaic-core {__version__} is inside the declared mosaic-core{declared or ' (any)'}" + note
    )


def _plugin_module(kit: WorkerUnderTest) -> str:
    worker, broken, problem = kit.discovery()
    value = worker.entry_point if worker else broken.entry_point if broken else None
    if value is None:
        raise CheckSkipped(f"no entry point to import ({problem})")
    return value.partition(":")[0].strip()


_PROBE = r"""
import importlib, json, sys, time
HEAVY = set(json.loads(sys.argv[2]))
chains = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY and top not in chains:
            frame, chain = sys._getframe(1), []
            while frame is not None:
                module = frame.f_globals.get("__name__", "")
                if not frame.f_code.co_filename.startswith("<frozen") and module not in (
                    "__main__", "importlib", chain[-1] if chain else None
                ):
                    chain.append(module)
                frame = frame.f_back
            chains[top] = list(reversed(chain))
        return None

sys.meta_path.insert(0, Watch())
started = time.perf_counter()
try:
    importlib.import_module(sys.argv[1])
    error = None
except BaseException as exc:
    error = f"{type(exc).__name__}: {exc}"
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "heavy": chains, "error": error}))
"""


def check_light_import(kit: WorkerUnderTest) -> str:
    """The plugin module, imported alone in a fresh interpreter, loads no heavy library."""
    module = _plugin_module(kit)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, module, json.dumps(HEAVY_MODULES)],
            capture_output=True,
            text=True,
            timeout=max(60.0, kit.import_budget * 10),
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"importing {module} did not finish within 60 s") from None
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise CheckFailed(
            f"importing {module} in a fresh interpreter failed (exit {done.returncode}):\n"
            + done.stderr.strip()[-2000:]
        ) from None
    seconds = float(report["seconds"])
    if report["heavy"]:
        lines = []
        for name, chain in report["heavy"].items():
            via = " -> ".join([*chain, name]) if chain else name
            lines.append(f"  {name}: {via}")
        raise CheckFailed(
            f"importing the plugin module {module} imports "
            f"{', '.join(report['heavy'])}; discovery (`mosaic workers`) imports every plugin "
            "module, so it must import only mosaic_core and light modules of your own. Move "
            "these imports into the runtime module, imported by runtime_factory when a run "
            "starts. Import chains:\n" + "\n".join(lines)
        )
    if report["error"]:
        raise CheckFailed(f"importing {module} in a fresh interpreter failed: {report['error']}")
    if seconds > kit.import_budget:
        raise CheckFailed(
            f"importing the plugin module {module} took {seconds:.2f} s (budget "
            f"{kit.import_budget:.2f} s); discovery imports every plugin module, so keep it "
            "light: defer slow imports to the runtime factory"
        )
    return f"{module} imported in {seconds:.3f} s; none of the {len(HEAVY_MODULES)} heavy libraries"


def _broken_field(kit: WorkerUnderTest, prefix: str) -> None:
    """Fail when the plugin broke on a bad ``prefix`` value; skip if it broke otherwise."""
    _, broken, problem = kit.discovery()
    if broken is not None and f"{prefix}." in broken.error:
        raise CheckFailed(
            f"the plugin builds an invalid {prefix}: {broken.error}; fix that value "
            "(declare only words from the documented vocabularies)"
        )
    if broken is not None or problem is not None:
        raise CheckSkipped(f"worker {kit.worker_type!r} did not load (see entry-point)")


def check_metadata(kit: WorkerUnderTest) -> str:
    """``WorkerMetadata`` with a name, a description, and the distribution's version."""
    from mosaic_core._metadata import WorkerMetadata

    _broken_field(kit, "WorkerMetadata")
    worker, _, _ = kit.discovery()
    assert worker is not None
    meta = worker.metadata
    if type(meta) is not WorkerMetadata:
        raise CheckFailed(
            f"metadata is a {type(meta).__name__}; expected mosaic_core.WorkerMetadata"
        )
    if meta.to_dict() != WorkerMetadata.from_dict(meta.to_dict()).to_dict():
        raise CheckFailed("WorkerMetadata does not survive to_dict()/from_dict()")
    if not meta.description.strip():
        raise CheckFailed(
            "WorkerMetadata.description is empty; `mosaic workers` shows it: say in one line "
            "what the worker trains, e.g. 'CleanRL's single-file algorithms'"
        )
    if worker.distribution_version and meta.version != worker.distribution_version:
        raise CheckFailed(
            f"WorkerMetadata.version is {meta.version!r} but the installed distribution "
            f"{worker.distribution} is {worker.distribution_version!r}; keep the version in "
            "one place: pass your package's __version__ and let the build read the same file "
            "([tool.hatch.version] path = ...)"
        )
    return f"{meta.name} {meta.version}: {meta.description}"


def check_capabilities(kit: WorkerUnderTest) -> str:
    """``WorkerCapabilities`` of the right type and worker type, with valid words."""
    from mosaic_core._metadata import WorkerCapabilities

    _broken_field(kit, "WorkerCapabilities")
    worker, _, _ = kit.discovery()
    assert worker is not None
    caps = worker.capabilities
    if type(caps) is not WorkerCapabilities:
        raise CheckFailed(
            f"capabilities is a {type(caps).__name__}; expected mosaic_core.WorkerCapabilities"
        )
    if caps.worker_type != kit.worker_type:
        raise CheckFailed(
            f"capabilities.worker_type is {caps.worker_type!r}; expected {kit.worker_type!r}"
        )
    try:
        again = WorkerCapabilities.from_dict(caps.to_dict())
        json.dumps(caps.to_dict())
    except (ValueError, TypeError) as exc:
        raise CheckFailed(f"WorkerCapabilities does not validate again: {exc}") from None
    if again != caps:
        raise CheckFailed(
            f"WorkerCapabilities does not survive to_dict()/from_dict(): {describe(caps)}"
        )
    declared = [
        name
        for name in ("supports_checkpointing", "supports_self_play", "supports_population")
        if getattr(caps, name)
    ]
    return (
        f"{', '.join(caps.supported_paradigms)}; actions {', '.join(caps.action_spaces)}; "
        f"observations {', '.join(caps.observation_spaces)}; max_agents {caps.max_agents}"
        + (f"; {', '.join(declared)}" if declared else "")
    )
