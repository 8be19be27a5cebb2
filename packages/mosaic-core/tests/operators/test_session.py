"""The episode loop in process: seeds, legal actions, the built-in operators."""

from __future__ import annotations

import copy
import io
import os
import sys
from typing import Any

import pytest

gym = pytest.importorskip("gymnasium")
np = pytest.importorskip("numpy")

from mosaic_core import MosaicError, Operator, OperatorContext, ProtocolError  # noqa: E402
from mosaic_core.operators import (  # noqa: E402  # noqa: E402
    HumanOperator,
    RandomOperator,
    Session,
    SessionError,
    make_arena,
    make_env,
)
from mosaic_core.operators.builtin import BATCH  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from mosaictest_envs import CountingEnv  # noqa: E402

sys.path.pop(0)


class Fixed:
    """Plays one action, whatever it is; remembers what it was told."""

    def __init__(self, action: Any) -> None:
        self.action = action
        self.seeds: list[int | None] = []
        self.infos: list[Any] = []
        self.closed = False

    def reset(self, seed: int | None = None) -> None:
        self.seeds.append(seed)

    def select_action(self, observation: Any, info: Any) -> Any:
        self.infos.append(info)
        return self.action

    def close(self) -> None:
        self.closed = True


def _session(operator: Any = None, env: Any = None) -> Session:
    arena = make_arena(env or CountingEnv(), "counting")
    if operator is None:
        operator = RandomOperator(OperatorContext(action_space=arena.action_space(None)))
    return Session(arena, {None: operator})


def _actions(session: Session, steps: int) -> list[Any]:
    return [session.step()[0]["action"] for _ in range(steps)]


def test_fixed_and_random_operators_are_operators() -> None:
    space = gym.spaces.Discrete(2)
    assert isinstance(Fixed(0), Operator)
    assert isinstance(RandomOperator(OperatorContext(action_space=space)), Operator)
    assert not isinstance(object(), Operator)


def test_the_same_seed_gives_the_same_episodes_and_actions() -> None:
    first, second, other = _session(), _session(), _session()
    first.reset(5), second.reset(5), other.reset(6)
    assert _actions(first, 40) == _actions(second, 40) != _actions(other, 40)


def test_episode_k_after_reset_with_seed_s_is_seeded_s_plus_k() -> None:
    operator = Fixed(1)
    session = _session(operator)
    session.reset(10)
    ends = [end for _ in range(15) if (end := session.step()[1])]
    assert [e["seed"] for e in ends] == [10, 11, 12]
    assert [e["episode"] for e in ends] == [0, 1, 2]
    assert operator.seeds == [10, 11, 12, 13]
    fresh = _session(Fixed(1))
    fresh.reset(13)  # the episode the session is in now
    assert fresh.arena is not None and session.arena is not None
    assert fresh.arena.observation(None).tolist() == session.arena.observation(None).tolist()


def test_an_unseeded_reset_stays_unseeded() -> None:
    session = _session(Fixed(0))
    assert session.reset(None)["seed"] is None
    ends = [end for _ in range(10) if (end := session.step()[1])]
    assert [e["seed"] for e in ends] == [None, None]


def test_an_illegal_operator_action_is_counted_and_replaced_by_a_legal_one() -> None:
    session = _session(Fixed(99))
    session.reset(0)
    records = [session.step() for _ in range(5)]
    assert all(r["invalid_action"] is True for r, _ in records)
    assert all(r["action"] in (0, 1, 2) for r, _ in records)
    end = records[-1][1]
    assert end is not None and end["invalid_actions"] == 5
    legal = _session(Fixed(np.int64(2)))
    legal.reset(0)
    record, _ = legal.step()
    assert record["action"] == 2 and "invalid_action" not in record


def test_a_given_illegal_action_is_refused_and_nothing_steps() -> None:
    session = _session(Fixed(0))
    session.reset(0)
    with pytest.raises(SessionError, match=r"action 3 is not legal .*Discrete\(3\)"):
        session.step(3)
    assert session.step(2)[0] == pytest.approx(
        {
            "step_index": 0, "action": 2, "reward": 2.0, "terminated": False,
            "truncated": False, "episode_reward": 2.0, "episode_done": False, "render": None,
        }
    )  # fmt: skip


class MaskedEnv(CountingEnv):
    """Action 0 is never legal: on even steps the observation (a dict) carries the mask
    ``[0, 1, 1]``, on odd steps the info carries ``[0, 1, 0]``."""

    def _obs(self) -> Any:
        observation: dict[str, Any] = {"t": self.t}
        if self.t % 2 == 0:
            observation["action_mask"] = np.array([0, 1, 1], dtype=np.int8)
        return observation

    def _info(self) -> dict[str, Any]:
        return {} if self.t % 2 == 0 else {"action_mask": np.array([0, 1, 0], dtype=np.int8)}

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        assert action != 0 and (self.t % 2 == 0 or action != 2), (self.t, action)
        self.t += 1
        return self._obs(), float(action), self.t >= self.length, False, self._info()


def test_a_single_agent_mask_from_the_observation_or_the_info_rules_every_step() -> None:
    operator = Fixed(0)  # always masked out: replaced, counted
    session = _session(operator, env=MaskedEnv())
    legal = [session.reset(3)["legal"]]
    records = [session.step()[0] for _ in range(4)]
    legal += [r["legal"] for r in records]
    assert legal == [[1, 2], [1], [1, 2], [1], [1, 2]]
    assert all(r["invalid_action"] is True for r in records)
    assert all(r["action"] in allowed for r, allowed in zip(records, legal, strict=False))
    masks = [info["action_mask"].tolist() for info in operator.infos]
    assert masks == [[0, 1, 1], [0, 1, 0], [0, 1, 1], [0, 1, 0]]
    with pytest.raises(SessionError, match=r"not legal .* with the current action mask"):
        session.step(0)
    record, end = session.step(2)  # the episode's last step; the next one starts masked
    assert end is not None and end["invalid_actions"] == 4 and record["legal"] == [1, 2]
    with pytest.raises(SessionError, match=r"not legal .* with the current action mask"):
        session.step(0)
    fair = _session(env=MaskedEnv())  # the random operator keeps to the mask
    legal = [fair.reset(5)["legal"]]
    for _ in range(12):
        record, end = fair.step()
        assert record["action"] in legal[-1] and "invalid_action" not in record
        legal.append(fair.upcoming()["legal"])
        assert end is None or end["invalid_actions"] == 0


def test_select_action_converts_the_observation_to_the_space() -> None:
    operator = Fixed(1)
    session = _session(operator)
    session.reset(0)
    assert session.select_action([3, 4], {"x": 1}, action_mask=[0, 1, 0]) == 1
    assert operator.infos[-1] == {"x": 1, "action_mask": [0, 1, 0]}
    with pytest.raises(SessionError, match="observation"):
        session.select_action([1, 2, 3])


def test_close_closes_every_operator_once() -> None:
    operator = Fixed(0)
    session = _session(operator)
    session.close()
    session.close()
    assert operator.closed


def test_random_operator_needs_an_action_space() -> None:
    with pytest.raises(MosaicError, match="needs the action space"):
        RandomOperator(OperatorContext())


def test_random_operator_respects_the_action_mask() -> None:
    operator = RandomOperator(OperatorContext(action_space=gym.spaces.Discrete(5)))
    operator.reset(0)
    picks = {operator.select_action(None, {"action_mask": np.array([0, 1, 0, 1, 0])})}
    picks |= {operator.select_action(None, {"action_mask": [0, 1, 0, 1, 0]}) for _ in range(30)}
    assert picks == {1, 3}


@pytest.mark.parametrize(
    "space",
    [
        gym.spaces.Discrete(7),
        gym.spaces.Discrete(5, start=-2),
        gym.spaces.Discrete(4, dtype=np.int32),
        gym.spaces.Discrete(6, dtype=np.int8),
        gym.spaces.Discrete(1),
        gym.spaces.Discrete(2**40),
    ],
    ids=["plain", "start", "int32", "int8", "one", "wide"],
)
def test_random_operator_draws_what_the_space_would_draw(space: Any) -> None:
    """Its unmasked Discrete picks skip ``sample()``'s checks and come a batch at a time:
    the same numbers and type, across batches and reseeds."""
    operator = RandomOperator(OperatorContext(action_space=space))
    reference = copy.deepcopy(space)
    steps = 2 * BATCH + 10
    for seed in (0, 3):
        operator.reset(seed)
        reference.seed(seed)
        drawn = [operator.select_action(np.zeros(2), {}) for _ in range(steps)]
        expected = [reference.sample() for _ in range(steps)]
        assert drawn == expected
        assert {type(a) for a in drawn} == {type(e) for e in expected}


def test_random_operator_draws_as_the_space_between_masked_and_listed_picks() -> None:
    """A masked pick, or one from a list of legal actions, in the middle of a batch draws
    from the generator where the unmasked picks before it left it, as ``sample()`` would:
    in the first batch after a seeded reset (rewound to the seed), after a masked first
    pick (rewound to the state), in a later batch, in an unseeded stream, and in every
    episode after one that mixed them."""
    space = gym.spaces.Discrete(5)
    operator = RandomOperator(OperatorContext(action_space=space))
    reference = copy.deepcopy(space)
    mask = np.array([1, 0, 1, 1, 0], dtype=np.int8)
    legal = ["north", "south", "wait"]
    episodes: list[tuple[int | None, dict[int, str]]] = [
        (7, {30: "masked", 31: "listed", 90: "masked"}),
        (8, {0: "masked", 20: "listed"}),
        (9, {BATCH + 44: "masked", BATCH + 60: "listed", BATCH + 61: "listed"}),
        (None, {BATCH + 44: "listed", BATCH + 90: "masked"}),
    ]
    drawn, expected = [], []
    for seed, switches in episodes:
        operator.reset(seed)
        reference.seed(seed)
        if seed is None:  # an unseeded stream: the reference follows the operator's
            reference.np_random.bit_generator.state = operator._space.np_random.bit_generator.state
        for step in range(2 * BATCH):
            kind = switches.get(step)
            if kind == "masked":
                drawn.append(operator.select_action(None, {"action_mask": mask}))
                expected.append(reference.sample(mask=mask))
            elif kind == "listed":
                drawn.append(operator.select_action(None, {"legal_actions": legal}))
                expected.append(legal[int(reference.np_random.integers(len(legal)))])
            else:
                drawn.append(operator.select_action(None, {}))
                expected.append(reference.sample())
    assert drawn == expected
    assert {type(a) for a in drawn} == {type(e) for e in expected}


def test_random_operator_unseeded_after_seeded_does_not_replay_the_seeded_stream() -> None:
    space = gym.spaces.Discrete(1000)
    operator = RandomOperator(OperatorContext(action_space=space))

    def draws() -> list[Any]:
        return [operator.select_action(None, {}) for _ in range(20)]

    operator.reset(1)
    seeded = draws()
    operator.reset(None)  # fresh entropy, not the seeded stream going on
    reference = copy.deepcopy(space)
    reference.seed(1)
    [reference.sample() for _ in range(20)]
    assert draws() != [reference.sample() for _ in range(20)]
    operator.reset(None)  # unseeded already: its stream goes on, still not the seeded one
    other = RandomOperator(OperatorContext(action_space=space))
    other.reset(None)
    assert draws() != [other.select_action(None, {}) for _ in range(20)]
    operator.reset(1)
    assert draws() == seeded


def _human(text: str, space: Any = None, **context: Any) -> tuple[HumanOperator, io.StringIO]:
    out = io.StringIO()
    space = space if space is not None else gym.spaces.Discrete(3)
    operator = HumanOperator(
        OperatorContext(action_space=space, **context), input=io.StringIO(text), output=out
    )
    return operator, out


def test_human_operator_reads_numbers_and_names_and_asks_again_on_nonsense() -> None:
    operator, out = _human(
        "banana\n7\nright\n2\n", action_meanings=("NOOP", "LEFT", "RIGHT"), agent="p1"
    )
    assert operator.select_action(None, {}) == 2
    prompts = out.getvalue()
    assert "action for p1 [0=NOOP 1=LEFT 2=RIGHT; r=random]" in prompts
    assert "'banana' is not an action number or name" in prompts
    assert "7 is not a legal action now" in prompts
    operator, out = _human("2\n1\n")
    assert operator.select_action(None, {"action_mask": [1, 1, 0]}) == 1
    assert "action [0 1; r=random]" in out.getvalue()


def test_human_operator_reads_vectors_and_picks_at_random_on_r() -> None:
    box = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    operator, _ = _human("0.5 -0.25\nr\n", space=box)
    assert operator.select_action(None, {}).tolist() == [0.5, -0.25]
    assert box.contains(operator.select_action(None, {}))


def test_human_operator_says_so_when_the_terminal_closes() -> None:
    operator, _ = _human("")
    with pytest.raises(ProtocolError, match="the terminal closed"):
        operator.select_action(None, {})


def test_make_env_gives_clear_errors() -> None:
    with pytest.raises(MosaicError, match="NoSuchEnv-v0"):
        make_env("NoSuchEnv-v0")
    with pytest.raises(MosaicError, match="mosaic_core has no callable 'nope'"):
        make_env("mosaic_core:nope")


class Talking(Fixed):
    """An operator that keeps what it said and heard, as an LLM's does."""

    def select_action(self, observation: Any, info: Any) -> Any:
        self.last_exchange = {"prompt": f"observation {observation!r}", "reply": "go"}
        return super().select_action(observation, info)


def test_an_operators_last_exchange_comes_with_its_step() -> None:
    session = _session(Talking(1))
    session.reset(0)
    record, _ = session.step()
    assert record["exchange"]["reply"] == "go" and "observation" in record["exchange"]["prompt"]
    given, _ = session.step(2)  # a given action asks no operator: no exchange
    assert "exchange" not in given
    quiet = _session(Fixed(1))
    quiet.reset(0)
    assert "exchange" not in quiet.step()[0]


@pytest.mark.parametrize(
    ("action", "mask", "legal"),
    [
        (1, None, True),
        (np.int64(3), None, True),
        (np.uint8(2), None, True),
        (np.array(2), None, True),
        (0, None, False),  # below start
        (np.int64(4), None, False),  # past the end
        (True, None, False),
        (np.bool_(True), None, False),
        (2.0, None, False),
        (np.float32(2), None, False),
        (np.array([2]), None, False),
        ("2", None, False),
        (2, [1, 0, 1], False),  # masked out
        (np.int64(3), np.array([1, 0, 1]), True),
    ],
)
def test_legality_of_a_discrete_action(action: Any, mask: Any, legal: bool) -> None:
    from mosaic_core._arena import legality

    assert legality(gym.spaces.Discrete(3, start=1))(action, mask) is legal


def test_legality_outside_discrete_asks_the_space() -> None:
    from mosaic_core._arena import legality

    box = legality(gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32))
    assert box(np.array([0.5, -0.5], dtype=np.float32), None)
    assert not box(np.array([2.0, 0.0], dtype=np.float32), None)
    assert not box("nonsense", None)  # a malformed action is simply not legal
    multi = legality(gym.spaces.MultiDiscrete([2, 3]))
    assert multi(np.array([1, 2]), None) and not multi(np.array([2, 0]), None)


@pytest.mark.parametrize(
    "value",
    [
        np.int8(-3),
        np.int64(2**62),
        np.uint64(2**64 - 1),
        np.bool_(True),
        np.float16(0.1),
        np.float32(0.1),
        np.longdouble(0.1),
        np.complex64(1 + 2j),
        np.array(7),
        np.array(0.25, dtype=np.float32),
    ],
)
def test_jsonable_numpy_scalars_are_what_item_gives(value: Any) -> None:
    from mosaic_core._jsonable import jsonable

    for _ in range(2):  # the first sight of a type and the remembered one
        plain = jsonable(value)
        assert plain == value.item() and type(plain) is type(value.item())
