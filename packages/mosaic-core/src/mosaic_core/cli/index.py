"""Which module defines each built-in sub-command, known without importing any of them.

``mosaic run ...`` imports :mod:`mosaic_core.cli.runs` alone: not the other
command modules (plotting, environments, evaluation ...) nor any command
plugin, which only ``mosaic --help`` and commands not built in need. A test
checks this table against what each module registers.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "COMMAND_MODULES"]

#: Each built-in command -> the module whose ``register(commands)`` adds it, in the order
#: ``mosaic --help`` lists them.
COMMANDS: dict[str, str] = {
    "workers": "mosaic_core.cli.workers",
    "run": "mosaic_core.cli.runs",
    "logs": "mosaic_core.cli.runs",
    "events": "mosaic_core.cli.runs",
    "cancel": "mosaic_core.cli.runs",
    "rm": "mosaic_core.cli.runs",
    "db": "mosaic_core.cli.runs",
    "launchers": "mosaic_core.cli.launchers",
    "pull": "mosaic_core.cli.launchers",
    "runs": "mosaic_core.cli.results",
    "show": "mosaic_core.cli.results",
    "metrics": "mosaic_core.cli.results",
    "compare": "mosaic_core.cli.results",
    "group": "mosaic_core.cli.results",
    "plot": "mosaic_core.cli.plot",
    "tensorboard": "mosaic_core.cli.interop",
    "export": "mosaic_core.cli.interop",
    "config": "mosaic_core.cli.config",
    "env": "mosaic_core.cli.envs",
    "envs": "mosaic_core.cli.families",
    "check": "mosaic_core.cli.check",
    "new": "mosaic_core.cli.new",
    "migrate": "mosaic_core.cli.migrate",
    "eval": "mosaic_core.cli.eval",
}

#: The modules of the built-in sub-commands, in the order ``mosaic --help`` lists them;
#: each has ``register(commands)``. No command module imports another.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))
