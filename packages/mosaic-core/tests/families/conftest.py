"""The fixture families on ``sys.path`` (this directory), and as an installed distribution."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def families_importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(HERE))
    yield
    sys.modules.pop("mosaictest_families", None)


@pytest.fixture(scope="session")
def family_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mosaictest-families`` as an installer lays it out, with a broken sibling plugin."""
    root = tmp_path_factory.mktemp("family-site")
    shutil.copy(HERE / "mosaictest_families.py", root / "mosaictest_families.py")
    (root / "mosaictest_crashing_family.py").write_text(
        'raise RuntimeError("this family cannot start")\n', encoding="utf-8"
    )
    info = root / "mosaictest_families-2.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mosaictest-families\nVersion: 2.0.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[mosaic.env_families]\nfixture = mosaictest_families\n"
        "crashing = mosaictest_crashing_family\n",
        encoding="utf-8",
    )
    return root
