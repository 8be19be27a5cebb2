"""``RunContext``: one source of a run's facts, checkpoints, manifest and spaces format."""

from __future__ import annotations

import io
import json
import math
import pathlib

import gymnasium
import numpy as np
import pytest

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    ManifestError,
    RunContext,
    TelemetryEmitter,
    WorkerAnalyticsManifest,
)


@pytest.fixture
def context(tmp_path: pathlib.Path) -> RunContext:
    return RunContext(run_id="run-1", run_dir=tmp_path, worker_type="toy", worker_version="0.3.0")


def test_from_environment_reads_mosaic_run_dir_else_the_cwd(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOSAIC_RUN_DIR", str(tmp_path / "given"))
    assert RunContext.from_environment("r", "toy", "1").run_dir == tmp_path / "given"
    monkeypatch.delenv("MOSAIC_RUN_DIR")
    monkeypatch.chdir(tmp_path)
    assert RunContext.from_environment("r", "toy", "1").run_dir == tmp_path


def test_a_recorded_checkpoint_is_announced_and_listed_at_once(
    context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = io.BytesIO()
    emitter = TelemetryEmitter("run-1", stream=sink)
    monkeypatch.setattr(RunContext, "emitter", property(lambda self: emitter))
    (context.run_dir / "checkpoints").mkdir()
    (context.run_dir / "checkpoints" / "a.pt").write_bytes(b"x")
    assert context.record_checkpoint(context.run_dir / "checkpoints" / "a.pt", step=10) == (
        "checkpoints/a.pt"
    )
    emitter.flush()
    event = json.loads(sink.getvalue().splitlines()[-1])
    assert event["event"] == "checkpoint_saved"
    assert event["payload"] == {"path": "checkpoints/a.pt", "step": 10, "format": "pytorch"}
    manifest = WorkerAnalyticsManifest.load(context.run_dir)
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.latest == "checkpoints/a.pt"
    assert manifest.metadata["worker_version"] == "0.3.0"


def test_the_manifest_keeps_metadata_and_every_checkpoint_once(
    context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        RunContext, "emitter", property(lambda self: TelemetryEmitter("x", stream=io.BytesIO()))
    )
    context.write_manifest(algorithm="ppo")
    for name in ("a.pt", "b.pt", "a.pt"):
        context.record_checkpoint(f"checkpoints/{name}")
    manifest = context.write_manifest(global_step=7)
    assert manifest.artifacts.checkpoints is not None
    assert manifest.artifacts.checkpoints.files == ("checkpoints/b.pt", "checkpoints/a.pt")
    assert manifest.metadata["algorithm"] == "ppo" and manifest.metadata["global_step"] == 7
    assert manifest.artifacts.tensorboard is None  # no files written there


def test_a_path_outside_the_run_is_refused(context: RunContext) -> None:
    with pytest.raises(ManifestError, match="outside the run directory"):
        context.relative("/somewhere/else.pt")


def test_latest_checkpoint_of_a_finished_run(
    context: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        RunContext, "emitter", property(lambda self: TelemetryEmitter("x", stream=io.BytesIO()))
    )
    context.record_checkpoint("checkpoints/final.pt")
    opened = RunContext.open(context.run_dir)
    assert opened.worker_type == "toy" and opened.worker_version == "0.3.0"
    assert opened.latest_checkpoint() == context.run_dir / "checkpoints" / "final.pt"


def test_latest_checkpoint_is_the_manifest_s_latest_wherever_files_list_it(
    tmp_path: pathlib.Path,
) -> None:
    """Worker 0.1.0 manifests listed the config after the model they named latest."""
    WorkerAnalyticsManifest(
        run_id="r1",
        worker_type="xuance",
        artifacts=ArtifactsMetadata(
            checkpoints=CheckpointMetadata(
                files=("checkpoints/model.pth", "checkpoints/config.json"),
                latest="checkpoints/model.pth",
            )
        ),
    ).save(tmp_path)
    opened = RunContext.open(tmp_path)
    assert opened.latest_checkpoint() == tmp_path / "checkpoints" / "model.pth"
    assert opened.checkpoints == ("checkpoints/config.json", "checkpoints/model.pth")


@pytest.mark.parametrize("manifest", [False, True])
def test_no_checkpoint_is_one_error_naming_the_run(tmp_path: pathlib.Path, manifest: bool) -> None:
    if manifest:
        WorkerAnalyticsManifest(run_id="r9", worker_type="toy").save(tmp_path)
    with pytest.raises(
        ManifestError, match=f"run {'r9' if manifest else tmp_path.name} at .* has no checkpoint"
    ):
        RunContext.open(tmp_path).latest_checkpoint()


@pytest.mark.parametrize(
    "space",
    [
        gymnasium.spaces.Discrete(4),
        gymnasium.spaces.Discrete(3, start=-1),
        gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32),
        gymnasium.spaces.Box(-np.inf, np.inf, (2, 2), np.float64),
        gymnasium.spaces.Box(0, 255, (4, 4, 3), np.uint8),
        gymnasium.spaces.MultiDiscrete([3, 3, 2]),
        gymnasium.spaces.MultiBinary(5),
        gymnasium.spaces.Dict(
            {"image": gymnasium.spaces.Box(0, 1, (2,)), "direction": gymnasium.spaces.Discrete(4)}
        ),
        gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(2), gymnasium.spaces.Discrete(5))),
    ],
    ids=repr,
)
def test_spaces_round_trip_through_strict_json(space: gymnasium.Space) -> None:  # type: ignore[type-arg]
    text = json.dumps(RunContext.describe_space(space), allow_nan=False)
    assert RunContext.space_from_description(json.loads(text)) == space


def test_infinite_bounds_are_strings() -> None:
    description = RunContext.describe_space(gymnasium.spaces.Box(-math.inf, 1.0, (1,)))
    assert description["low"] == ["-inf"] and description["high"] == [1.0]


def test_a_malformed_description_is_a_manifest_error() -> None:
    with pytest.raises(ManifestError, match="cannot be rebuilt"):
        RunContext.space_from_description({"type": "Graph"})
    with pytest.raises(ManifestError, match="malformed"):
        RunContext.space_from_description({"type": "Discrete"})


def test_recorded_spaces_are_in_the_manifest_at_once(context: RunContext) -> None:
    cartpole = gymnasium.make("CartPole-v1")
    context.write_manifest(algorithm="ppo")
    context.record_spaces(cartpole.observation_space, cartpole.action_space, env_id="CartPole-v1")
    reopened = RunContext.open(context.run_dir)
    assert reopened.trained_on == {
        "env_id": "CartPole-v1",
        "observation_space": RunContext.describe_space(cartpole.observation_space),
        "action_space": {"type": "Discrete", "n": 2, "start": 0},
    }
    assert reopened.metadata["algorithm"] == "ppo"  # the rest of the manifest is kept


def test_spaces_described_in_another_process_are_recorded_as_they_are(
    context: RunContext, tmp_path: pathlib.Path
) -> None:
    """A worker whose spaces live in its script's process records their descriptions; a
    Gymnasium Dict space (a mapping, but no dict) is still described."""
    cartpole = gymnasium.make("CartPole-v1")
    observation = RunContext.describe_space(cartpole.observation_space)
    record = context.record_spaces(observation, {"type": "Discrete", "n": 2, "start": 0})
    other = RunContext.open(context.run_dir)
    direct = RunContext(
        run_id="run-2", run_dir=tmp_path / "direct", worker_type="toy", worker_version="0.3.0"
    )
    assert record == direct.record_spaces(cartpole.observation_space, cartpole.action_space)
    assert other.trained_on == record
    board = gymnasium.spaces.Dict({"cell": gymnasium.spaces.Discrete(9)})
    described = context.record_spaces(board, cartpole.action_space)["observation_space"]
    assert described == {
        "type": "Dict",
        "spaces": {"cell": {"type": "Discrete", "n": 9, "start": 0}},
    }


def test_a_multi_agent_run_records_each_agent_s_spaces(context: RunContext) -> None:
    grid, moves = gymnasium.spaces.MultiBinary(9), gymnasium.spaces.Discrete(9)
    context.record_spaces(grid, moves, agent="player_1", env_id="tictactoe")
    record = context.record_spaces(grid, gymnasium.spaces.Discrete(3), agent="player_2")
    assert record["env_id"] == "tictactoe"
    assert set(record["agents"]) == {"player_1", "player_2"}
    assert record["agents"]["player_2"]["action_space"]["n"] == 3
    assert RunContext.open(context.run_dir).trained_on == record


def test_a_run_without_recorded_spaces_has_none(context: RunContext) -> None:
    context.write_manifest(algorithm="ppo")
    assert RunContext.open(context.run_dir).trained_on is None


@pytest.mark.parametrize(
    ("value", "grace"), [("12.5", 12.5), (None, 5.0), ("soon", 5.0), ("-1", 5.0), ("0", 5.0)]
)
def test_stop_grace_is_the_supervisor_s_else_five_seconds(
    context: RunContext, monkeypatch: pytest.MonkeyPatch, value: str | None, grace: float
) -> None:
    if value is None:
        monkeypatch.delenv("MOSAIC_STOP_GRACE", raising=False)
    else:
        monkeypatch.setenv("MOSAIC_STOP_GRACE", value)
    assert context.stop_grace == grace
