"""Recording how runs end, in a store that may fail under them.

A supervisor records each run's end in the store. When the store cannot
take it (a full disk, a damaged or read-only database, a lock held past its
timeout) the :class:`Recorder` keeps what it could not write, and
:meth:`Recorder.retry` writes it, with the events the index missed
meanwhile, as soon as the store takes it again; the :class:`RunResult` a
caller gets says what this process knows either way. If the store never
takes it while the supervisor lives, an empty file in the run directory,
``.end.<status>.<reason>`` (an empty file needs no space a full disk lacks),
tells :func:`~mosaic_core.runs.supervisor.reconcile` how the run ended.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import re
import sqlite3
import sys
import time
from collections.abc import Mapping
from typing import Any

import attrs

from mosaic_core._secrets import Scrubber
from mosaic_core.runs.database import StoreError, explain
from mosaic_core.runs.store import RunNotFound, RunStore

__all__ = ["Recorder", "RunResult", "end_mark", "warn"]

_MARK = ".end."
_WORD = re.compile(r"[a-z_]{1,40}\Z")


@attrs.frozen(kw_only=True)
class RunResult:
    run_id: str
    status: str
    reason: str | None
    exit_code: int | None
    signal: str | None
    duration_s: float
    run_dir: str
    final_metrics: dict[str, Any]
    #: The terminal event's payload: ``run_completed``'s summary, ``run_failed``'s error;
    #: ``{}`` when the worker sent none.
    summary: dict[str, Any] = attrs.field(factory=dict)
    #: The seed the run used: its config's, or the one the worker reported choosing.
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Recorder:
    """The ends of one supervisor's runs: written to ``store``, or kept until it can be."""

    def __init__(self, store: RunStore, scrubbers: Mapping[str, Scrubber]) -> None:
        self.store = store
        self._scrubbers = scrubbers
        #: Why the store could not be written, once it failed.
        self.problem: StoreError | None = None
        self._unrecorded: dict[str, dict[str, Any]] = {}  # run id -> fields not yet written

    def failed(self, exc: BaseException) -> bool:
        """Note that the store failed with ``exc``; True the first time."""
        if self.problem is not None:
            return False
        self.problem = explain(exc, self.store.home) or StoreError(str(exc))
        return True

    def record(self, run_id: str, **fields: Any) -> bool:
        """``store.update``, or, when the store cannot take it, kept to try again later."""
        if self.problem is None:
            try:
                self.store.update(run_id, **fields)
                return True
            except RunNotFound:
                return False
            except (OSError, sqlite3.Error) as exc:
                if explain(exc, self.store.home) is not None:
                    self.failed(exc)
                # else busy past its timeout: kept, and written at the end
        self._unrecorded.setdefault(run_id, {}).update(fields)
        return False

    @property
    def unrecorded(self) -> list[str]:
        """Runs whose end the store has not taken (it failed under them)."""
        return list(self._unrecorded)

    def retry(self, results: dict[str, RunResult], patience: float = 10.0) -> None:
        """Write the ends the store could not take when they happened (and the events it
        missed), retrying with backoff for ``patience`` seconds: space may come back once
        the workers stop. ``results`` gets each run's result again as it is written."""
        if not self._unrecorded:
            return
        deadline = time.monotonic() + patience
        delay = 0.1
        while self._unrecorded:
            for run_id, fields in list(self._unrecorded.items()):
                try:
                    # What the index missed meanwhile first: every complete line is kept.
                    self.store.catch_up(run_id, final=True, scrub=self._scrubbers.get(run_id))
                    self.store.update(run_id, **fields)
                except RunNotFound:
                    pass
                except Exception:  # noqa: BLE001 - still failing: try again below
                    continue
                del self._unrecorded[run_id]
                results[run_id] = self.result(run_id, time.time())
            if not self._unrecorded or time.monotonic() + delay > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        if self._unrecorded:
            for run_id, fields in self._unrecorded.items():
                _leave_mark(self.store.run_dir(run_id), fields)
            warn(
                f"could not record the end of run(s) {', '.join(self._unrecorded)}; the next "
                "`mosaic runs` with the store writable again records it"
            )
        else:
            self.problem = None

    def result(self, run_id: str, started: float) -> RunResult:
        """What is known of a run's end: the store's record, with what it has not taken."""
        kept = self._unrecorded.get(run_id, {})
        try:
            run = dict(self.store.get(run_id))
            final_metrics = self.store.final_metrics(run_id)
        except Exception:  # noqa: BLE001 - the store failed: report what this process knows
            run = {"reason": None, "exit_code": None, "signal": None, "summary": None,
                   "ended_at": None, "started_at": None, "status": "failed",
                   "seed": None}  # fmt: skip
            final_metrics = {}
        run.update(kept)
        summary = json.loads(run["summary"]) if run.get("summary") else {}
        return RunResult(
            run_id=run_id,
            status=run["status"],
            reason=run["reason"],
            exit_code=run["exit_code"],
            signal=run["signal"],
            duration_s=round((run["ended_at"] or time.time()) - (run["started_at"] or started), 3),
            run_dir=str(self.store.run_dir(run_id)),
            final_metrics=final_metrics,
            summary=summary if isinstance(summary, dict) else {"value": summary},
            seed=run.get("seed"),
        )


def warn(message: str) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.write(f"mosaic: {message}\n")
        sys.stderr.flush()


def _leave_mark(run_dir: pathlib.Path, fields: Mapping[str, Any]) -> None:
    status, reason = fields.get("status"), fields.get("reason")
    if isinstance(status, str) and isinstance(reason, str) and _WORD.match(reason):
        with contextlib.suppress(OSError):
            (run_dir / f"{_MARK}{status}.{reason}").touch()


def end_mark(run_dir: pathlib.Path, *, remove: bool = False) -> tuple[str, str] | None:
    """``(status, reason)`` a supervisor left in ``run_dir`` when its store could not take
    them; ``remove`` deletes the mark once they are recorded."""
    try:
        marks = sorted(run_dir.glob(f"{_MARK}*"))
    except OSError:
        return None
    for mark in marks:
        status, _, reason = mark.name[len(_MARK) :].partition(".")
        if remove:
            with contextlib.suppress(OSError):
                mark.unlink()
        if status in ("failed", "cancelled", "completed") and _WORD.match(reason):
            return status, reason
    return None
