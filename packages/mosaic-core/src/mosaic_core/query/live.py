"""The run table kept in memory for a long-lived front end, brought up to date by what changed.

:func:`~mosaic_core.query.run_table` reads every run each time: right for a
command, too slow for a page asked many times a second over ten thousand
runs. :class:`RunIndex` keeps each run's row (as
:func:`~mosaic_core.query.run_row` makes it, with its headline metric) and,
on :meth:`RunIndex.refresh`, reads again only the runs whose status, step,
event count or end changed. :meth:`RunIndex.table` filters and sorts with the
same :class:`~mosaic_core.query.Filter` and sort rules as ``mosaic runs``.

A live run's headline metric is read again at most every ``metric_every``
seconds (and once more when it ends): the summary reads all of a metric's
rows, which a run flooding the store with a million of them makes slow, and
its status and step must not wait for that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from mosaic_core._errors import ConfigError
from mosaic_core.query.filters import Filter
from mosaic_core.query.table import _attach, _check_metric, _with_metric, run_row, sort_rows
from mosaic_core.runs.store import ACTIVE_STATUSES, STATUSES, RunStore

__all__ = ["RunIndex"]

#: The columns :meth:`RunIndex.table` searches for its ``search`` text.
SEARCHED = ("run_id", "worker_type", "algorithm", "env_id", "group", "reason", "status")


class RunIndex:
    """Every run's row in memory; safe to share between threads."""

    def __init__(self, metric_every: float = 5.0) -> None:
        self.metric_every = metric_every
        self._metric_at: dict[str, float] = {}
        self._rows: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._marks: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def refresh(self, store: RunStore) -> tuple[list[str], list[str]]:
        """Read again the runs that changed since the last refresh; returns ``(changed,
        deleted)`` run ids (every run, the first time)."""
        marks = store.run_marks()
        with self._lock:
            changed = [rid for rid, mark in marks.items() if self._marks.get(rid) != mark]
            deleted = [rid for rid in self._marks if rid not in marks]
        rows = [run_row(r) for r in store.get_many(changed)] if changed else []
        now = time.monotonic()
        stale = []
        with self._lock:
            for row in rows:
                old = self._rows.get(row["run_id"])
                recent = now - self._metric_at.get(row["run_id"], -1e9) < self.metric_every
                if old is not None and recent and row["status"] in ACTIVE_STATUSES:
                    row["metric"] = old["metric"]
                else:
                    stale.append(row)
        if stale:
            _attach(store, stale, None, "tail")
        with self._lock:
            for row in stale:
                self._metric_at[row["run_id"]] = now
            for rid in deleted:
                self._rows.pop(rid, None)
                self._marks.pop(rid, None)
                self._metric_at.pop(rid, None)
            for row in rows:
                rid = row["run_id"]
                self._rows[rid] = row
                self._marks[rid] = marks[rid]
            if deleted or any(rid not in self._order for rid in changed):
                self._order = sorted(
                    self._rows, key=lambda r: (self._rows[r]["created_at"], r), reverse=True
                )
        return [r["run_id"] for r in rows], deleted

    def rows(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of these runs (those known), in the order given."""
        with self._lock:
            return [self._rows[r] for r in run_ids if r in self._rows]

    def __len__(self) -> int:
        return len(self._rows)

    def table(
        self,
        store: RunStore,
        *,
        worker: str | None = None,
        status: str | None = None,
        group: str | None = None,
        filters: Sequence[Filter] = (),
        search: str | None = None,
        sort: str | None = None,
        metric: str | None = None,
        stat: str = "tail",
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """``(rows, total)``: the page ``offset:offset+limit`` of the matching runs, newest
        first unless ``sort`` says otherwise, and how many match in all. ``metric`` and
        ``stat`` as in :func:`~mosaic_core.query.run_table` (the headline, by default)."""
        _check_metric(metric, stat)
        if status is not None and status not in STATUSES:
            raise ConfigError.bad_value("--status", status, f"one of {', '.join(STATUSES)}")
        if offset < 0:
            raise ConfigError.bad_value("offset", offset, "a whole number >= 0")
        if limit is not None and limit < 1:
            raise ConfigError.bad_value("--limit", limit, "a whole number >= 1")
        with self._lock:
            rows = [self._rows[r] for r in self._order]
        if worker:
            rows = [r for r in rows if r["worker_type"] == worker]
        if status:
            rows = [r for r in rows if r["status"] == status]
        if group is not None:
            rows = [r for r in rows if r["group"] == group]
        if search:
            needle = search.lower()
            rows = [r for r in rows if any(needle in str(r.get(c) or "").lower() for c in SEARCHED)]
        custom = metric is not None or stat != "tail"
        wants_metric = (sort or "").lstrip("-+").split(":")[0] == "metric" or any(
            f.field == "metric" for f in filters
        )
        if custom and wants_metric:
            rows = [dict(r) for r in rows]
            _attach(store, rows, metric, stat)
        rows = [r for r in rows if all(f(_with_metric(r)) for f in filters)]
        if sort is not None:
            rows = sort_rows(rows, sort)
        total = len(rows)
        page = rows[offset : None if limit is None else offset + limit]
        if custom and not wants_metric:
            page = [dict(r) for r in page]
            _attach(store, page, metric, stat)
        return page, total
