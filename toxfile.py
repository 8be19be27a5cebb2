"""tox's in-tree plugin: ``python3 -m tox`` deletes each environment once it has run.

All twelve environments of ``env_list`` together take about 13 GB (six carry
their own torch), more than some machines have free, so a run of the whole
list (no ``-e``) keeps one at a time: each environment's directory goes as
soon as its commands are done, pass or fail. ``tox -e ENV`` keeps ``ENV`` for
the next run, and ``MOSAIC_TOX_KEEP=1`` keeps every environment.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from tox.plugin import impl
from tox.tox_env.runner import RunToxEnv


def _size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


@impl
def tox_env_teardown(tox_env: Any) -> None:
    if not isinstance(tox_env, RunToxEnv) or os.environ.get("MOSAIC_TOX_KEEP") == "1":
        return
    if not tox_env.options.env.is_default_list:
        return
    where = str(tox_env.env_dir)
    if not os.path.isdir(where):
        return
    size = _size(where)
    shutil.rmtree(where, ignore_errors=True)
    free = shutil.disk_usage(os.path.dirname(where)).free
    print(
        f"{tox_env.name}: deleted its environment ({size / 2**30:.1f} GB; "
        f"{free / 2**30:.0f} GB free; MOSAIC_TOX_KEEP=1 keeps it)",
        file=sys.stderr,
        flush=True,
    )
