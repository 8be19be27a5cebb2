from __future__ import annotations

import json
import pathlib
import tempfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    ManifestError,
    TensorBoardMetadata,
    WandBMetadata,
    WorkerAnalyticsManifest,
)
from mosaic_core._manifest import MANIFEST_FILENAME, SCHEMA_VERSION


def full_manifest() -> WorkerAnalyticsManifest:
    return WorkerAnalyticsManifest(
        run_id="01HZX3K9V8",
        worker_type="cleanrl",
        artifacts=ArtifactsMetadata(
            tensorboard=TensorBoardMetadata(log_dir="tensorboard"),
            wandb=WandBMetadata(project="mosaic", run_id="abc", mode="online"),
            checkpoints=CheckpointMetadata(
                directory="checkpoints",
                format="pytorch",
                files=("checkpoints/step_1000.pt", "checkpoints/final.pt"),
                latest="checkpoints/final.pt",
            ),
            logs_dir="logs",
            videos_dir="videos",
        ),
        metadata={"worker": {"name": "CleanRL", "version": "1.0"}, "seed": 1},
    )


def minimal_dict(**changes: Any) -> dict[str, Any]:
    return {"run_id": "r", "worker_type": "toy", **changes}


# -- round trips ---------------------------------------------------------------------

SEGMENTS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True).filter(
    lambda s: s not in (".", "..")
)
REL_PATHS = st.lists(SEGMENTS, min_size=1, max_size=4).map("/".join)
NAMES = st.text(min_size=1, max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
MANIFESTS = st.builds(
    WorkerAnalyticsManifest,
    run_id=NAMES,
    worker_type=NAMES,
    artifacts=st.builds(
        ArtifactsMetadata,
        tensorboard=st.none() | st.builds(TensorBoardMetadata, log_dir=REL_PATHS),
        wandb=st.none()
        | st.builds(
            WandBMetadata,
            project=st.none() | NAMES,
            entity=st.none() | NAMES,
            run_id=st.none() | NAMES,
            url=st.none() | NAMES,
            mode=NAMES,
        ),
        checkpoints=st.none()
        | st.builds(
            CheckpointMetadata,
            directory=REL_PATHS,
            format=NAMES,
            files=st.lists(REL_PATHS, max_size=4).map(tuple),
            latest=st.none() | REL_PATHS,
        ),
        logs_dir=st.none() | REL_PATHS,
        videos_dir=st.none() | REL_PATHS,
    ),
    metadata=st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4),
)


@given(MANIFESTS)
def test_manifest_round_trips_through_dict(manifest: WorkerAnalyticsManifest) -> None:
    data = manifest.to_dict()
    assert WorkerAnalyticsManifest.from_dict(data) == manifest
    assert WorkerAnalyticsManifest.from_dict(json.loads(json.dumps(data))) == manifest


@given(MANIFESTS)
def test_manifest_round_trips_through_save_and_load(manifest: WorkerAnalyticsManifest) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        written = manifest.save(tmp)
        assert written == pathlib.Path(tmp) / MANIFEST_FILENAME
        assert WorkerAnalyticsManifest.load(tmp) == manifest
        assert WorkerAnalyticsManifest.load(written) == manifest


def test_full_manifest_file_layout(tmp_path: pathlib.Path) -> None:
    full_manifest().save(tmp_path)
    data = json.loads((tmp_path / "analytics.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["artifacts"]["checkpoints"]["files"] == [
        "checkpoints/step_1000.pt",
        "checkpoints/final.pt",
    ]
    assert data["artifacts"]["tensorboard"] == {"log_dir": "tensorboard"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.json"]


def test_save_to_a_file_path(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "custom.json"
    assert full_manifest().save(target) == target
    assert WorkerAnalyticsManifest.load(target) == full_manifest()


def test_save_replaces_an_existing_manifest(tmp_path: pathlib.Path) -> None:
    WorkerAnalyticsManifest(run_id="r", worker_type="a").save(tmp_path)
    WorkerAnalyticsManifest(run_id="r", worker_type="b").save(tmp_path)
    assert WorkerAnalyticsManifest.load(tmp_path).worker_type == "b"


def test_defaults_of_a_minimal_manifest() -> None:
    m = WorkerAnalyticsManifest.from_dict(minimal_dict())
    assert m.schema_version == 1
    assert m.artifacts == ArtifactsMetadata()
    assert m.artifacts.logs_dir == "."
    assert m.metadata == {}


def test_tensorboard_as_a_bare_directory_string_is_accepted() -> None:
    m = WorkerAnalyticsManifest.from_dict(minimal_dict(artifacts={"tensorboard": "tb"}))
    assert m.artifacts.tensorboard == TensorBoardMetadata(log_dir="tb")
    assert ArtifactsMetadata(tensorboard="runs/tb").tensorboard == TensorBoardMetadata(  # type: ignore[arg-type]
        log_dir="runs/tb"
    )


def test_checkpoint_files_as_a_bare_string_is_one_file() -> None:
    ck = CheckpointMetadata(files="checkpoints/final.pt")  # type: ignore[arg-type]
    assert ck.files == ("checkpoints/final.pt",)


def test_missing_files_lists_what_is_not_on_disk(tmp_path: pathlib.Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "final.pt").write_bytes(b"")
    assert full_manifest().missing_files(tmp_path) == ["checkpoints/step_1000.pt", "tensorboard"]


# -- paths -----------------------------------------------------------------------------

ABSOLUTE = ["/abs/x.pt", "C:\\runs\\x.pt", "C:/runs/x.pt", "\\\\server\\share\\x", "//host/x"]
CLIMBING = ["../x.pt", "checkpoints/../../x.pt", "a\\..\\..\\b", ".."]


def path_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for bad in ABSOLUTE + CLIMBING:
        cases += [
            ("CheckpointMetadata.directory", {"checkpoints": {"directory": bad}}),
            ("CheckpointMetadata.files[1]", {"checkpoints": {"files": ["ok.pt", bad]}}),
            ("CheckpointMetadata.latest", {"checkpoints": {"latest": bad}}),
            ("TensorBoardMetadata.log_dir", {"tensorboard": {"log_dir": bad}}),
            ("TensorBoardMetadata.log_dir", {"tensorboard": bad}),
            ("ArtifactsMetadata.logs_dir", {"logs_dir": bad}),
            ("ArtifactsMetadata.videos_dir", {"videos_dir": bad}),
        ]
    return cases


@pytest.mark.parametrize(("field", "artifacts"), path_cases())
def test_paths_must_stay_inside_the_run_directory(field: str, artifacts: dict[str, Any]) -> None:
    with pytest.raises(ManifestError) as info:
        WorkerAnalyticsManifest.from_dict(minimal_dict(artifacts=artifacts))
    message = str(info.value)
    assert "absolute path" in message or "climbs out of the run directory" in message
    assert message.startswith(f"{field}: ")


def test_absolute_path_error_names_field_and_suggests_a_relative_path() -> None:
    with pytest.raises(ManifestError) as info:
        CheckpointMetadata(latest="/tmp/final.pt")
    assert str(info.value) == (
        "CheckpointMetadata.latest: got the absolute path '/tmp/final.pt'; expected a path "
        "relative to the run directory, such as 'checkpoints/final.pt'"
    )


def test_bad_file_in_a_list_is_named_by_index() -> None:
    with pytest.raises(ManifestError, match=r"CheckpointMetadata\.files\[1\]"):
        CheckpointMetadata(files=("ok.pt", "../up.pt"))


@pytest.mark.parametrize("value", ["", 3, None])
def test_listed_files_must_be_non_empty_strings(value: Any) -> None:
    with pytest.raises(ManifestError, match="a non-empty relative path string"):
        CheckpointMetadata(files=(value,))


def test_dotted_names_that_do_not_climb_are_fine() -> None:
    ck = CheckpointMetadata(directory="./checkpoints", files=("a..b.pt", ".hidden/x"))
    assert ck.files == ("a..b.pt", ".hidden/x")


# -- unknown keys, types and versions ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "where", "key"),
    [
        (minimal_dict(worker="toy"), "manifest", "worker"),
        (minimal_dict(artifacts={"checkpoint": {}}), "artifacts", "checkpoint"),
        (minimal_dict(artifacts={"checkpoints": {"dir": "c"}}), "artifacts.checkpoints", "dir"),
        (minimal_dict(artifacts={"wandb": {"projet": "p"}}), "artifacts.wandb", "projet"),
        (
            minimal_dict(artifacts={"tensorboard": {"logdir": "t"}}),
            "artifacts.tensorboard",
            "logdir",
        ),
    ],
)
def test_unknown_keys_are_named_with_where_they_are(
    data: dict[str, Any], where: str, key: str
) -> None:
    with pytest.raises(ManifestError) as info:
        WorkerAnalyticsManifest.from_dict(data)
    assert str(info.value).startswith(f"{where}: unknown key {key!r}; expected some of [")


@pytest.mark.parametrize("version", [0, 2, "1", 1.5, None, True])
def test_unsupported_schema_version_is_rejected(version: Any) -> None:
    with pytest.raises(ManifestError, match=r"schema_version .* is not supported.*version 1"):
        WorkerAnalyticsManifest.from_dict(minimal_dict(schema_version=version))


def test_newer_schema_version_suggests_upgrading() -> None:
    with pytest.raises(ManifestError, match="upgrade mosaic-core"):
        WorkerAnalyticsManifest.from_dict(minimal_dict(schema_version=2))


@pytest.mark.parametrize("missing", ["run_id", "worker_type"])
def test_missing_required_field_is_a_manifest_error(missing: str) -> None:
    data = minimal_dict()
    del data[missing]
    with pytest.raises(ManifestError, match=missing):
        WorkerAnalyticsManifest.from_dict(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (minimal_dict(run_id=""), "run_id"),
        (minimal_dict(worker_type=5), "worker_type"),
        (minimal_dict(metadata=[1]), "metadata: got list; expected an object"),
        (minimal_dict(artifacts=[]), "artifacts: got list; expected an object"),
        (minimal_dict(artifacts=None), "artifacts: got NoneType; expected an object"),
        (minimal_dict(artifacts={"wandb": "p"}), "ArtifactsMetadata.wandb: got str"),
        (minimal_dict(artifacts={"checkpoints": 3}), "ArtifactsMetadata.checkpoints: got int"),
        (minimal_dict(artifacts={"checkpoints": {"format": ""}}), "CheckpointMetadata.format"),
        (minimal_dict(artifacts={"checkpoints": {"files": 3}}), "artifacts.checkpoints"),
        (minimal_dict(artifacts={"wandb": {"project": 3}}), "WandBMetadata.project"),
        (minimal_dict(artifacts={"wandb": {"mode": ""}}), "WandBMetadata.mode"),
    ],
)
def test_wrong_types_are_manifest_errors(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        WorkerAnalyticsManifest.from_dict(data)


def test_metadata_must_be_json_serialisable() -> None:
    with pytest.raises(ManifestError, match="not JSON-serialisable"):
        WorkerAnalyticsManifest(run_id="r", worker_type="t", metadata={"x": object()})


@pytest.mark.parametrize("data", [[1], "manifest", None])
def test_from_dict_rejects_non_objects(data: Any) -> None:
    with pytest.raises(ManifestError, match="expected a JSON object"):
        WorkerAnalyticsManifest.from_dict(data)


# -- loading ---------------------------------------------------------------------------


def test_load_missing_file_is_a_manifest_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest at .*nope\.json"):
        WorkerAnalyticsManifest.load(tmp_path / "nope.json")


def test_load_run_directory_without_manifest_is_a_manifest_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ManifestError, match=f"no manifest at {tmp_path / 'analytics.json'}"):
        WorkerAnalyticsManifest.load(tmp_path)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b""])
def test_load_unreadable_file_is_a_manifest_error(tmp_path: pathlib.Path, content: bytes) -> None:
    (tmp_path / "analytics.json").write_bytes(content)
    with pytest.raises(ManifestError, match="not a readable JSON manifest"):
        WorkerAnalyticsManifest.load(tmp_path)


def test_load_names_the_file_and_the_field(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.json"
    path.write_text(json.dumps(minimal_dict(artifacts={"videos_dir": "/videos"})))
    with pytest.raises(ManifestError) as info:
        WorkerAnalyticsManifest.load(path)
    assert str(info.value).startswith(
        f"{path}: ArtifactsMetadata.videos_dir: got the absolute path"
    )


def test_load_rejects_a_non_object_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "analytics.json").write_text("[]")
    with pytest.raises(ManifestError, match="got list; expected a JSON object"):
        WorkerAnalyticsManifest.load(tmp_path)
