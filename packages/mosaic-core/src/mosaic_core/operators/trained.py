"""What a run's operator was trained on: the environment ``mosaic eval`` makes for it when
given none, and the spaces outside which it is refused before any step.

A worker records them with :meth:`RunContext.record_spaces
<mosaic_core.RunContext.record_spaces>` (the manifest's ``trained_on``). The
check is made here, once, for every worker: an operator spec that names a run
(``cleanrl:RUN``, a run directory, or a checkpoint inside one) is compared
with the seat it would take, structurally (the kind of space, its shape or
number of actions; bounds and dtypes are left to the policy), and a mismatch
is a :class:`~mosaic_core.ConfigError` naming both spaces. Runs that recorded
no spaces (older ones) are not checked.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from mosaic_core._context import TRAINED_ON, RunContext
from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core._manifest import MANIFEST_FILENAME
from mosaic_core._operator import OperatorContext
from mosaic_core._spaces import describe_space

__all__ = ["check_fits", "check_seat", "env_for", "run_dir_of", "space_text", "trained_on"]

#: How far above a checkpoint (a file, or an RLlib directory) its run directory may be.
_LEVELS = 3


def run_dir_of(checkpoint: str | None) -> pathlib.Path | None:
    """The run directory an operator loads from: ``checkpoint`` itself, or the run whose
    directory holds that checkpoint file or directory; None outside any run."""
    if not checkpoint:
        return None
    path = pathlib.Path(checkpoint)
    for candidate in [path, *path.parents][: _LEVELS + 1]:
        if (candidate / MANIFEST_FILENAME).is_file():
            return candidate
    return None


def trained_on(checkpoint: str | None) -> dict[str, Any] | None:
    """The ``trained_on`` record of the run behind ``checkpoint``, if it has one."""
    run_dir = run_dir_of(checkpoint)
    if run_dir is None:
        return None
    try:
        return RunContext.open(run_dir).trained_on
    except MosaicError:
        return None  # an unreadable manifest: the worker's operator will say what is wrong


def env_for(specs: Sequence[Any]) -> tuple[str, str]:
    """``(env_id, spec text)``: the environment the specs' runs were trained on, for
    ``mosaic eval`` without ``--env``; a ConfigError when none says, or two disagree."""
    found: dict[str, str] = {}
    for spec in specs:
        env_id = _env_of(spec.checkpoint)
        if env_id is not None:
            found.setdefault(env_id, spec.text)
    if not found:
        raise ConfigError(
            "--env is required: no --operator names a run that recorded its environment "
            f"({', '.join(s.text for s in specs)})",
            field="--env",
            expected="--env ENV_ID",
        )
    if len(found) > 1:
        shown = "; ".join(f"{text} was trained on {env}" for env, text in found.items())
        raise ConfigError(
            f"--env is required: the operators' runs were trained on different environments "
            f"({shown})",
            field="--env",
            expected="--env ENV_ID",
        )
    ((env_id, text),) = found.items()
    return env_id, text


def _env_of(checkpoint: str | None) -> str | None:
    run_dir = run_dir_of(checkpoint)
    if run_dir is None:
        return None
    try:
        run = RunContext.open(run_dir)
    except MosaicError:
        return None
    record = run.trained_on or {}
    # Runs from before trained_on: the env_id their worker put in the manifest.
    env_id = record.get("env_id") if TRAINED_ON in run.metadata else run.metadata.get("env_id")
    return env_id if isinstance(env_id, str) and env_id else None


def check_seat(text: str, checkpoint: str | None, options: Mapping[str, Any],
               context: OperatorContext) -> None:  # fmt: skip
    """Refuse, with a ConfigError naming both, a seat whose spaces are not the ones the
    operator's run was trained on. Nothing is checked without spaces on either side."""
    record = trained_on(checkpoint)
    if record is None or context.observation_space is None or context.action_space is None:
        return
    trained = _trained_spaces(record, options.get("agent") or context.agent)
    if trained is None:
        return
    try:
        seat = (describe_space(context.observation_space), describe_space(context.action_space))
    except ValueError:
        return  # a space MOSAIC cannot describe: the operator is on its own
    if all(_structure(a) == _structure(b) for a, b in zip(trained, seat, strict=True)):
        return
    who = f"agent {context.agent!r} of " if context.agent else ""
    env = context.env_id or "this environment"
    was = f" ({record['env_id']})" if record.get("env_id") else ""
    raise ConfigError(
        f"operator {text!r} was trained on observations {space_text(trained[0])} and actions "
        f"{space_text(trained[1])}{was}, but {who}{env} has observations "
        f"{space_text(seat[0])} and actions {space_text(seat[1])}; evaluate it on an "
        "environment with the spaces it was trained on (without --env, mosaic eval uses "
        "its run's own)",
        field="--operator",
        value=text,
        expected=f"an environment with observations {space_text(trained[0])} and actions "
        f"{space_text(trained[1])}",
    )


def check_fits(env_id: str, specs: Sequence[Any]) -> None:
    """Before anything plays: every spec that names a run fits ``env_id``'s seats.

    The environment is made once here; when it cannot be made in this process
    (its packages live in a worker's environment), nothing is checked here and
    each operator's own build checks its seat.
    """
    from mosaic_core._arena import make_arena
    from mosaic_core._envspec import make_env

    wanted = [s for s in specs if trained_on(s.checkpoint) is not None]
    if not wanted:
        return
    try:
        arena = make_arena(make_env(env_id), env_id)
    except Exception:  # noqa: BLE001 - the evaluation itself reports an env it cannot make
        return
    try:
        for agent in arena.possible_agents or (None,):
            context = OperatorContext(
                action_space=arena.action_space(agent),
                observation_space=arena.observation_space(agent),
                agent=agent,
                env_id=env_id,
            )
            for spec in wanted:
                check_seat(spec.text, spec.checkpoint, spec.options, context)
    finally:
        arena.close()


def _trained_spaces(
    record: Mapping[str, Any], agent: str | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The (observation, action) descriptions for ``agent`` in a ``trained_on`` record."""
    agents = record.get("agents")
    if isinstance(agents, Mapping) and agents:
        if agent in agents:
            chosen = agents[agent]
        else:
            # Another seat than the team's own: fine when every trained agent is alike.
            alike = {
                repr((_structure(a.get("observation_space")), _structure(a.get("action_space"))))
                for a in agents.values()
                if isinstance(a, Mapping)
            }
            if len(alike) != 1:
                return None
            chosen = next(iter(agents.values()))
    else:
        chosen = record
    observation, action = chosen.get("observation_space"), chosen.get("action_space")
    if not isinstance(observation, Mapping) or not isinstance(action, Mapping):
        return None
    return dict(observation), dict(action)


def _structure(space: Any) -> Any:
    """What must match for a policy to take a space: its kind and shape, not its bounds."""
    if not isinstance(space, Mapping):
        return None
    kind = space.get("type")
    if kind == "Discrete":
        return (kind, space.get("n"), space.get("start", 0))
    if kind == "Box":
        return (kind, tuple(space.get("shape") or ()))
    if kind == "MultiDiscrete":
        return (kind, tuple(space.get("nvec") or ()))
    if kind == "MultiBinary":
        return (kind, tuple(space.get("n") or ()))
    if kind == "Dict":
        return (kind, tuple(sorted((k, _structure(v)) for k, v in space["spaces"].items())))
    if kind == "Tuple":
        return (kind, tuple(_structure(v) for v in space["spaces"]))
    return (kind,)


def space_text(space: Mapping[str, Any]) -> str:
    """A space description in a few words: ``Discrete(2)``, ``Box(4,) float32``."""
    kind = space.get("type")
    if kind == "Discrete":
        start = space.get("start", 0)
        return f"Discrete({space.get('n')}{f', start={start}' if start else ''})"
    if kind == "Box":
        shape = tuple(space.get("shape") or ())
        return f"Box{shape} {space.get('dtype', '')}".rstrip()
    if kind in ("MultiDiscrete", "MultiBinary"):
        return f"{kind}({list(space.get('nvec') or space.get('n') or [])})"
    if kind == "Dict":
        inner = ", ".join(f"{k}: {space_text(v)}" for k, v in space["spaces"].items())
        return f"Dict({inner})"
    if kind == "Tuple":
        return f"Tuple({', '.join(space_text(v) for v in space['spaces'])})"
    return str(kind)
