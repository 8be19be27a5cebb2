"""An operator of a run: evaluated on the environment its run was trained on when ``--env`` is
omitted, refused before any step on an environment with other spaces, named by a checkpoint
file as well as by its run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

gymnasium = pytest.importorskip("gymnasium")

from mosaic_core import ConfigError, OperatorContext, RunContext  # noqa: E402
from mosaic_core.cli.app import main  # noqa: E402
from mosaic_core.operators import build_operator, parse_operator_spec  # noqa: E402
from mosaic_core.operators.trained import check_seat, env_for, run_dir_of  # noqa: E402
from mosaic_core.runs import RunStore  # noqa: E402

RUN = "01TRAINEDRUN00000000000000"
CARTPOLE = gymnasium.make("CartPole-v1")
ACROBOT = gymnasium.make("Acrobot-v1")


def _run(env: Any, env_id: str | None, run_id: str = RUN, **agents: Any) -> Path:
    """A finished optoy run, its manifest written by the SDK's RunContext as a worker
    writes it, with the spaces of ``env`` (or of each agent's env)."""
    with RunStore() as store:
        run_dir = store.create_run(run_id, "optoy", {"env_id": env_id or "?"})
        store.update(run_id, status="completed")
    (run_dir / "policy.json").write_text(json.dumps({"action": 1}))
    (run_dir / "checkpoints" / "final.json").write_text("{}")
    context = RunContext(run_id=run_id, run_dir=run_dir, worker_type="optoy", worker_version="0")
    context.record_checkpoint("checkpoints/final.json", step=1, format="json")
    if agents:
        for agent, agent_env in agents.items():
            context.record_spaces(
                agent_env.observation_space, agent_env.action_space, agent=agent, env_id=env_id
            )
    else:
        context.record_spaces(env.observation_space, env.action_space, env_id=env_id)
    return run_dir


def _eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["eval", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def _eval_runs() -> list[str]:
    with RunStore() as store:
        return [r["run_id"] for r in store.list_runs() if r["worker_type"] == "eval"]


def test_record_spaces_writes_the_manifest_at_once(op_env: Any) -> None:
    run_dir = _run(CARTPOLE, "CartPole-v1")
    record = RunContext.open(run_dir).trained_on
    assert record is not None and record["env_id"] == "CartPole-v1"
    assert record["observation_space"]["shape"] == [4]
    assert record["action_space"] == {"type": "Discrete", "n": 2, "start": 0}


def test_without_env_the_run_s_own_environment_is_played(
    op_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(CARTPOLE, "CartPole-v1")
    code, report, _ = _eval(capsys, "--operator", f"optoy:{RUN}", "--operator", "random",
                            "--episodes", "2")  # fmt: skip
    assert code == 0
    assert report["env_id"] == "CartPole-v1"
    assert [r["episodes"] for r in report["operators"]] == [2, 2]
    main(["eval", "--operator", RUN, "--episodes", "1"])
    assert f"on CartPole-v1 (the environment {RUN} was trained on)" in capsys.readouterr().err


def test_other_spaces_are_a_config_error_naming_both_before_any_run(
    op_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(CARTPOLE, "CartPole-v1")
    code, report, err = _eval(capsys, "--env", "Acrobot-v1", "--operator", f"optoy:{RUN}")
    assert code == 2 and report == {}
    assert (
        f"operator 'optoy:{RUN}' was trained on observations Box(4,) float32 and actions "
        "Discrete(2) (CartPole-v1), but Acrobot-v1 has observations Box(6,) float32 and "
        "actions Discrete(3)"
    ) in err
    assert "Traceback" not in err
    assert _eval_runs() == []  # refused before the evaluation was made a run


def test_bounds_and_dtypes_do_not_make_a_mismatch(op_env: Any) -> None:
    run_dir = _run(CARTPOLE, "CartPole-v1")
    wider = gymnasium.spaces.Box(-10.0, 10.0, shape=(4,), dtype="float64")
    context = OperatorContext(observation_space=wider, action_space=CARTPOLE.action_space)
    check_seat("optoy:x", str(run_dir), {}, context)  # no error: same kinds and shapes


def test_the_seat_is_checked_when_the_operator_is_built(op_env: Any) -> None:
    """The one check in the host: every way of building an operator passes through it."""
    _run(CARTPOLE, "CartPole-v1")
    spec = parse_operator_spec(f"optoy:{RUN}")
    seat = OperatorContext(
        observation_space=ACROBOT.observation_space,
        action_space=ACROBOT.action_space,
        env_id="Acrobot-v1",
    )
    with pytest.raises(ConfigError, match=r"trained on observations Box\(4,\)") as caught:
        build_operator(spec, seat)
    assert caught.value.field == "--operator"
    fitting = OperatorContext(
        observation_space=CARTPOLE.observation_space, action_space=CARTPOLE.action_space
    )
    assert build_operator(spec, fitting).select_action([0, 0, 0, 0], {}) == 1


def test_a_multi_agent_run_is_checked_seat_by_seat(op_env: Any) -> None:
    big, small = gymnasium.spaces.Discrete(5), gymnasium.spaces.Discrete(3)

    class Seat:
        def __init__(self, observation: Any, action: Any) -> None:
            self.observation_space, self.action_space = observation, action

    run_dir = _run(None, None, red=Seat(big, small), blue=Seat(small, small))

    def seat(agent: str, observation: Any) -> OperatorContext:
        return OperatorContext(observation_space=observation, action_space=small, agent=agent)

    check_seat("t", str(run_dir), {}, seat("red", big))
    check_seat("t", str(run_dir), {}, seat("blue", small))
    with pytest.raises(ConfigError, match=r"agent 'blue' of this environment has observations "
                                          r"Discrete\(5\)"):  # fmt: skip
        check_seat("t", str(run_dir), {}, seat("blue", big))
    # The option agent= names the trained agent the operator plays, whatever the seat.
    check_seat("t", str(run_dir), {"agent": "red"}, seat("green", big))
    # A seat the team never had, and agents that differ: left to the worker's operator.
    check_seat("t", str(run_dir), {}, seat("green", gymnasium.spaces.Discrete(9)))


def test_a_checkpoint_file_is_an_operator_spec_of_its_run(op_env: Any) -> None:
    run_dir = _run(CARTPOLE, "CartPole-v1")
    checkpoint = run_dir / "checkpoints" / "final.json"
    spec = parse_operator_spec(f"optoy:{checkpoint}")
    assert (spec.name, spec.checkpoint) == ("optoy", str(checkpoint))
    assert run_dir_of(spec.checkpoint) == run_dir
    assert env_for([spec]) == ("CartPole-v1", f"optoy:{checkpoint}")
    with pytest.raises(ConfigError, match=r"no file or directory .*expected a run id"):
        parse_operator_spec(f"optoy:{run_dir / 'checkpoints' / 'missing.pt'}")


def test_without_env_and_nothing_to_take_it_from_is_a_config_error(
    op_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--operator", "random"]) == 2
    assert "--env is required: no --operator names a run" in capsys.readouterr().err
    _run(CARTPOLE, "CartPole-v1")
    _run(ACROBOT, "Acrobot-v1", run_id="01TRAINEDRUN00000000000001")
    assert main(["eval", "--operator", RUN, "--operator", "01TRAINEDRUN00000000000001"]) == 2
    err = capsys.readouterr().err
    assert "trained on different environments" in err
    assert f"{RUN} was trained on CartPole-v1" in err and "Acrobot-v1" in err
    assert _eval_runs() == []


def test_a_run_without_recorded_spaces_is_not_checked(op_env: Any) -> None:
    with RunStore() as store:
        run_dir = store.create_run(RUN, "optoy", {"env_id": "CartPole-v1"})
    (run_dir / "policy.json").write_text(json.dumps({"action": 2}))
    seat = OperatorContext(
        observation_space=ACROBOT.observation_space, action_space=ACROBOT.action_space
    )
    assert build_operator(parse_operator_spec(f"optoy:{RUN}"), seat).select_action(None, {}) == 2
