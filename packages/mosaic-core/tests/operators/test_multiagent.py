"""PettingZoo parallel and AEC environments, one operator per agent, in process and over pipes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("gymnasium")
classic = pytest.importorskip("pettingzoo.classic")

from mosaic_core._operator import action_mask_of  # noqa: E402
from mosaic_core.operators import InteractiveServer  # noqa: E402

ROCK, PAPER = 0, 1


class Scripted:
    """Picks ``choose(legal actions)``; records each call so turns can be checked."""

    def __init__(self, name: str, choose: Any) -> None:
        self.name = name
        self.choose = choose
        self.calls: list[Any] = []
        self.seeds: list[int | None] = []

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)

    def select_action(self, observation: Any, info: Any) -> Any:
        mask = action_mask_of(observation, info)
        self.calls.append(None if mask is None else [int(m) for m in mask])
        return self.choose([] if mask is None else [i for i, m in enumerate(mask) if m])

    def close(self) -> None:
        pass


class PipeClient:
    """Talks to an InteractiveServer serving on a pair of real pipes, from a thread."""

    def __init__(self, server: InteractiveServer) -> None:
        to_server_r, self._to_server = os.pipe()
        self._from_server, from_server_w = os.pipe()
        self._thread = threading.Thread(
            target=server.serve, args=(to_server_r, from_server_w), kwargs={"linger": 0.1}
        )
        self._thread.start()
        self._fds = (to_server_r, from_server_w)
        self._lines = os.fdopen(self._from_server, "r")
        self._next = 0

    def call(self, cmd: str, **fields: Any) -> list[dict[str, Any]]:
        self._next += 1
        os.write(
            self._to_server, (json.dumps({"cmd": cmd, "id": self._next, **fields}) + "\n").encode()
        )
        responses = [json.loads(self._lines.readline())]
        if responses[0].get("episode_done"):
            responses.append(json.loads(self._lines.readline()))
        assert all(r["id"] == self._next for r in responses)
        return responses

    def close(self) -> None:
        os.close(self._to_server)
        self._thread.join(timeout=10)
        self._lines.close()
        for fd in self._fds:
            os.close(fd)


@pytest.fixture
def pipes() -> Iterator[Any]:
    made: list[PipeClient] = []

    def start(server: InteractiveServer) -> PipeClient:
        made.append(PipeClient(server))
        return made[-1]

    yield start
    for client in made:
        client.close()


def test_parallel_env_asks_each_agent_its_own_operator(pipes: Any) -> None:
    rock, paper = Scripted("rock", lambda legal: ROCK), Scripted("paper", lambda legal: PAPER)
    env = classic.rps_v2.parallel_env(max_cycles=3)
    client = pipes(InteractiveServer({"player_0": rock, "player_1": paper}, env, render="none"))
    ready = client.call("reset", seed=4)[0]
    assert ready["agents"] == ["player_0", "player_1"] and ready["env_id"] == "rps_v2"
    steps = [client.call("step") for _ in range(3)]
    first = steps[0][0]
    assert first["action"] == {"player_0": ROCK, "player_1": PAPER}
    assert first["reward"] == {"player_0": -1.0, "player_1": 1.0}
    assert first["episode_reward"] == {"player_0": -1.0, "player_1": 1.0}
    last, end = steps[-1]
    assert last["truncated"] == {"player_0": True, "player_1": True}
    assert end["type"] == "episode_end" and end["episode_length"] == 3
    assert end["total_reward"] == {"player_0": -3.0, "player_1": 3.0}
    assert len(rock.calls) == len(paper.calls) == 3
    assert rock.seeds == paper.seeds == [4, 5]


def test_parallel_env_takes_given_actions_for_some_agents(pipes: Any) -> None:
    rock, paper = Scripted("rock", lambda legal: ROCK), Scripted("paper", lambda legal: PAPER)
    env = classic.rps_v2.parallel_env(max_cycles=3)
    client = pipes(InteractiveServer({"player_0": rock, "player_1": paper}, env, render="none"))
    client.call("reset", seed=0)
    step = client.call("step", action={"player_0": 2})[0]  # scissors beats paper
    assert step["action"] == {"player_0": 2, "player_1": PAPER}
    assert step["reward"] == {"player_0": 1.0, "player_1": -1.0}
    assert rock.calls == [] and len(paper.calls) == 1
    error = client.call("step", action=2)[0]
    assert error["type"] == "error" and "must map agent ids to actions" in error["message"]


def test_aec_env_asks_only_the_agent_whose_turn_it_is_with_its_mask(pipes: Any) -> None:
    first = Scripted("first", lambda legal: legal[0])
    last = Scripted("last", lambda legal: legal[-1])
    env = classic.tictactoe_v3.env()
    client = pipes(InteractiveServer({"player_1": first, "player_2": last}, env, render="none"))
    client.call("reset", seed=0)
    responses = []
    while not responses or len(responses[-1]) == 1:
        responses.append(client.call("step"))
    agents = [r[0]["agent"] for r in responses]
    assert agents == ["player_1", "player_2", "player_1", "player_2", "player_1"]
    assert [r[0]["action"] for r in responses] == [0, 8, 1, 7, 2]  # player_1 takes 0, 1, 2
    assert first.calls[0] == [1] * 9 and first.calls[1] == [0, 1, 1, 1, 1, 1, 1, 1, 0]
    assert len(first.calls) == 3 and len(last.calls) == 2
    end = responses[-1][1]
    assert end["total_reward"] == {"player_1": 1.0, "player_2": -1.0}
    assert end["episode_length"] == 5
    assert end["terminated"] == {"player_1": True, "player_2": True}


def test_answers_say_whose_turn_comes_and_its_legal_moves(pipes: Any) -> None:
    first = Scripted("first", lambda legal: legal[0])
    last = Scripted("last", lambda legal: legal[-1])
    env = classic.tictactoe_v3.env()
    client = pipes(InteractiveServer({"player_1": first, "player_2": last}, env, render="none"))
    ready = client.call("reset", seed=0)[0]
    assert ready["to_act"] == ["player_1"] and ready["legal"] == {"player_1": list(range(9))}
    step = client.call("step")[0]
    assert step["agent"] == "player_1" and step["action"] == 0
    assert step["to_act"] == ["player_2"] and step["legal"] == {"player_2": list(range(1, 9))}
    while True:
        answers = client.call("step")
        if len(answers) == 2:
            break
    # The episode ended and the next began by itself: the answer names its first turn.
    assert answers[0]["to_act"] == ["player_1"]
    assert answers[0]["legal"] == {"player_1": list(range(9))}


def test_select_action_is_answered_by_the_named_agents_operator(pipes: Any) -> None:
    first = Scripted("first", lambda legal: legal[0])
    last = Scripted("last", lambda legal: legal[-1])
    env = classic.tictactoe_v3.env()
    client = pipes(InteractiveServer({"player_1": first, "player_2": last}, env, render="none"))
    client.call("reset", seed=0)
    board = [[[0, 0]] * 3] * 3
    mask = [0, 1, 1, 0, 1, 0, 0, 0, 0]
    answer = client.call("select_action", observation=board, action_mask=mask, agent="player_2")
    assert answer[0] == {"type": "action_selected", "action": 4, "agent": "player_2", "id": 2}
    assert client.call("select_action", observation=board, action_mask=mask, agent="player_1")[
        0
    ]["action"] == 1  # fmt: skip
    nameless = client.call("select_action", observation=board)[0]
    assert nameless["type"] == "error" and "name the agent" in nameless["message"]


def test_per_agent_specs_over_a_real_operator_process(spawn: Any) -> None:
    client = spawn(
        ["player_0=random", "player_1=random"], "pettingzoo.classic.rps_v2:parallel_env",
        render="none",
    )  # fmt: skip
    ready = client.reset(9)
    assert ready["agents"] == ["player_0", "player_1"]
    responses = list(client.steps(15))
    end = responses[-1]["episode_end"]
    assert end["episode_length"] == 15 and end["seed"] == 9
    assert sum(end["total_reward"].values()) == 0.0  # zero-sum
    actions = [tuple(r["action"].values()) for r in responses]
    assert len(set(actions)) > 1 and any(a != b for a, b in actions)  # two streams, not one


def test_an_agent_without_an_operator_is_a_clear_error(spawn: Any) -> None:
    from mosaic_core.operators import OperatorDied

    client = spawn(["player_0=random"], "pettingzoo.classic.rps_v2:parallel_env")
    with pytest.raises(OperatorDied, match="no operator for player_1"):
        client.reset(0)
