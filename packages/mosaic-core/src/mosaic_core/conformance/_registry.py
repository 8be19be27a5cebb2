"""Every check of the kit, in the order they run. The ids are stable: authors select by them."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from mosaic_core.conformance._config import (
    check_config_errors,
    check_config_files,
    check_config_protocol,
    check_config_round_trip,
)
from mosaic_core.conformance._endings import check_bad_config_run, check_cancel, check_failing_run
from mosaic_core.conformance._operator import check_operator_protocol
from mosaic_core.conformance._runs import (
    check_checkpoints,
    check_heartbeats,
    check_manifest,
    check_smoke_run,
)
from mosaic_core.conformance._static import (
    check_capabilities,
    check_entry_point,
    check_light_import,
    check_metadata,
)
from mosaic_core.conformance._stopped import check_cancel_checkpoint
from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = ["CHECKS", "CHECK_IDS", "Check"]


@attrs.frozen
class Check:
    """One check: a stable id, a one-line summary, and the function that runs it."""

    id: str
    summary: str
    func: Callable[[WorkerUnderTest], str]


def _check(check_id: str, func: Callable[[WorkerUnderTest], str]) -> Check:
    """A check whose summary is the first line of its function's docstring."""
    return Check(check_id, (func.__doc__ or "").strip().splitlines()[0], func)


CHECKS: tuple[Check, ...] = (
    _check("entry-point", check_entry_point),
    _check("plugin-light-import", check_light_import),
    _check("metadata", check_metadata),
    _check("capabilities", check_capabilities),
    _check("config-protocol", check_config_protocol),
    _check("config-round-trip", check_config_round_trip),
    _check("config-files", check_config_files),
    _check("config-errors", check_config_errors),
    _check("smoke-run", check_smoke_run),
    _check("heartbeats", check_heartbeats),
    _check("manifest", check_manifest),
    _check("checkpoints", check_checkpoints),
    _check("failing-run", check_failing_run),
    _check("bad-config-run", check_bad_config_run),
    _check("cancel", check_cancel),
    _check("cancel-checkpoint", check_cancel_checkpoint),
    _check("operator-protocol", check_operator_protocol),
)

CHECK_IDS: tuple[str, ...] = tuple(c.id for c in CHECKS)
