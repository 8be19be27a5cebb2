"""Operator protocol v1 over real pipes: a real operator process, driven command by command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

pytest.importorskip("gymnasium")

from mosaic_core.operators import (
    FastlaneReader,
    OperatorClient,
    OperatorDied,
    OperatorRequestError,
    OperatorTimeout,
)
from mosaic_core.operators.client import operator_command


def test_every_command_is_answered_with_its_id(spawn: Any) -> None:
    client = spawn("random")
    pong = client.ping()
    assert (pong["type"], pong["protocol"], pong["pid"]) == ("pong", 1, client.pid)
    ready = client.reset(7)
    assert ready["type"] == "ready" and ready["seed"] == 7 and ready["episode"] == 0
    assert ready["env_id"] == "mosaictest_envs:counting" and ready["agents"] is None
    step = client.step()
    assert step["type"] == "step" and step["step_index"] == 0
    assert {"action", "reward", "terminated", "truncated", "episode_reward", "render"} <= set(step)
    assert step["action"] in (0, 1, 2) and step["reward"] == float(step["action"])
    action = client.call("select_action", observation=[1.0, 2.0])
    assert action["type"] == "action_selected" and action["action"] in (0, 1, 2)
    stopped = client.stop()
    assert stopped["type"] == "stopped"
    ids = [pong["id"], ready["id"], step["id"], action["id"], stopped["id"]]
    assert ids == [1, 2, 3, 4, 5]


def test_an_episode_ends_with_episode_end_then_the_next_starts_by_itself(spawn: Any) -> None:
    client = spawn("random")
    client.reset(3)
    steps = [client.step() for _ in range(5)]
    assert [s["step_index"] for s in steps] == [0, 1, 2, 3, 4]
    assert [s["episode_done"] for s in steps] == [False] * 4 + [True]
    assert "episode_end" not in steps[3]
    end = steps[-1]["episode_end"]
    assert end["type"] == "episode_end" and end["id"] == steps[-1]["id"]
    assert end["episode_length"] == 5 and end["episode"] == 0 and end["seed"] == 3
    assert end["total_reward"] == sum(s["reward"] for s in steps) == steps[-1]["episode_reward"]
    after = client.step()  # the next episode, reset with seed 3 + 1
    assert after["step_index"] == 0 and after["episode_reward"] == after["reward"]
    later = [client.step() for _ in range(4)]
    assert later[-1]["episode_end"]["seed"] == 4 and later[-1]["episode_end"]["episode"] == 1


def test_given_action_is_played_and_an_illegal_one_refused_without_a_step(spawn: Any) -> None:
    client = spawn("random")
    client.reset(0)
    assert client.step(action=2)["action"] == 2
    with pytest.raises(OperatorRequestError, match=r"action 7 is not legal .*Discrete\(3\)"):
        client.step(action=7)
    with pytest.raises(OperatorRequestError, match="expected an integer action"):
        client.step(action=1.5)
    assert client.step(action=0)["step_index"] == 1  # the refused steps were not taken


def test_bad_json_is_an_error_and_the_loop_goes_on(spawn: Any) -> None:
    client = spawn("random")
    client.send_raw('{"cmd": "ping", "id": 1')
    error = client.read()
    assert error["type"] == "error" and error["id"] is None
    assert "bad JSON" in error["message"] and '{"cmd": "ping"' in error["message"]
    client.send_raw("[1, 2]")
    assert "expected a JSON object" in client.read()["message"]
    assert client.ping()["type"] == "pong"


def test_unknown_command_is_an_error_that_names_the_commands(spawn: Any) -> None:
    client = spawn("random")
    with pytest.raises(OperatorRequestError) as caught:
        client.call("steps")
    message = caught.value.response["message"]
    assert "unknown command 'steps'" in message and "did you mean 'step'" in message
    assert "reset, step, select_action, ping, stop" in message
    client.send_raw('{"id": 9}')
    assert client.read() == {"type": "error", "id": 9, "message": (
        "missing field 'cmd'; expected one of reset, step, select_action, ping, stop")}  # fmt: skip
    assert client.ping()["type"] == "pong"


def test_missing_or_wrong_fields_are_errors(spawn: Any) -> None:
    client = spawn("random")
    with pytest.raises(OperatorRequestError, match=r"no episode yet; send .*reset"):
        client.step()
    with pytest.raises(OperatorRequestError, match="missing field 'observation'"):
        client.call("select_action", info={})
    with pytest.raises(OperatorRequestError, match="seed 'x' is not an integer"):
        client.call("reset", seed="x")
    with pytest.raises(OperatorRequestError, match="render 'yes' must be true or false"):
        client.reset(0) and client.call("step", render="yes")
    assert client.step()["step_index"] == 0


def test_a_request_after_stop_is_an_error_and_input_end_ends_the_process(spawn: Any) -> None:
    client = spawn("random")
    client.reset(0)
    client.stop()
    with pytest.raises(OperatorRequestError, match="'step' after stop: this operator has stopped"):
        client.step()
    assert client.close(timeout=5.0) == 0


def test_after_stop_the_process_exits_by_itself_when_no_input_comes(op_env: Any) -> None:
    # The seed's own client: stop, read "stopped", then wait, without closing stdin.
    argv = operator_command("random", "mosaictest_envs:counting", render="none")
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=op_env
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write('{"cmd": "reset", "seed": 42}\n{"cmd": "step"}\n{"cmd": "stop"}\n')
    proc.stdin.flush()
    types = [json.loads(proc.stdout.readline())["type"] for _ in range(3)]
    assert types == ["ready", "step", "stopped"]
    assert proc.wait(timeout=10) == 0
    proc.stdin.close()


def test_library_prints_cannot_corrupt_the_protocol(spawn: Any) -> None:
    client = spawn("random", "mosaictest_envs:noisy")
    client.reset(0)
    assert [client.step()["step_index"] for _ in range(3)] == [0, 1, 2]
    client.close()
    assert any("noisy: step" in line for line in client.stderr_tail)


def test_pipelined_steps_are_answered_in_order(spawn: Any) -> None:
    client = spawn("random", render="none")
    client.reset(1)
    responses = list(client.steps(200, window=64))
    assert [r["id"] for r in responses] == sorted(r["id"] for r in responses)
    assert [r["step_index"] for r in responses] == [i % 5 for i in range(200)]
    assert sum("episode_end" in r for r in responses) == 40


def test_killed_mid_request_raises_operator_died_quickly(spawn: Any) -> None:
    client = spawn("random", "mosaictest_envs:slow", render="none")
    client.reset(0)
    rid = client.send("step")  # the env sleeps 30 s inside this step
    time.sleep(0.3)
    os.kill(client.pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(OperatorDied, match=r"was killed by SIGKILL before answering 'step'"):
        client.receive(rid, "step")
    assert time.monotonic() - started < 3.0
    with pytest.raises(OperatorDied):
        client.ping()


def test_a_silent_operator_times_out_and_the_client_recovers(
    spawn: Any, op_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOSAICTEST_STEP_SLEEP", "1.0")
    client = spawn("random", "mosaictest_envs:slow", render="none", environ=dict(os.environ))
    client.reset(0)
    started = time.monotonic()
    with pytest.raises(OperatorTimeout, match=r"sent no answer to 'step'.* still running"):
        client.call("step", timeout=0.3)
    assert time.monotonic() - started < 1.0
    assert client.ping(timeout=5.0)["type"] == "pong"  # the late step answer is skipped


def test_an_operator_that_cannot_start_says_why(spawn: Any) -> None:
    client = spawn("random", "NoSuchEnv-v9")
    with pytest.raises(
        OperatorDied, match=r"(?s)exited with status 2 before answering 'reset'.*NoSuchEnv-v9"
    ):
        client.reset(0)


def test_step_carries_a_fastlane_reference_and_the_frame_is_in_shared_memory(spawn: Any) -> None:
    client = spawn("random")
    ready = client.reset(0)
    name = ready["fastlane"]
    assert ready["render"] == {
        "fastlane": name, "frame": 0, "width": 6, "height": 4, "channels": 3,
    }  # fmt: skip
    client.step()
    step = client.step()
    assert step["render"]["frame"] == 2 and "rgb" not in json.dumps(step)
    with FastlaneReader(name) as reader:
        frame = reader.read(2)
        assert frame is not None and frame.pixels == bytes([2]) * (4 * 6 * 3)
    assert client.step(render=False)["render"] is None
    client.close()
    assert not os.path.exists(f"/dev/shm/{name}")


def test_json_frames_are_there_for_debugging(spawn: Any) -> None:
    client = spawn("random", render="json")
    client.reset(0)
    render = client.step()["render"]
    assert render["mode"] == "rgb" and (render["width"], render["height"]) == (6, 4)
    assert render["rgb"] == [[[1, 1, 1]] * 6] * 4


def test_a_dead_operators_fastlane_ring_is_removed_by_its_client(spawn: Any) -> None:
    client = spawn("random")
    name = client.reset(0)["fastlane"]
    assert os.path.exists(f"/dev/shm/{name}")
    os.kill(client.pid, signal.SIGKILL)
    client.close()
    assert not os.path.exists(f"/dev/shm/{name}")


def test_select_action_uses_the_mask_it_is_given(spawn: Any) -> None:
    client = spawn("random")
    client.reset(0)
    for _ in range(10):
        assert client.select_action([0.0, 0.0], action_mask=[0, 0, 1]) == 2


def test_server_runs_without_an_environment_for_select_action_only(op_env: Any) -> None:
    argv = [sys.executable, "-m", "mosaictest_optoy", "--interactive"]
    argv += ["--checkpoint", str(_policy_dir(op_env, 1))]
    with OperatorClient(argv, environ=op_env, timeout=20.0) as client:
        assert client.reset(5)["env_id"] is None
        assert client.select_action({"anything": [1, 2]}) == 1
        with pytest.raises(OperatorRequestError, match="started without an environment"):
            client.step()


def test_a_workers_interactive_mode_loads_a_run_of_the_store(op_env: Any) -> None:
    from mosaic_core.runs import RunStore

    with RunStore() as store:
        run_dir = store.create_run("01SERVEMAIN000000000000000", "optoy", {})
    (run_dir / "policy.json").write_text(json.dumps({"action": 1}))
    argv = [sys.executable, "-m", "mosaictest_optoy", "--interactive", "--checkpoint"]
    argv += ["01SERVEMAIN", "--env", "mosaictest_envs:counting", "--option", "action=2"]
    with OperatorClient(argv, environ=op_env, timeout=20.0) as client:
        client.reset(0)
        assert [client.step()["action"] for _ in range(3)] == [2, 2, 2]


def _policy_dir(op_env: Any, action: int) -> Any:
    from pathlib import Path

    directory = Path(op_env["MOSAIC_HOME"]) / "policy"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.json").write_text(json.dumps({"action": action}))
    return directory


def test_a_plain_step_line_is_answered_as_any_other_step_command() -> None:
    """``{"cmd":"step","id":N}``, a pipelined client's every line, takes a path of its own
    in the server; its answers are the bytes the general path gives the same command,
    episode ends, a reward that is no number and the refusal after ``stop`` included."""
    from mosaic_core import OperatorContext
    from mosaic_core._server import InteractiveServer
    from mosaic_core.operators import RandomOperator, Session, make_arena, make_env

    def server() -> InteractiveServer:
        arena = make_arena(make_env("CartPole-v1"), "CartPole-v1")
        operator = RandomOperator(OperatorContext(action_space=arena.action_space(None)))
        served = InteractiveServer(session=Session(arena, {None: operator}, render="none"))
        served.handle_line(b'{"cmd":"reset","seed":3,"id":0}')
        return served

    plain, general = server(), server()
    ends = 0
    for rid in range(1, 400):
        answer = plain.handle_line(b'{"cmd":"step","id":%d}' % rid)
        assert answer == general.handle_line(b'{"cmd": "step", "id": %d}' % rid)
        ends += len(answer) == 2
    assert ends >= 5  # episode_end lines compared too
    for served in (plain, general):  # a reward that is no number leaves the fast format
        served.session.episode_reward[None] = float("nan")
    answer = plain.handle_line(b'{"cmd":"step","id":400}')
    assert answer == general.handle_line(b'{"cmd": "step", "id": 400}')
    assert b'"episode_reward":NaN' in answer[0]

    def broken(action: Any) -> Any:
        raise RuntimeError("the environment broke")

    for served in (plain, general):  # an environment that raises: an error line, and on
        assert served.session.arena is not None
        served.session.arena.env = _Broken(broken)
    failed = plain.handle_line(b'{"cmd":"step","id":401}')
    assert failed == general.handle_line(b'{"cmd": "step", "id": 401}')
    assert json.loads(failed[0])["message"] == "step failed: RuntimeError: the environment broke"
    for served in (plain, general):
        served.handle_line(b'{"cmd":"stop","id":401}')
    refused = plain.handle_line(b'{"cmd":"step","id":402}')
    assert refused == general.handle_line(b'{"cmd": "step", "id": 402}')
    assert json.loads(refused[0])["type"] == "error"


class _Broken:
    """An environment whose step raises (only ``step`` and ``close`` are asked of it)."""

    def __init__(self, step: Any) -> None:
        self.step = step

    def close(self) -> None:
        pass
