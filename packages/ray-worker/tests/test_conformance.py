"""The MOSAIC conformance kit, run against the installed ray worker."""

from __future__ import annotations

import json
import pathlib

from .conftest import mosaic


def test_conformance_kit_passes(home: pathlib.Path) -> None:
    done = mosaic(home, "check", "ray", "--json", timeout=600)
    report = json.loads(done.stdout)
    failed = [c for c in report["results"] if c["status"] == "failed"]
    assert done.returncode == 0 and report["ok"] and not failed, failed
    outcomes = {c["id"]: c["status"] for c in report["results"]}
    for check in ("smoke-run", "failing-run", "checkpoints", "cancel", "operator-protocol"):
        assert outcomes[check] == "passed", (check, outcomes)
