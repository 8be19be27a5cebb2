"""The run table: runs as JSON-ready rows, each with a chosen summary metric.

A row is the store's record of a run with its ``config`` and ``summary`` as
objects (``summary`` is ``{}`` until the run ends), its ``group`` and latest
``step``, and ``metric``: ``{"key", "stat", "value"}``, one number that says
how well it learned. By default that is the worker's headline metric
(:attr:`mosaic_core.WorkerSpec.headline_metric`, else a key that looks like a
return) reduced by ``tail``, the mean of its last ten values, which is what
RL papers report as final performance and less noisy than the last episode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from mosaic_core._errors import ConfigError
from mosaic_core.runs.store import RunStore

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:  # the filters (a dataclass: dataclasses, inspect) only when one is given
    from typing import Any

    from mosaic_core.query.filters import Filter

__all__ = [
    "STATS", "TAIL", "metric_values", "pick_headline", "run_columns", "run_row", "run_table",
    "runs_of", "select_runs",
]  # fmt: skip

#: How a metric's series becomes one number per run.
STATS = ("tail", "last", "max", "min", "mean")
#: ``tail`` is the mean of this many last values.
TAIL = 10

# Keys that are a return as the shipped workers and common libraries name it, in the order tried.
_RETURN_KEYS = (
    "charts/episodic_return",
    "env_runners/episode_return_mean",
    "episode_return_mean",
    "charts/mean_reward",
)
_RETURN_WORDS = ("episodic_return", "episode_return", "Episode-Rewards", "return", "reward")


def pick_headline(keys: Iterable[str], declared: str | None = None) -> str | None:
    """The key that best stands for a run's return: ``declared`` if the run has it, then
    the common names of an episodic return, then any key that mentions a return or reward."""
    have = sorted(keys)
    if declared and declared in have:
        return declared
    for key in _RETURN_KEYS:
        if key in have:
            return key
    for word in _RETURN_WORDS:
        for key in have:
            if word in key:
                return key
    return None


def _object(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def run_row(record: Mapping[str, Any], *, details: bool = True) -> dict[str, Any]:
    """A store record as a JSON-ready row: ``config`` and ``summary`` objects (left out
    unless ``details``), ``group``, ``step``."""
    return _as_row(dict(record), details)


def _as_row(record: dict[str, Any], details: bool) -> dict[str, Any]:
    """:func:`run_row` made of ``record`` itself."""
    config, summary = record.pop("config", None), record.pop("summary", None)
    for name, key in _RENAMED.items():
        record[key] = record.pop(name, None)
    if details:
        record["config"] = _object(config)
        record["summary"] = _object(summary)
    return record


def runs_of(store: RunStore, refs: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of the runs named by id or unambiguous prefix, in that order, once each."""
    rows, seen = [], set()
    for ref in refs:
        row = run_row(store.get(ref))
        if row["run_id"] not in seen:
            seen.add(row["run_id"])
            rows.append(row)
    return rows


def select_runs(
    store: RunStore, refs: Sequence[str] = (), *, group: str | None = None
) -> list[dict[str, Any]]:
    """The runs named (ids or prefixes), then those of ``group``, oldest first, once each.

    Naming nothing is a ConfigError, and so is a group without runs.
    """
    rows = runs_of(store, refs)
    if group is not None:
        members = [run_row(r) for r in reversed(store.list_runs(group=group))]
        if not members:
            known = ", ".join(g["name"] for g in store.groups()[:10]) or "none yet"
            raise ConfigError(
                f"--group {group!r}: no runs in that group; groups: {known}",
                field="--group",
                value=group,
            )
        seen = {r["run_id"] for r in rows}
        rows += [r for r in members if r["run_id"] not in seen]
    if not rows:
        raise ConfigError("name at least one run (RUN ...) or a group (--group G)", field="RUN")
    return rows


def _check_metric(metric: str | None, stat: str) -> None:
    if stat not in STATS:
        raise ConfigError(
            f"--stat {stat!r}: expected one of {', '.join(STATS)}",
            field="--stat",
            value=stat,
            expected=", ".join(STATS),
        )
    if metric is not None and not metric.strip():
        raise ConfigError("--metric '': expected a metric key or summary.PATH", field="--metric")


def metric_values(
    store: RunStore, rows: Sequence[Mapping[str, Any]], metric: str | None = None,
    stat: str = "tail",
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``{run_id: {"key", "stat", "value"}}`` for each row.

    ``metric`` is a metric key, ``summary.PATH`` (a number from the run's
    summary; ``stat`` does not apply) or None for each run's headline.
    ``value`` is None where the run has no such number (yet).
    """
    return _values(store, rows, metric, stat, every=False)


def _values(
    store: RunStore, rows: Sequence[Mapping[str, Any]], metric: str | None, stat: str,
    every: bool,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """:func:`metric_values`; ``every``: the rows are every run in the store."""
    _check_metric(metric, stat)
    out: dict[str, dict[str, Any]] = {}
    if metric is not None and metric.startswith("summary."):
        from mosaic_core.query.filters import lookup

        for row in rows:
            value = lookup(row, metric)
            number = (
                value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            )
            out[row["run_id"]] = {"key": metric, "stat": None, "value": number}
        return out
    ids = [row["run_id"] for row in rows]
    if metric is None:
        chosen, found = _headlines(store, rows, stat, every)
    else:
        chosen = dict.fromkeys(ids, metric)
        found = store.metric_stat(ids, metric, stat, tail=TAIL)
    for run_id in ids:
        out[run_id] = {"key": chosen[run_id], "stat": stat, "value": found.get(run_id)}
    return out


def _headlines(
    store: RunStore, rows: Sequence[Mapping[str, Any]], stat: str, every: bool
) -> tuple[dict[str, str | None], dict[str, float | None]]:
    """Each run's headline key and its ``stat``: the declared key (asked once for all of
    them when the rows are ``every`` run in the store), then the usual names of a return,
    asked of the store for the runs still without one; only the rest have their keys
    listed (the costly question) for :func:`pick_headline`."""
    chosen: dict[str, str | None] = {}
    found: dict[str, float | None] = {}
    declared: dict[str, list[str]] = {}
    for row in rows:
        if row.get("headline_metric"):
            declared.setdefault(row["headline_metric"], []).append(row["run_id"])
    if every and declared:
        found.update(store.headline_stat(stat, tail=TAIL))
    for key, members in declared.items():
        # A run keeps its declared headline even before it has reported it (value None).
        chosen.update(dict.fromkeys(members, key))
        if not every:
            found.update(store.metric_stat(members, key, stat, tail=TAIL))
    left = [row["run_id"] for row in rows if row["run_id"] not in chosen]
    for key in _RETURN_KEYS:
        if not left:
            break
        for run_id, value in store.metric_stat(left, key, stat, tail=TAIL).items():
            chosen[run_id], found[run_id] = key, value
        left = [run_id for run_id in left if run_id not in chosen]
    if left:
        keys = store.metric_keys(left)
        by_key: dict[str, list[str]] = {}
        for run_id in left:
            chosen[run_id] = pick_headline(keys[run_id])
            if chosen[run_id] is not None:
                by_key.setdefault(str(chosen[run_id]), []).append(run_id)
        for key, members in by_key.items():
            found.update(store.metric_stat(members, key, stat, tail=TAIL))
    return chosen, found


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True, default=str))


def parse_sort(sort: str) -> tuple[str, bool]:
    """``(field, descending)`` from ``FIELD``, ``-FIELD``, ``FIELD:desc`` or ``FIELD:asc``."""
    from mosaic_core.query.filters import check_field

    text = sort.strip()
    descending = text.startswith("-")
    text = text.lstrip("-+")
    name, _, order = text.partition(":")
    if order not in ("", "asc", "desc"):
        raise ConfigError(
            f"--sort {sort!r}: expected FIELD, -FIELD, FIELD:asc or FIELD:desc",
            field="--sort",
            value=sort,
        )
    return check_field(name, "--sort"), descending or order == "desc"


def sort_rows(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Rows ordered by ``sort`` (see :func:`parse_sort`); runs without the field last."""
    from mosaic_core.query.filters import lookup

    field, descending = parse_sort(sort)

    def value(row: Mapping[str, Any]) -> Any:
        if field == "metric":
            return (row.get("metric") or {}).get("value")
        return lookup(row, field)

    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=lambda r: _sort_key(value(r)), reverse=descending)
    return present + missing


#: A row's columns without details, as the store names them: those the table shows or a
#: filter or a sort may name (:data:`~mosaic_core.query.filters.COLUMNS`), and the
#: declared headline, in the row's order (``group_name`` and ``last_step`` are its
#: ``group`` and ``step``). A full row, with each run's config, costs twice as much to read.
_SHOWN = (
    "run_id", "worker_type", "status", "reason", "created_at", "algorithm", "env_id", "seed",
    "total_steps", "headline_metric", "group_name", "last_step",
)  # fmt: skip

#: The store's columns that a row names otherwise.
_RENAMED = {"group_name": "group", "last_step": "step"}

#: The keys of a row without details, in order (its ``metric`` after them): what
#: :func:`run_columns` names its columns.
_ROW_KEYS = tuple(_RENAMED.get(name, name) for name in _SHOWN)


def run_table(
    store: RunStore,
    *,
    worker: str | None = None,
    status: str | None = None,
    group: str | None = None,
    filters: Sequence[Filter] = (),
    sort: str | None = None,
    limit: int | None = None,
    metric: str | None = None,
    stat: str = "tail",
    details: bool = True,
) -> list[dict[str, Any]]:
    """The runs that match, newest first unless ``sort`` says otherwise, each with its
    ``metric``. Filters are ANDed (see :func:`~mosaic_core.query.parse_filter`).

    ``details=False`` gives rows of the columns a table shows, or a filter or a sort may
    name, and the run's ``headline_metric``, with the full row's values; ``config`` and
    ``summary`` only if a filter, the sort or ``metric`` reads them. Reading and parsing
    the rest was most of the time it took to list 10,000 runs."""
    _check_metric(metric, stat)
    sort_field = parse_sort(sort)[0] if sort is not None else None
    if limit is not None and limit < 1:
        raise ConfigError.bad_value("--limit", limit, "a whole number >= 1")
    read = [f.field for f in filters] + [sort_field or "", metric or ""]
    details |= any(name.split(".")[0] in ("config", "summary") for name in read)
    if details:
        records = store.list_runs(worker_type=worker, status=status, group=group)
        rows = [_as_row(record, details) for record in records]  # fresh dicts: made in place
    else:
        rows = _plain_rows(store, worker, status, group, metric, stat)
    wants_metric = sort_field == "metric"
    wants_metric |= any(f.field == "metric" for f in filters)
    every = not worker and not status and group is None
    if wants_metric:
        _attach_missing(store, rows, metric, stat, every)
    if filters:
        rows = [row for row in rows if all(f(_with_metric(row)) for f in filters)]
    if sort is not None:
        rows = sort_rows(rows, sort)
    if limit is not None:
        rows = rows[:limit]
    if not wants_metric:
        _attach_missing(store, rows, metric, stat, every and not filters and limit is None)
    return rows


def _plain_rows(
    store: RunStore, worker: str | None, status: str | None, group: str | None,
    metric: str | None, stat: str,
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows without details, made in one pass of the store's tuples; for the headline
    (``metric`` None), with the ``metric`` of each run that declares its headline, read
    with the runs. The others' ``metric`` is None, until :func:`_attach_missing`."""
    headline = stat if metric is None else None
    records, figure = store.run_tuples(
        _SHOWN, worker_type=worker, status=status, group=group, headline=headline, tail=TAIL
    )
    rows = []
    for record in records:
        row = dict(zip(_ROW_KEYS, record[:-1], strict=True))
        key = row["headline_metric"]
        row["metric"] = (
            {"key": key, "stat": stat, "value": figure(record[-1])} if headline and key else None
        )
        rows.append(row)
    return rows


def run_columns(
    store: RunStore,
    *,
    worker: str | None = None,
    status: str | None = None,
    group: str | None = None,
    limit: int | None = None,
    stat: str = "tail",
) -> dict[str, Sequence[Any]]:
    """:func:`run_table`'s rows without details, each with its headline ``stat``, as
    columns: per key of a row, its values in the rows' order, and the ``metric`` as
    ``metric_key`` and ``metric_value``. A table of 10,000 runs (``mosaic runs``) is made
    of these without a dict per run; the rows' filters and sorts are run_table's."""
    _check_metric(None, stat)
    if limit is not None and limit < 1:
        raise ConfigError.bad_value("--limit", limit, "a whole number >= 1")
    records, figure = store.run_tuples(
        _SHOWN, worker_type=worker, status=status, group=group, limit=limit, headline=stat,
        tail=TAIL,
    )  # fmt: skip
    found = list(zip(*records, strict=True)) or [()] * (len(_ROW_KEYS) + 1)
    columns: dict[str, Sequence[Any]] = dict(zip(_ROW_KEYS, found[:-1], strict=True))
    declared = columns["headline_metric"]
    keys = list(declared)
    values = [figure(v) if key else None for key, v in zip(declared, found[-1], strict=True)]
    missing = [i for i, key in enumerate(keys) if not key]
    if missing:  # no declared headline: guessed as for a row
        run_ids = columns["run_id"]
        guessed = _values(store, [{"run_id": run_ids[i]} for i in missing], None, stat, False)
        for i in missing:
            keys[i], values[i] = guessed[run_ids[i]]["key"], guessed[run_ids[i]]["value"]
    columns["metric_key"], columns["metric_value"] = keys, values
    return columns


def _with_metric(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row.get("metric"), dict):
        return {**row, "metric": row["metric"]["value"]}
    return row


def _attach(
    store: RunStore,
    rows: list[dict[str, Any]],
    metric: str | None,
    stat: str,
    every: bool = False,
) -> None:
    values = _values(store, rows, metric, stat, every)
    for row in rows:
        row["metric"] = values[row["run_id"]]


def _attach_missing(
    store: RunStore, rows: list[dict[str, Any]], metric: str | None, stat: str, every: bool
) -> None:
    """:func:`_attach` to the rows without a ``metric`` yet; ``every``: the rows are every
    run in the store."""
    missing = [row for row in rows if row.get("metric") is None]
    if missing:
        _attach(store, missing, metric, stat, every and len(missing) == len(rows))
