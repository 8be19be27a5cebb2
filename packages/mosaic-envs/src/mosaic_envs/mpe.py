"""The multi-agent particle environments (``mpe2``, where PettingZoo's MPE moved in 1.25).

Where ``mpe2`` is not installed but PettingZoo before 1.25 is (the XuanCe
worker's environment pins 1.24.3), the same scenarios come from
``pettingzoo.mpe``.

Every agent moves at once (parallel); the scenarios whose agents only move
(five actions: none, left, right, down, up) have arrow keys, with "no
action" for a person who presses nothing. Scenarios whose actions also
speak (reference, speaker-listener, world comm, crypto) are played by
number.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mosaic_core import EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

__all__ = ["KEYS", "MPE", "mosaic_register_env_families", "parallel_env"]

KEYS = KeyMap(
    {"ArrowLeft": 1, "ArrowRight": 2, "ArrowDown": 3, "ArrowUp": 4},
    labels=("no action", "left", "right", "down", "up"),
    noop=0,
)
_SCENARIOS = (
    ("simple_v3", ("agent_0",), True, "one agent reaches a landmark"),
    ("simple_spread_v3", ("agent_0", "agent_1", "agent_2"), True,
     "three agents cover three landmarks without colliding"),
    ("simple_adversary_v3", ("adversary_0", "agent_0", "agent_1"), True,
     "two agents guard the target landmark from an adversary that does not know it"),
    ("simple_tag_v3", ("adversary_0", "adversary_1", "adversary_2", "agent_0"), True,
     "three slower predators chase a faster prey"),
    ("simple_push_v3", ("adversary_0", "agent_0"), True,
     "an adversary pushes the agent away from its landmark"),
    ("simple_reference_v3", ("agent_0", "agent_1"), False,
     "two agents tell each other which landmark to reach"),
    ("simple_speaker_listener_v4", ("speaker_0", "listener_0"), False,
     "a speaker that cannot move guides a listener that cannot see the goal"),
    ("simple_world_comm_v3",
     ("leadadversary_0", "adversary_0", "adversary_1", "adversary_2", "agent_0", "agent_1"),
     False, "predators led by a leader that sees through forests"),
    ("simple_crypto_v3", ("eve_0", "bob_0", "alice_0"), False,
     "alice sends bob a message that eve tries to read"),
)  # fmt: skip


def parallel_env(
    scenario: str,
    render_mode: str | None = None,
    max_cycles: int = 25,
    continuous_actions: bool = False,
) -> Any:
    """The parallel environment of ``scenario`` from ``mpe2``, else from ``pettingzoo.mpe``."""
    try:
        module = importlib.import_module(f"mpe2.{scenario}")
    except ModuleNotFoundError as exc:
        if exc.name != "mpe2":
            raise
        module = importlib.import_module(f"pettingzoo.mpe.{scenario}")
    return module.parallel_env(
        render_mode=render_mode, max_cycles=max_cycles, continuous_actions=continuous_actions
    )


MPE = EnvFamily(
    name="mpe",
    display_name="Multi-agent particle environments",
    description="Agents and landmarks on a plane: cooperative, competitive and talking "
    "scenarios (spread, adversary, tag, push, speaker-listener ...).",
    requirement="mosaic-envs[mpe]",
    # pettingzoo.mpe itself raises from 1.25 on, so a scenario module is what is looked up.
    modules=("mpe2|pettingzoo.mpe.simple_v3", "pygame"),
    tasks=tuple(
        EnvTask(
            id=scenario,
            env="mosaic_envs.mpe:parallel_env",
            kwargs={"scenario": scenario},
            agents=agents,
            stepping="parallel",
            key_map=KEYS if moves_only else None,
            description=description,
        )
        for scenario, agents, moves_only, description in _SCENARIOS
    ),
    prefixes=("simple_",),
    settings=(
        FamilySetting(name="max_cycles", default=25, description="steps per episode", minimum=1),
        FamilySetting(
            name="continuous_actions",
            default=False,
            description="forces as continuous vectors instead of five discrete moves "
            "(no keys then)",
        ),
    ),
    homepage="https://mpe2.farama.org/",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(MPE)
