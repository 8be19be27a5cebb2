"""What a check ends with: passed with a note, failed with what to fix, or skipped with why.

The bottom of the kit: the checks, the worker under test and the runner all
import these, and this module imports nothing of the kit.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from mosaic_core._errors import MosaicError

__all__ = ["CheckFailed", "CheckResult", "CheckSkipped", "Report", "Status", "describe", "tail"]

Status = Literal["passed", "failed", "skipped"]


class CheckFailed(MosaicError, AssertionError):
    """The worker breaks the contract; the message says what to fix."""


class CheckSkipped(Exception):
    """The check does not apply to this worker (or cannot run); the message says why."""


@attrs.frozen(kw_only=True)
class CheckResult:
    id: str
    status: Status
    message: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }


@attrs.frozen(kw_only=True)
class Report:
    """The results of one ``check_worker`` call, in check order."""

    worker_type: str
    results: tuple[CheckResult, ...]
    #: The mosaic-core the checks ran against.
    mosaic_core_version: str = ""
    #: What the worker declares about it, e.g. ``mosaic-gridworld-worker 0.1.0 requires
    #: mosaic-core>=1.1,<2``; empty when the worker did not load.
    requirement: str = ""

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks do not count against a worker)."""
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] += 1
        return out

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "worker": self.worker_type,
            "mosaic_core_version": self.mosaic_core_version,
            "requirement": self.requirement,
            "ok": self.ok,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


def describe(value: Any, limit: int = 120) -> str:
    """A short repr for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ``text``, indented, for a failure message."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (empty)"
