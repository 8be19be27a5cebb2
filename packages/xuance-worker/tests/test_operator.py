"""The operator refuses what it cannot play faithfully, before it loads anything heavy, and
finds the run's checkpoint through its manifest."""

from __future__ import annotations

import json
import pathlib

import pytest

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    ManifestError,
    MosaicError,
    WorkerAnalyticsManifest,
)
from mosaic_xuance.operator import XuanCeOperator


def _run(tmp_path: pathlib.Path, **fields: object) -> pathlib.Path:
    """A run directory with a manifest naming its checkpoint, and the config beside it."""
    data = {
        "algorithm": "mappo",
        "env_id": "simple_spread_v3",
        "multi_agent": True,
        "agent_keys": ["agent_0", "agent_1"],
        "config": {"use_rnn": False},
        **fields,
    }
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "xuance_config.json").write_text(json.dumps(data))
    model = "checkpoints/final_train_model.pth"
    WorkerAnalyticsManifest(
        run_id="r1",
        worker_type="xuance",
        artifacts=ArtifactsMetadata(checkpoints=CheckpointMetadata(files=(model,), latest=model)),
    ).save(tmp_path)
    return tmp_path


def test_a_team_member_needs_its_seat(tmp_path: pathlib.Path) -> None:
    run = _run(tmp_path)
    with pytest.raises(MosaicError, match="needs to know which agent it plays"):
        XuanCeOperator.load(run)
    with pytest.raises(MosaicError, match=r"no agent 'agent_7' in the trained team"):
        XuanCeOperator.load(run, agent="agent_7")


def test_recurrent_policies_are_refused(tmp_path: pathlib.Path) -> None:
    run = _run(tmp_path, config={"use_rnn": True})
    with pytest.raises(MosaicError, match="feed-forward policies only"):
        XuanCeOperator.load(run, agent="agent_0")


def test_a_directory_without_a_checkpoint_is_a_manifest_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=r"has no checkpoint: it has no analytics\.json"):
        XuanCeOperator.load(tmp_path)


def test_a_checkpoint_without_its_config_says_what_it_expected(tmp_path: pathlib.Path) -> None:
    run = _run(tmp_path)
    (run / "checkpoints" / "xuance_config.json").unlink()
    with pytest.raises(ManifestError, match=r"final_train_model\.pth has no xuance_config\.json"):
        XuanCeOperator.load(run)
