"""docs/runs.rst states what survives each fault in the words MOSAIC prints and the tests
check: every fault has its paragraph, and every message the page quotes is one the code
really prints (the fault tests assert on the same words)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "runs.rst"
SOURCE = Path(__file__).resolve().parents[1] / "src" / "mosaic_core"

pytestmark = pytest.mark.skipif(not PAGE.is_file(), reason="the docs are not next to the tests")

FAULTS = (
    "A full disk",
    "A read-only home",
    "A damaged database",
    "A rebuild while runs go on",
    "Numbers and text the index cannot hold",
    "A duplicate plugin",
    "Processes",
    "Secrets",
    "The step protocol",
)

# What the page quotes -> where the code says it (and the tests assert it).
MESSAGES = {
    "the disk holding ... is full": ("runs/database.py", "the disk holding {home} is full"),
    "the run store ... is read-only": ("runs/database.py", "the run store {home} is read-only"),
    "the run index ... is damaged": ("runs/database.py", "the run index {db} is damaged"),
    "mosaic db rebuild": ("runs/database.py", "`mosaic db rebuild` moves it aside"),
    "mosaic: skipped runs/<dir>: <why>": ("cli/runs.py", 'f"mosaic: skipped runs/{name}: {why}"'),
    "the telemetry channel of run ... is\n    gone": (
        "_channel.py",
        "the telemetry channel of run {self.run_id} is gone",
    ),
    "mosaic.db.damaged-<time>": ("runs/rebuild.py", 'f"{db.name}.damaged-{stamp}{suffix}"'),
    "ambiguous": ("_discovery.py", "is ambiguous: {names} both register it"),
    "disk_full": ("runs/supervisor.py", '"disk_full"'),
    "out_of_range": ("runs/reader.py", '"out_of_range"'),
}


def section() -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index("What survives a fault\n---------------------")
    end = text.index("\n---", start + 50)
    return text[start:end]


def test_every_fault_has_its_paragraph() -> None:
    terms = re.findall(r"^(\S[^\n]*)\n    \S", section(), flags=re.MULTILINE)
    assert tuple(terms) == FAULTS


@pytest.mark.parametrize("quoted", sorted(MESSAGES))
def test_the_page_quotes_what_the_code_prints(quoted: str) -> None:
    assert quoted in section(), f"docs/runs.rst no longer says {quoted!r}"
    module, text = MESSAGES[quoted]
    assert text in (SOURCE / module).read_text(encoding="utf-8"), (module, text)
