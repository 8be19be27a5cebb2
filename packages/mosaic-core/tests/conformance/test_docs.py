"""docs/conformance.rst documents every check and every hook, in step with the code.

Like datasette's test that every plugin hook is documented: a check or a
WorkerSpec field added without its paragraph fails here, and so does a
paragraph left behind after a removal.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from mosaic_core import WorkerSpec
from mosaic_core import _hooks as hookspecs
from mosaic_core.conformance import CHECK_IDS, CHECKS

PAGE = Path(__file__).resolve().parents[4] / "docs" / "conformance.rst"

pytestmark = pytest.mark.skipif(not PAGE.is_file(), reason="the docs are not next to the tests")


def labels(prefix: str) -> list[str]:
    return re.findall(rf"^\.\. _{prefix}-([\w-]+):$", PAGE.read_text(), flags=re.MULTILINE)


def test_every_check_is_documented_in_the_order_the_kit_runs_them() -> None:
    assert labels("check") == list(CHECK_IDS)


def test_every_hook_and_spec_field_is_documented() -> None:
    hooks = [name for name in dir(hookspecs) if name.startswith("mosaic_")]
    fields = [field.name for field in attrs.fields(WorkerSpec)]
    assert sorted(labels("hook")) == sorted(hooks + fields)


def test_every_check_has_a_one_line_summary() -> None:
    for check in CHECKS:
        assert check.summary.endswith("."), check
        assert len(check.summary) <= 100, check
