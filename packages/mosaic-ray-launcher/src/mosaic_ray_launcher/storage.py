"""A shared storage for the runs' checkpoints, TensorBoard files and videos.

With ``--launcher-option storage=URI`` (a directory every node mounts at the
same path: NFS, EFS, a bucket through gcsfuse or s3fs; given as a path or a
``file://`` URI), the agent makes ``URI/RUN_ID/{checkpoints,tensorboard,videos}``
there and links them into the run's directory on the node, so the worker
writes them there as it goes (a run whose node dies keeps what it saved).
They do not travel home; at the end the run's directory at home links to
them when this machine mounts the storage too, and its manifest says where
each lives (``metadata["mosaic_storage"]``: each directory's URI). Object
stores through their own APIs (``s3://``, ``gs://``) are refused: a launcher
would need their client on every node, and a mount does the same job.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import urllib.parse
from collections.abc import Mapping
from typing import Any

from mosaic_core import ConfigError

__all__ = ["MANIFEST_KEY", "check_storage", "link_home"]

#: The key of the manifest's ``metadata`` saying where the run's stored directories live.
MANIFEST_KEY = "mosaic_storage"


def check_storage(value: Any) -> str:
    """The storage option as an absolute path, or a ConfigError naming what is wrong."""
    text = value if isinstance(value, str) else ""
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        text = urllib.parse.unquote(parsed.path)
    elif parsed.scheme:
        raise ConfigError(
            f"--launcher-option storage={value!r}: only a directory every node mounts is "
            "supported (an absolute path or a file:// URI); mount the bucket on the nodes "
            "(gcsfuse, s3fs, EFS) and give its path",
            field="--launcher-option",
            value=value,
        )
    if not text or not os.path.isabs(text):
        raise ConfigError(
            f"--launcher-option storage={value!r}: expected an absolute path or a file:// URI "
            "of a directory mounted at the same path on every node",
            field="--launcher-option",
            value=value,
        )
    return os.path.normpath(text)


def link_home(run_dir: pathlib.Path, placement: Mapping[str, Any]) -> None:
    """A run's stored directories, as its manifest and directory at home show them."""
    base, stored = placement.get("storage"), placement.get("stored") or []
    if not base:
        return
    where = {sub: pathlib.Path(base, sub).as_uri() for sub in stored}
    for sub in stored:
        target, home = pathlib.Path(base, sub), run_dir / sub
        if not target.is_dir():  # this machine does not mount the storage
            continue
        if home.is_symlink():
            home.unlink()
        elif home.is_dir():
            with contextlib.suppress(OSError):  # an empty directory only; never what is home
                home.rmdir()
        if not home.exists():
            home.symlink_to(target, target_is_directory=True)
    manifest = run_dir / "analytics.json"
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("metadata", {}), dict):
            data.setdefault("metadata", {})[MANIFEST_KEY] = where
            tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, manifest)
