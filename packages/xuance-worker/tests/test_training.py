"""Every algorithm trains for real through `mosaic run`; its checkpoint plays through the operator.

Budgets are tiny: these tests pin the plumbing (XuanCe's own metrics as
telemetry, at least one update, checkpoints, manifest, operator), not
learning; benchmarks/xuance_overhead.py trains longer.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from mosaic_core import WorkerAnalyticsManifest
from mosaic_core.operators import evaluate, parse_operator_spec
from mosaic_xuance import __version__

from .conftest import events, mosaic, run_xuance

_SPREAD = "pettingzoo.mpe.simple_spread_v3:parallel_env"
_OFF_POLICY = ["total_steps=300", "parallels=2", "start_training=50", "batch_size=16",
               "buffer_size=1000"]  # fmt: skip
_TEAM = ("agent_0", "agent_1", "agent_2")
# algorithm -> (--set items, the env its operator plays, its agents); MAPPO's run is in
# test_conformance.py, where `mosaic eval` pits it against random agents.
CASES = {
    "qmix": (_OFF_POLICY, _SPREAD, _TEAM),
    "vdn": (_OFF_POLICY, _SPREAD, _TEAM),
    "iql": (_OFF_POLICY, _SPREAD, _TEAM),
    "maddpg": (_OFF_POLICY, "tests.envs:continuous_spread", _TEAM),
    # simple_reference_v3 has no IPPO config in XuanCe: its simple_spread_v3 one is the base.
    "ippo": (["total_steps=200", "parallels=2", "buffer_size=100", "env_id=simple_reference_v3"],
             "pettingzoo.mpe.simple_reference_v3:parallel_env", ("agent_0", "agent_1")),
    "coma": (["total_steps=200", "parallels=2", "buffer_size=100", "n_epochs=1"], _SPREAD, _TEAM),
    "dqn": (["total_steps=400", "parallels=2", "start_training=64", "batch_size=32"],
            "CartPole-v1", ()),
    "ppo": (["total_steps=400", "parallels=2", "horizon_size=64"], "CartPole-v1", ()),
}  # fmt: skip


def check_run(result: dict[str, Any], algorithm: str, steps: int) -> pathlib.Path:
    """The plumbing every training run must show; returns the run directory."""
    assert result["status"] == "completed"
    run_dir = pathlib.Path(result["run_dir"])
    stream = events(run_dir)
    assert [e["seq"] for e in stream] == list(range(len(stream)))
    assert stream[0]["event"] == "run_started" and stream[0]["payload"]["algorithm"] == algorithm
    assert stream[-1]["event"] == "run_completed"
    keys = {k for e in stream if e["event"] == "metrics" for k in e["payload"]["values"]}
    assert any("Episode-Rewards" in k for k in keys), keys  # episodes, from XuanCe's log_infos
    assert any("loss" in k.lower() for k in keys), keys  # at least one update ran
    saved = [e["payload"] for e in stream if e["event"] == "checkpoint_saved"]
    assert [p["path"] for p in saved] == ["checkpoints/final_train_model.pth"]
    assert saved[0]["config"] == "checkpoints/xuance_config.json"
    manifest = WorkerAnalyticsManifest.load(run_dir)
    assert manifest.worker_type == "xuance" and manifest.metadata["algorithm"] == algorithm
    assert manifest.metadata["worker_version"] == __version__
    assert manifest.metadata["xuance_version"] == "1.4.4"
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == "checkpoints/final_train_model.pth"
    assert (run_dir / "checkpoints" / "xuance_config.json").is_file()
    assert manifest.missing_files(run_dir) == []
    assert any(p.is_file() for p in (run_dir / "tensorboard").rglob("*"))
    assert "Finish training." in (run_dir / "stdout.log").read_text()  # XuanCe's own prints
    assert result["summary"]["steps"] >= steps - 2
    return run_dir


@pytest.mark.parametrize("algorithm", list(CASES))
def test_algorithm_trains_checkpoints_and_plays(algorithm: str, mosaic_home: pathlib.Path) -> None:
    sets, env, agents = CASES[algorithm]
    code, result, stderr = run_xuance(f"algorithm={algorithm}", "seed=2", *sets)
    assert code == 0, (result, stderr)
    run_dir = check_run(result, algorithm, int(sets[0].split("=")[1]))

    (played,) = evaluate(env, [parse_operator_spec(f"xuance:{run_dir}")], episodes=1, seed=0)
    assert played.error is None, played.error
    assert played.episodes[0].length > 1 and played.episodes[0].invalid_actions == 0
    if agents:
        assert set(played.episodes[0].total_reward) == set(agents)


def test_discrete_only_algorithm_on_continuous_actions_fails_before_launch(
    mosaic_home: pathlib.Path,
) -> None:
    done = mosaic("run", "xuance", "--set", "algorithm=qmix", "--set", "continuous_action=true")
    assert done.returncode == 2
    assert "qmix learns discrete actions only" in done.stderr and "Traceback" not in done.stderr


def test_bad_config_exits_2_before_any_run(mosaic_home: pathlib.Path) -> None:
    done = mosaic("run", "xuance", "--set", "algorithm=dqn", "--set", "env_id=CartPol-v1")
    assert done.returncode == 2
    assert "did you mean 'CartPole-v1'" in done.stderr and "Traceback" not in done.stderr


def test_unknown_parser_args_key_is_a_config_error_before_xuance_starts(
    mosaic_home: pathlib.Path,
) -> None:
    code, result, _ = run_xuance("algorithm=dqn", 'parser_args={"sync_frequncy": 5}')
    assert code == 2 and result["status"] == "failed"
    assert "did you mean 'sync_frequency'" in result["reason"]
    stream = events(pathlib.Path(result["run_dir"]))
    assert [e["event"] for e in stream] == ["run_failed"]  # XuanCe was never imported
