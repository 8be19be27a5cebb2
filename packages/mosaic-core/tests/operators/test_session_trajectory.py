"""Same seeds, same episodes: a session's answers pinned against a recorded trajectory.

``session_trajectories.json`` holds what sessions answered, step by step
(the ``ready``, ``step`` and ``episode_end`` records and what each acting
agent observes next), for CartPole with the random operator, a PettingZoo
parallel game and an AEC game whose first player keeps choosing an illegal
move (so the seeded fallback is pinned too), with given actions and a reset
in the middle. Any change to the episode loop must leave every record equal.

The recording depends on Gymnasium's, PettingZoo's and numpy's random
streams; the file names the versions it was made with. Only when one of
those changes its streams is it rewritten, with
``python tests/operators/test_session_trajectory.py``, and then only after
the contract test below, which needs no recording, passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

gym = pytest.importorskip("gymnasium")
np = pytest.importorskip("numpy")

from mosaic_core import OperatorContext  # noqa: E402
from mosaic_core._jsonable import jsonable  # noqa: E402
from mosaic_core.operators import RandomOperator, Session, make_arena, make_env  # noqa: E402

RECORDING = Path(__file__).with_name("session_trajectories.json")


class Stubborn:
    """Always plays action 0, legal or not: the session must replace it from the seeded stream."""

    def reset(self, seed: int | None = None) -> None:
        pass

    def select_action(self, observation: Any, info: Any) -> Any:
        return 0

    def close(self) -> None:
        pass


def _session(env_id: str, stubborn: tuple[str, ...] = ()) -> Session:
    arena = make_arena(make_env(env_id), env_id)
    operators: dict[str | None, Any] = {}
    for agent in arena.possible_agents or (None,):
        context = OperatorContext.for_seat(arena, agent, env_id)
        operators[agent] = Stubborn() if agent in stubborn else RandomOperator(context)
    return Session(arena, operators)


def _observed(session: Session) -> dict[str, Any]:
    arena = session.arena
    assert arena is not None
    return {str(a): jsonable(arena.observation(a)) for a in arena.to_act()}


def _play(session: Session, script: list[Any]) -> list[Any]:
    """Drive ``session`` by ``script``: ("reset", seed), ("step", action) or ("step",)."""
    answers: list[Any] = []
    for entry in script:
        if entry[0] == "reset":
            answers.append({"ready": session.reset(entry[1]), "observed": _observed(session)})
            continue
        record, end = session.step(*entry[1:])
        answers.append({"step": record, "end": end, "observed": _observed(session)})
    session.close()
    return json.loads(json.dumps(answers))  # tuples as lists, as the recording holds them


def _script(seed: int, steps: int, given: Callable[[int], Any], again: int) -> list[Any]:
    script: list[Any] = [("reset", seed)]
    for i in range(steps):
        if i == steps // 2:
            script.append(("reset", again))
        action = given(i)
        script.append(("step",) if action is None else ("step", action))
    return script


SCENARIOS: dict[str, tuple[Callable[[], Session], list[Any]]] = {
    "cartpole-random": (
        lambda: _session("CartPole-v1"),
        _script(7, 160, lambda i: i % 2 if i % 17 == 5 else None, again=3),
    ),
    "rps-parallel-random": (
        lambda: _session("pettingzoo.classic.rps_v2:parallel_env"),
        _script(9, 60, lambda i: {"player_0": 2} if i % 11 == 4 else None, again=1),
    ),
    "tictactoe-aec-stubborn": (
        lambda: _session("pettingzoo.classic.tictactoe_v3:env", stubborn=("player_1",)),
        _script(2, 60, lambda i: None, again=5),
    ),
}


def _versions() -> dict[str, str]:
    import pettingzoo

    return {
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
        "pettingzoo": pettingzoo.__version__,
    }


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_session_answers_exactly_as_recorded(name: str) -> None:
    pytest.importorskip("pettingzoo.classic")
    recorded = json.loads(RECORDING.read_text())
    make, script = SCENARIOS[name]
    answers = _play(make(), script)
    expected = recorded["scenarios"][name]
    assert len(answers) == len(expected)
    for i, (got, want) in enumerate(zip(answers, expected, strict=True)):
        assert got == want, f"{name}: answer {i} differs from the recording {recorded['versions']}"


def test_cartpole_sessions_follow_the_seeding_contract() -> None:
    """After ``reset(S)`` episode k is the environment reset with ``S + k`` and the random
    operator's space seeded with ``S + k``: a plain Gymnasium loop doing exactly that
    plays the same actions, rewards and observations."""
    session = _session("CartPole-v1")
    session.reset(11)
    env = gym.make("CartPole-v1")
    space = env.action_space
    episode = 0
    space.seed(11)
    observation, _ = env.reset(seed=11)
    ends = 0
    for _ in range(400):
        assert session.arena is not None
        assert session.arena.observation(None).tolist() == observation.tolist()
        action = space.sample()
        observation, reward, terminated, truncated, _ = env.step(action)
        record, end = session.step()
        assert (record["action"], record["reward"]) == (int(action), float(reward))
        assert (record["terminated"], record["truncated"]) == (terminated, truncated)
        if terminated or truncated:
            assert end is not None and end["seed"] == 11 + episode
            episode += 1
            ends += 1
            space.seed(11 + episode)
            observation, _ = env.reset(seed=11 + episode)
        else:
            assert end is None
    assert ends >= 10  # CartPole's random episodes are short: many resets were compared
    session.close()
    env.close()


if __name__ == "__main__":  # rewrite the recording (see the module's docstring)
    lines = [f'{{"versions": {json.dumps(_versions())}, "scenarios": {{']
    for n, (make, script) in SCENARIOS.items():
        answers = ",\n".join(json.dumps(a, separators=(",", ":")) for a in _play(make(), script))
        lines.append(f"{json.dumps(n)}: [\n{answers}\n],")
    lines[-1] = lines[-1].rstrip(",")
    RECORDING.write_text("\n".join(lines) + "\n}}\n")
