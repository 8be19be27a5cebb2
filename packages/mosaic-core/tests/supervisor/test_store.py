"""The run store's own guarantees, without worker processes."""

from __future__ import annotations

import json
import pathlib

from mosaic_core.runs import RunStore


def test_rebuild_restores_environments_from_their_records(tmp_path: pathlib.Path) -> None:
    record = {
        "name": "old-python",
        "worker_type": "fixture",
        "path": str(tmp_path / "envs" / "old-python"),
        "python": str(tmp_path / "envs" / "old-python" / "bin" / "python"),
        "python_version": "3.10.13",
        "requirements": ["mosaic-core==1.0.0"],
        "workers": [{"worker_type": "fixture", "console_module": None}],
        "created_at": 1.0,
    }
    env_dir = tmp_path / "envs" / "old-python"
    env_dir.mkdir(parents=True)
    (env_dir / "mosaic-env.json").write_text(json.dumps(record))
    with RunStore(tmp_path) as store:
        store.save_env(record)
    for name in ("mosaic.db", "mosaic.db-wal", "mosaic.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with RunStore(tmp_path) as store:
        assert store.envs() == []
        store.rebuild()
        assert store.envs() == [record]
