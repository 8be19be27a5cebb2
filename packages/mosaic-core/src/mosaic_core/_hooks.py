"""The hooks a MOSAIC plugin may implement (pluggy project name ``mosaic``).

Hooks take a ``register`` callback instead of returning values, so a hook
can gain arguments in a later release without breaking old plugins: pluggy
passes an implementation only the arguments it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import argparse

    from mosaic_core._families import EnvFamily
    from mosaic_core._spec import WorkerSpec

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "mosaic"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorate a plugin module's hook functions with this.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def mosaic_register_workers(register: Callable[[WorkerSpec], None]) -> None:
    """Register the workers this plugin provides, each by ``register(WorkerSpec(...))``.

    Called once per discovery. Import nothing heavy here (torch, ray, the
    upstream RL library): they belong in the runtime factory, which runs
    only when a run starts.
    """


@hookspec
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    """Register the environment families this plugin provides, each by
    ``register(EnvFamily(...))``.

    Called once per discovery of entry-point group ``mosaic.env_families``.
    Declare; do not import the environments' library here: a family lists
    its tasks, and makes an environment, only when asked.
    """


@hookspec
def mosaic_register_commands(register: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``mosaic`` sub-commands, each by ``parser = register(NAME, help=...)``.

    ``register`` takes what argparse's ``add_parser`` takes and returns the
    sub-command's parser: add its options, then ``parser.set_defaults(func=run)``
    where ``run(args) -> int`` returns the exit status (raise a MosaicError for a
    one-line error). Entry-point group ``mosaic.commands``; a plugin that fails
    to load, or names a command that exists, is left out and reported, and every
    other command still works. Keep the module light: import the command's
    dependencies inside ``run``.
    """


@hookspec
def mosaic_register_launchers(register: Callable[[Any], None]) -> None:
    """Register the launchers this plugin provides, each by ``register(LauncherSpec(...))``
    (``mosaic_core.runs.launchers.LauncherSpec``: a launcher belongs to the host, which
    runs workers, so its types live there and not in the SDK).

    Called once per discovery of entry-point group ``mosaic.launchers``. Import nothing
    heavy here (a cluster's client library): the launcher's factory runs only when a
    run uses it.
    """
