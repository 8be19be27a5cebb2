"""The pages about the layers stay in step with the package.

docs/api.rst documents the SDK and only the SDK: every name of
``mosaic_core.__all__`` and nothing else of mosaic_core. docs/layers.rst
lists every 1.0 module path and name that 1.1 moved. (Like datasette's test
that every plugin hook is documented.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mosaic_core
from mosaic_core._moved import MOVED_MODULES, MOVED_NAMES

DOCS = Path(__file__).resolve().parents[3] / "docs"

pytestmark = pytest.mark.skipif(
    not (DOCS / "api.rst").is_file(), reason="the docs are not next to the tests"
)

#: ``.. autoclass:: mosaic_core.X`` and the like: the object each directive documents.
DIRECTIVE = re.compile(
    r"^\.\. (?:auto)?(?:class|function|exception|data|method|attribute)::\s+([\w.]+)",
    re.MULTILINE,
)


def documented(page: str) -> list[str]:
    """Every object a page documents, named as under ``.. module:: mosaic_core``."""
    names = DIRECTIVE.findall((DOCS / page).read_text(encoding="utf-8"))
    return [n if n.startswith("mosaic_core.") else f"mosaic_core.{n}" for n in names]


def test_api_page_documents_every_public_name_once() -> None:
    names = documented("api.rst")
    assert sorted(names) == sorted(f"mosaic_core.{name}" for name in mosaic_core.__all__)


def test_api_page_documents_nothing_of_the_host_or_a_private_module() -> None:
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    deeper = [n for n in documented("api.rst") if n.count(".") > 1]
    assert deeper == []
    assert re.findall(r"^\.\. (?:module|currentmodule)::\s+(\S+)", text, re.MULTILINE) == [
        "mosaic_core"
    ]


def test_host_page_documents_only_the_host() -> None:
    host = ("mosaic_core.runs.", "mosaic_core.plugins.", "mosaic_core.operators.")
    host += (
        "mosaic_core.venvs.",
        "mosaic_core.families.",
        "mosaic_core.query.",
        "mosaic_core.interop.",
    )
    names = documented("host.rst")
    assert names, "docs/host.rst documents nothing"
    assert [n for n in names if not n.startswith(host)] == []


def row(old: str) -> str:
    """The line of a table on docs/layers.rst that starts with ``old``."""
    page = (DOCS / "layers.rst").read_text(encoding="utf-8")
    found = re.search(rf"^``{re.escape(old)}``.*$", page, flags=re.MULTILINE)
    assert found, f"docs/layers.rst has no row for {old}"
    return found.group(0)


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_layers_page_maps_every_moved_module_to_its_place(old: str) -> None:
    place = row(old)
    for home in MOVED_MODULES[old]:
        if home.startswith("mosaic_core._"):
            assert "mosaic_core" in place.split(maxsplit=1)[1], place
        else:
            assert home.rsplit(".", 1)[0] in place.split(maxsplit=1)[1], place


@pytest.mark.parametrize("old", sorted(MOVED_NAMES))
def test_layers_page_maps_every_moved_name_to_its_place(old: str) -> None:
    home = MOVED_NAMES[old]
    expected = "load_worker_config" if home.startswith("mosaic_core._") else f"``{home}``"
    assert expected in row(old)


def test_layers_picture_is_drawn_from_the_contracts_as_they_are() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(DOCS / "layers_svg.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_pages_count_the_public_names_as_they_are() -> None:
    count = len(mosaic_core.__all__)
    assert f"its {count} public names" in (DOCS / "index.rst").read_text(encoding="utf-8")
    layers = (DOCS / "layers.rst").read_text(encoding="utf-8")
    assert f"``mosaic_core.__all__``, {count} names" in " ".join(layers.split())
