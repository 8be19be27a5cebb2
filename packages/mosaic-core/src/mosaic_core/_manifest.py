"""The run manifest, ``analytics.json``: what a run produced and where it lies.

Every path in a manifest is relative to the run directory and may not climb
out of it, so a run directory can be moved, archived or shared whole.
:meth:`WorkerAnalyticsManifest.load` validates all of it and raises
:class:`~mosaic_core._errors.ManifestError` naming the field.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core._errors import ManifestError

__all__ = [
    "MANIFEST_FILENAME",
    "SCHEMA_VERSION",
    "ArtifactsMetadata",
    "CheckpointMetadata",
    "TensorBoardMetadata",
    "WandBMetadata",
    "WorkerAnalyticsManifest",
]

SCHEMA_VERSION = 1
MANIFEST_FILENAME = "analytics.json"


def _relative_path(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    name = f"{type(instance).__name__}.{attribute.name}"
    _check_relative(value, name)


def _check_relative(value: Any, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{name}: got {value!r}; expected a non-empty relative path string")
    path = pathlib.PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or pathlib.PureWindowsPath(value).is_absolute():
        raise ManifestError(
            f"{name}: got the absolute path {value!r}; expected a path relative to the run "
            "directory, such as 'checkpoints/final.pt'"
        )
    if ".." in path.parts:
        raise ManifestError(f"{name}: {value!r} climbs out of the run directory with '..'")


def _paths(instance: Any, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for index, item in enumerate(value):
        _check_relative(item, f"{type(instance).__name__}.{attribute.name}[{index}]")


def _path_tuple(value: Any) -> tuple[Any, ...]:
    # A bare string is one file, not a tuple of its characters.
    return (value,) if isinstance(value, str) else tuple(value)


def _non_empty(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value:
        name = f"{type(instance).__name__}.{attribute.name}"
        raise ManifestError(f"{name}: got {value!r}; expected a non-empty string")


def _optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ManifestError(
            f"{type(instance).__name__}.{attribute.name}: got {value!r}; expected a string or null"
        )


@attrs.frozen(kw_only=True)
class CheckpointMetadata:
    """Where a run's checkpoints are, in what format, and which files.

    ``files`` and ``latest`` are relative to the run directory, like every
    manifest path: ``("checkpoints/step_1000.pt", "checkpoints/final.pt")``.
    """

    directory: str = attrs.field(default="checkpoints", validator=_relative_path)
    format: str = attrs.field(default="pytorch", validator=_non_empty)
    files: tuple[str, ...] = attrs.field(default=(), converter=_path_tuple, validator=_paths)
    latest: str | None = attrs.field(default=None, validator=_relative_path)


@attrs.frozen(kw_only=True)
class TensorBoardMetadata:
    log_dir: str = attrs.field(default="tensorboard", validator=_relative_path)


@attrs.frozen(kw_only=True)
class WandBMetadata:
    project: str | None = attrs.field(default=None, validator=_optional_str)
    entity: str | None = attrs.field(default=None, validator=_optional_str)
    run_id: str | None = attrs.field(default=None, validator=_optional_str)
    url: str | None = attrs.field(default=None, validator=_optional_str)
    mode: str = attrs.field(default="offline", validator=_non_empty)


def _tensorboard(value: Any) -> Any:
    # The original guide passed a bare directory string.
    return TensorBoardMetadata(log_dir=value) if isinstance(value, str) else value


def _instance_of(cls: type, optional: bool = True) -> Any:
    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if (optional and value is None) or isinstance(value, cls):
            return
        raise ManifestError(
            f"{type(instance).__name__}.{attribute.name}: got {type(value).__name__}; "
            f"expected {cls.__name__}" + (" or None" if optional else "")
        )

    return validate


@attrs.frozen(kw_only=True)
class ArtifactsMetadata:
    tensorboard: TensorBoardMetadata | None = attrs.field(
        default=None, converter=_tensorboard, validator=_instance_of(TensorBoardMetadata)
    )
    wandb: WandBMetadata | None = attrs.field(default=None, validator=_instance_of(WandBMetadata))
    checkpoints: CheckpointMetadata | None = attrs.field(
        default=None, validator=_instance_of(CheckpointMetadata)
    )
    logs_dir: str | None = attrs.field(default=".", validator=_relative_path)
    videos_dir: str | None = attrs.field(default=None, validator=_relative_path)


@attrs.frozen(kw_only=True)
class WorkerAnalyticsManifest:
    """The ``analytics.json`` of one run (schema version 1)."""

    run_id: str = attrs.field(validator=_non_empty)
    worker_type: str = attrs.field(validator=_non_empty)
    artifacts: ArtifactsMetadata = attrs.field(
        factory=ArtifactsMetadata, validator=_instance_of(ArtifactsMetadata, optional=False)
    )
    metadata: dict[str, Any] = attrs.field(factory=dict)
    schema_version: int = attrs.field(default=SCHEMA_VERSION)

    @metadata.validator
    def _check_metadata(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, dict):
            raise ManifestError(
                f"manifest metadata: got {type(value).__name__}; expected an object"
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"manifest metadata is not JSON-serialisable: {exc}") from None

    @schema_version.validator
    def _check_version(self, attribute: attrs.Attribute[Any], value: Any) -> None:
        if type(value) is not int or value != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema_version {value!r} is not supported; this mosaic-core reads "
                f"version {SCHEMA_VERSION} (upgrade mosaic-core for newer manifests)"
            )

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerAnalyticsManifest:
        if not isinstance(data, Mapping):
            raise ManifestError(f"manifest: got {type(data).__name__}; expected a JSON object")
        data = dict(data)
        artifacts = _sub(data.pop("artifacts", {}), ArtifactsMetadata, "artifacts")
        subs = {
            "tensorboard": TensorBoardMetadata,
            "wandb": WandBMetadata,
            "checkpoints": CheckpointMetadata,
        }
        for key, sub_cls in subs.items():
            if isinstance(artifacts.get(key), Mapping):
                artifacts[key] = _build(sub_cls, artifacts[key], f"artifacts.{key}")
        data["artifacts"] = _build(ArtifactsMetadata, artifacts, "artifacts")
        manifest: WorkerAnalyticsManifest = _build(cls, data, "manifest")
        return manifest

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Write atomically to ``path``, or to ``path/analytics.json`` if it is a directory."""
        target = pathlib.Path(path)
        if target.is_dir():
            target = target / MANIFEST_FILENAME
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WorkerAnalyticsManifest:
        """Read and validate; ``path`` is the file or the run directory holding it."""
        source = pathlib.Path(path)
        if source.is_dir():
            source = source / MANIFEST_FILENAME
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"no manifest at {source}") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ManifestError(f"{source}: not a readable JSON manifest: {exc}") from None
        try:
            return cls.from_dict(data)
        except ManifestError as exc:
            raise ManifestError(f"{source}: {exc}") from None

    def missing_files(self, run_dir: str | os.PathLike[str]) -> list[str]:
        """Paths the manifest lists that do not exist under ``run_dir``."""
        root = pathlib.Path(run_dir)
        listed: list[str] = []
        ck = self.artifacts.checkpoints
        if ck is not None:
            listed += list(ck.files)
            if ck.latest:
                listed.append(ck.latest)
        if self.artifacts.tensorboard is not None:
            listed.append(self.artifacts.tensorboard.log_dir)
        return [p for p in listed if not (root / p).exists()]


def _sub(value: Any, cls: type, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ManifestError(f"{where}: got {type(value).__name__}; expected an object")
    return dict(value)


def _build(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ManifestError(f"{where}: got {type(data).__name__}; expected an object")
    names = {a.name for a in attrs.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ManifestError(
            f"{where}: unknown key {unknown[0]!r}; expected some of {sorted(names)}"
        )
    try:
        return cls(**data)
    except TypeError as exc:
        raise ManifestError(f"{where}: {exc}") from None
