"""Every family's library is installed in this package's test environment (tox -e mosaic-envs).

An environment with only some of them (a worker's, to see which families run
there) names those in ``MOSAIC_ENVS_EXPECT=toy_text,minigrid,...``; tests of
the others are skipped. pygame needs no display or sound card here;
MOSAIC_HOME (TextWorld's game cache among it) is one temporary directory
for the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ALL = (
    "toy_text", "classic_control", "minigrid", "babyai", "multigrid", "pettingzoo_classic",
    "mpe", "crafter", "textworld",
)  # fmt: skip
EXPECTED = frozenset(filter(None, os.environ.get("MOSAIC_ENVS_EXPECT", ",".join(ALL)).split(",")))


def need(*families: str) -> None:
    """Skip unless this environment is expected to have ``families``."""
    missing = sorted(set(families) - EXPECTED)
    if missing:
        pytest.skip(f"not expected here (MOSAIC_ENVS_EXPECT): {', '.join(missing)}")


os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture(scope="session", autouse=True)
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = str(tmp_path_factory.mktemp("mosaic-home"))
    before = os.environ.get("MOSAIC_HOME")
    os.environ["MOSAIC_HOME"] = home
    yield home
    if before is None:
        os.environ.pop("MOSAIC_HOME", None)
    else:
        os.environ["MOSAIC_HOME"] = before
