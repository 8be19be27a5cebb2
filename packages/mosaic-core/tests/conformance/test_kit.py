"""The kit against real installed workers: the reference worker passes, each broken one fails.

Every negative fixture breaks one contract rule; the kit must fail it with
the check id that names the rule and a message that says what to fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from mosaic_core import MosaicError
from mosaic_core.conformance import CHECK_IDS, Conformance, check_worker

from .conftest import BANDIT_SRC


def statuses(report: Any) -> dict[str, str]:
    return {r.id: r.status for r in report.results}


@pytest.mark.skipif(not BANDIT_SRC.is_dir(), reason="the docs' example worker is not here")
def test_reference_worker_passes_every_check(kit_env: Any) -> None:
    report = check_worker("bandit")
    failures = {r.id: r.message for r in report.failures()}
    assert failures == {}
    assert report.ok
    assert statuses(report) == dict.fromkeys(CHECK_IDS, "passed")


def test_correct_fixture_passes_every_check(kit_env: Any) -> None:
    report = check_worker("kf-good")
    assert {r.id: r.message for r in report.failures()} == {}
    assert statuses(report)["cancel"] == statuses(report)["cancel-checkpoint"] == "passed"
    assert statuses(report)["operator-protocol"] == "skipped"


#: (worker, the check that must fail, a fragment of its message, the kit's options)
BROKEN = [
    ("kf-missing", "entry-point", "no installed plugin provides worker 'kf-missing'", {}),
    ("kf-brokenep", "entry-point", "No module named 'kitfix_no_such_module'", {}),
    ("kf-legacy", "entry-point", "legacy entry point", {}),
    ("kf-heavy", "plugin-light-import", "kitfix_kf_heavy -> torch", {}),
    ("kf-badcaps", "capabilities", "did you mean 'discrete'", {}),
    ("kf-badcaps", "entry-point", "WorkerCapabilities.action_spaces", {}),
    ("kf-badversion", "metadata", "distribution kitfix-kf-badversion is '0.1.0'", {}),
    ("kf-norunid", "config-protocol", "NoRunIdConfig lacks run_id", {}),
    ("kf-lossy", "config-round-trip", "from_dict(to_dict()) changed the config", {}),
    ("kf-lenient", "config-errors", "accepted the unknown key 'env_ix'", {}),
    ("kf-nosmoke", "smoke-run", "WorkerSpec.smoke_config is not set", {}),
    ("kf-nodict", "smoke-run", "returned list; expected a dict summary", {}),
    ("kf-twoterm", "smoke-run", "2 terminal events", {}),
    ("kf-metricsfirst", "smoke-run", "the first event is metrics", {}),
    ("kf-seqgap", "smoke-run", "without gaps", {}),
    ("kf-silent", "heartbeats", "silent for 1.", {"max_silence": 0.5}),
    ("kf-nomanifest", "manifest", "wrote no analytics.json", {}),
    ("kf-missingckpt", "checkpoints", "checkpoints/never-written.pt", {}),
    ("kf-rawmain", "failing-run", "without run_failed", {}),
    ("kf-rawmain", "bad-config-run", "stderr shows a traceback", {}),
    ("kf-failok", "failing-run", "it ended with run_completed, not run_failed", {}),
    ("kf-ignoreterm", "cancel", "ignored SIGTERM", {"cancel_grace": 0.5}),
    ("kf-ignoreterm", "cancel-checkpoint", "killed with SIGKILL", {"cancel_grace": 0.5}),
    ("kf-keepnothing", "cancel-checkpoint", "the cancelled run left no checkpoint", {}),
    ("kf-badoperator", "operator-protocol", "operator_factory returned NoneType", {}),
]


@pytest.mark.parametrize(
    ("worker", "check_id", "fragment", "options"),
    [pytest.param(*case, id=f"{case[0]}:{case[1]}") for case in BROKEN],
)
def test_broken_worker_fails_the_check_of_its_rule(
    run_check: Any, worker: str, check_id: str, fragment: str, options: dict[str, Any]
) -> None:
    result = run_check(worker, check_id, **options)
    assert result.status == "failed", result
    assert fragment in result.message


@pytest.mark.parametrize(
    ("worker", "check_id", "fragment"),
    [
        ("kf-nofailing", "failing-run", "WorkerSpec.failing_config is not set"),
        ("kf-nockpt", "checkpoints", "does not declare supports_checkpointing"),
        ("kf-nockpt", "cancel-checkpoint", "does not declare supports_checkpointing"),
        ("kf-good", "operator-protocol", "declares no operator_factory"),
        ("kf-brokenep", "smoke-run", "did not load"),
        ("kf-nosmoke", "manifest", "there is no smoke run"),
    ],
)
def test_check_that_does_not_apply_is_skipped_with_its_reason(
    run_check: Any, worker: str, check_id: str, fragment: str
) -> None:
    result = run_check(worker, check_id)
    assert result.status == "skipped", result
    assert fragment in result.message


def test_a_cancelled_run_keeps_a_checkpoint_its_operator_loads(run_check: Any) -> None:
    result = run_check("kf-operator", "cancel-checkpoint")
    assert result.status == "passed", result
    assert result.message.startswith("checkpoints/stopped.json kept; the operator loaded it")


def test_operator_is_served_and_speaks_the_step_protocol(run_check: Any) -> None:
    result = run_check("kf-operator", "operator-protocol")
    assert result.status == "passed", result
    assert result.message.startswith("ping, errors for bad input, stop")


def test_unknown_check_id_is_an_error_with_a_did_you_mean(kit_env: Any) -> None:
    with pytest.raises(MosaicError, match="did you mean 'smoke-run'"):
        check_worker("kf-good", select=["smoke_run"])


def test_checks_share_one_smoke_run_and_run_once(kit_env: Any, tmp_path: Any) -> None:
    with Conformance("kf-good", workdir=tmp_path) as kit:
        first = kit.run("smoke-run")
        assert kit.run("manifest").status == "passed"
        assert kit.run("smoke-run") is first
        assert len(kit.store.list_runs()) == 1


def test_selected_checks_run_in_the_kits_order(kit_env: Any) -> None:
    report = check_worker("kf-good", select=["metadata", "entry-point"])
    assert [r.id for r in report.results] == ["entry-point", "metadata"]
