"""``mosaic run`` and the commands that manage runs: logs, events, cancel, rm, db rebuild.

(``mosaic runs``, ``show``, ``metrics``, ``compare``, ``group`` and ``plot``,
which look at results, are in :mod:`mosaic_core.cli.results` and
:mod:`mosaic_core.cli.plot`.)

Exit status of ``mosaic run``: 0 completed, 1 failed, 2 bad config, 130
cancelled by Ctrl-C (129 by SIGHUP, 143 by SIGTERM: the same cancelling).
With several seeds the worst outcome decides. The reading commands work on a
read-only store; the writing ones say that it is read-only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core._procs import DEFAULT_STOP_GRACE
from mosaic_core.cli import launching
from mosaic_core.cli.argtypes import whole_number
from mosaic_core.cli.stores import open_store
from mosaic_core.runs import forking
from mosaic_core.runs.store import ACTIVE_STATUSES, RunStore
from mosaic_core.runs.supervisor import DEFAULT_HEARTBEAT_TIMEOUT, RunResult, Supervisor, reconcile

if TYPE_CHECKING:
    from mosaic_core.cli.progress import ProgressDisplay
    from mosaic_core.runs.launch import Prepared, Resolved

__all__ = ["register"]


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds {text!r}: expected comma-separated integers such as 1,2,3"
        ) from None
    if not seeds:
        raise argparse.ArgumentTypeError("--seeds: expected at least one integer")
    return seeds


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _store(*, write: bool = True) -> contextlib.AbstractContextManager[RunStore]:
    return open_store(write=write)


# -- mosaic run -------------------------------------------------------------------


def _run_help(args: argparse.Namespace) -> int:
    """``mosaic run [WORKER] --help``: the options, then the worker's config fields."""
    from mosaic_core._worker import parse_set
    from mosaic_core.cli.output import config_fields_text
    from mosaic_core.plugins import discover_workers

    args.parser.print_help()
    if not args.worker:
        return 0
    found = discover_workers(load=[args.worker])
    if args.worker not in found.workers:
        found = discover_workers()
    spec = found.runnable(args.worker)
    try:
        algorithm = parse_set(args.set).get("algorithm")
    except ConfigError:
        algorithm = None
    variants: dict[str, Any] = getattr(spec.config_class, "variants", dict)()
    print()
    chosen = algorithm if isinstance(algorithm, str) and algorithm in variants else None
    print(config_fields_text(spec.config_class, args.worker, chosen))
    return 0


def _from_run(store: RunStore, args: argparse.Namespace) -> dict[str, Any]:
    """``mosaic run --from RUN``: that run's worker, environment and config (without its id)."""
    run = store.get(args.from_run)
    if args.worker and args.worker != run["worker_type"]:
        raise ConfigError(
            f"--from {run['run_id']} is a {run['worker_type']} run, not {args.worker}; "
            "leave WORKER out or name the same one",
            field="WORKER",
            value=args.worker,
        )
    args.worker = run["worker_type"]
    if args.env is None:
        args.env = run["env_name"]
    path = store.run_dir(run["run_id"]) / "config.json"
    document = dict(json.loads(path.read_text(encoding="utf-8")))
    document.pop("run_id", None)
    return document


def _check_secrets_restored(document: dict[str, Any], source: str) -> None:
    """A config copied from a run has its secrets redacted: they must be given again."""
    from mosaic_core._secrets import REDACTED

    def paths(value: Any, where: str) -> list[str]:
        if value == REDACTED:
            return [where]
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in paths(v, f"{where}.{k}" if where else k)]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in paths(v, f"{where}.{i}")]
        return []

    missing = paths(document, "")
    if missing:
        raise ConfigError(
            f"--from {source}: the secret field {missing[0]!r} was not recorded; give it "
            f"again with --set {missing[0]}=...",
            field=missing[0],
        )


def _cmd_run(args: argparse.Namespace) -> int:
    from mosaic_core._worker import parse_set
    from mosaic_core.runs.launch import launch_runs, read_config_file, resolve_worker
    from mosaic_core.runs.sweep import parse_sweeps

    if args.help:
        return _run_help(args)
    if not args.worker and not args.from_run:
        args.parser.error("the following arguments are required: worker (or --from RUN)")

    with _store() as store:
        document = _from_run(store, args) if args.from_run else {}
        if args.config:
            document.update(read_config_file(args.config))
        document.update(parse_set(args.set))
        if args.from_run:
            _check_secrets_restored(document, args.from_run)
        resolved = resolve_worker(store, args.worker, args.env)
        spec = resolved.spec
        choice = launching.choose(args, spec.capabilities if spec is not None else None)
        if args.env and not choice.local:
            raise ConfigError(
                f"--env {args.env!r} is an environment of this machine; launcher "
                f"{choice.launcher!r} runs the worker with the Python of the node it picks",
                field="--env",
                value=args.env,
            )
        prepared, group = launch_runs(
            store,
            args.worker,
            document,
            seeds=args.seeds or (),
            sweeps=parse_sweeps(args.sweep),
            group=args.group,
            env=args.env,
            timeout=args.timeout,
            heartbeat_timeout=args.heartbeat_timeout,
            gpus=args.gpus,
            kill_grace=args.grace,
            launcher=choice.launcher,
            launcher_options=choice.options,
            retries=choice.retries,
            resolved=resolved,
            with_provenance=bool(args.detach),  # else recorded once the workers are started
        )
        if args.detach:
            return _detach(store, prepared, args.json, group)
        secrets = {p.run_id: p.secrets_json for p in prepared if p.secrets_json}
        parallel = launching.default_parallel(args, choice, len(prepared))
        supervisor = Supervisor(store, parallel=parallel, secrets=secrets)
        for run in prepared:
            supervisor.submit(run.launch)
        display: ProgressDisplay | None = None
        interrupted: list[int] = []

        def on_interrupt(signum: int, frame: Any) -> None:
            # Ctrl-C, SIGTERM and SIGHUP (the terminal closed) alike: never leave a worker
            # running unsupervised. A second one kills at once.
            interrupted.append(signum)
            text = "mosaic: cancelling (Ctrl-C again to kill at once) ..."
            # A live display shows it as its last line; a print would shift the lines it
            # redraws and leave stale ones behind.
            with contextlib.suppress(OSError):  # after SIGHUP there may be no terminal
                if display is None or not display.note(text):
                    print(f"\n{text}", file=sys.stderr)
            supervisor.request_cancel_all("interrupted")

        previous = {signum: signal.signal(signum, on_interrupt) for signum in _STOP_SIGNALS}
        try:
            # Announced first: a print that fails (a closed pipe) must not leave workers
            # unwatched. Then the first workers start, and provenance overlaps their start.
            display = _announce(store, args, prepared, group)
            with forking.allowed():  # this command owns its interpreter: workers may be forked
                supervisor.start_ready()
                _record_provenance(store, args.worker, resolved, prepared)
                results = supervisor.wait(display.update if display else None)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        ordered = [results[p.run_id] for p in prepared]
        with contextlib.suppress(OSError):  # after SIGHUP there may be no terminal to print on
            _report(store, ordered, as_json=args.json, group=group)
        if supervisor.store_problem is not None:
            raise supervisor.store_problem
        return 128 + interrupted[0] if interrupted else _exit_status(store, ordered)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _record_provenance(
    store: RunStore, worker: str, resolved: Resolved, prepared: list[Prepared]
) -> None:
    """Each run's ``provenance.json``, written while the workers start; a failure is said
    on stderr and the runs go on (they are started, and must stay supervised)."""
    from mosaic_core.runs.launch import record_provenance

    try:
        record_provenance(store, worker, resolved, [p.run_id for p in prepared])
    except Exception as exc:  # noqa: BLE001 - the runs are more than their provenance
        print(f"mosaic: could not record the runs' provenance: {exc!r}", file=sys.stderr)


def _announce(
    store: RunStore, args: argparse.Namespace, prepared: list[Prepared], group: str | None
) -> ProgressDisplay | None:
    """The runs' lines for a person (none with ``--json``); the progress display, if any."""
    if args.json:
        return None
    display = None
    if not args.no_progress:
        from mosaic_core.cli.progress import ProgressDisplay, terminal_kind

        live, colour = terminal_kind(sys.stderr)
        display = ProgressDisplay(sys.stderr, live=live, colour=colour)
    if group:
        print(f"group {group}: {len(prepared)} runs of {args.worker}", flush=True)
    for run in prepared:
        print(f"run {run.run_id} ({args.worker}) -> {store.run_dir(run.run_id)}", flush=True)
    return display


def _exit_status(store: RunStore, results: list[RunResult]) -> int:
    codes = []
    for result in results:
        if result.status == "completed":
            codes.append(0)
        elif result.status == "cancelled":
            codes.append(130)
        elif result.exit_code == 2 or "ConfigError" in (result.reason or ""):
            codes.append(2)
        else:
            codes.append(1)
    for code in (2, 1, 130):
        if code in codes:
            return code
    return 0


def _report(
    store: RunStore, results: list[RunResult], *, as_json: bool, group: str | None = None
) -> None:
    """Each run's outcome; several runs end with one table per configuration instead."""
    stats = None
    if len(results) > 1:  # over the runs still indexed: a queued one may have been removed
        from mosaic_core.query import group_statistics, runs_of

        ids = [r.run_id for r in results if _indexed(store, r.run_id)]
        stats = group_statistics(store, runs_of(store, ids), group=group)
    if as_json:
        rows = [r.to_dict() for r in results]
        if len(rows) == 1:
            print(json.dumps(rows[0], indent=2))
        else:
            print(json.dumps({"group": group, "runs": rows, "statistics": stats}, indent=2))
        return
    if stats is not None:
        from mosaic_core.cli.output import group_table_text

        print()
        for r in results:
            if r.status != "completed":
                print(f"{r.status.upper()}  run {r.run_id}: {r.reason or ''}  "
                      f"(mosaic logs {r.run_id})")  # fmt: skip
        print(group_table_text(stats))
        if group:
            print(f"(again: mosaic group {group}; curves: mosaic plot --group {group} -o "
                  "curves.png)")  # fmt: skip
        return
    for r in results:
        print(f"\n{r.status.upper()}  run {r.run_id}  in {r.duration_s:.1f} s")
        if r.reason:
            print(f"  reason: {r.reason}")
        if r.exit_code not in (None, 0) or r.signal:
            print(f"  exit: {r.signal or r.exit_code}")
        if r.seed is not None:
            print(f"  seed: {r.seed}")
        summary = r.summary if r.status == "completed" else {}  # else it is run_failed's
        kept = _latest_checkpoint(r.run_dir) if r.status != "completed" else None
        if kept:  # what a stopped (or failed) run kept, as its manifest lists it
            print(f"  latest checkpoint: {kept}")
        scalars = {k: v for k, v in summary.items() if isinstance(v, (int, float, str))}
        if scalars:
            print("  summary:")
            for key, value in scalars.items():
                print(f"    {key} = {_show(value)}")
        for warning in summary.get("warnings") or ():
            print(f"  warning: {warning}")
        if r.final_metrics:
            print("  last metrics:")
            for key, value in list(r.final_metrics.items())[:12]:
                print(f"    {key} = {_show(value)}")
        print(f"  run directory: {r.run_dir}")
        if r.status == "failed":
            print(f"  logs: mosaic logs {r.run_id}")


def _indexed(store: RunStore, run_id: str) -> bool:
    try:
        store.get(run_id)
    except MosaicError:
        return False
    return True


def _latest_checkpoint(run_dir: str) -> str | None:
    from mosaic_core._context import RunContext

    try:
        checkpoints = RunContext.open(run_dir).checkpoints
    except MosaicError:
        return None
    return checkpoints[-1] if checkpoints else None


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _detach(store: RunStore, prepared: list[Any], as_json: bool, group: str | None) -> int:
    """Start a supervisor per run in the background. With ``--json`` each run is reported
    with status ``pending`` (a status of :data:`~mosaic_core.runs.STATUSES`: the run
    exists and its supervisor is starting it)."""
    from mosaic_core.runs.launch import start_detached

    started = [{**item, "group": group} for item in start_detached(store, prepared)]
    if as_json:
        print(json.dumps(started[0] if len(started) == 1 else {"group": group, "runs": started},
                         indent=2))  # fmt: skip
    else:
        for item in started:
            print(
                f"started {item['run_id']} in the background; follow it with "
                f"`mosaic logs {item['run_id']} --follow` or `mosaic show {item['run_id']}`"
            )
    return 0


# -- managing runs ----------------------------------------------------------------


def _cmd_logs(args: argparse.Namespace) -> int:
    with _store(write=False) as store:
        run_id = store.get(args.run)["run_id"]
        run_dir = store.run_dir(run_id)
        names = ["stderr.log"] if args.stderr else ["stdout.log", "stderr.log"]
        if not args.follow:
            for name in names:
                path = run_dir / name
                data = path.read_bytes() if path.exists() else b""
                if data and len(names) > 1:
                    print(f"==> {name} <==", flush=True)
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
            return 0
        # A run just launched (--detach, a queued sweep) has no logs until its worker
        # starts: each file is followed from when it appears.
        handles: dict[str, Any] = dict.fromkeys(names)
        ended = False
        try:
            while True:
                wrote = False
                for name, handle in handles.items():
                    if handle is None:
                        try:
                            handle = handles[name] = open(run_dir / name, "rb")  # noqa: SIM115
                        except FileNotFoundError:
                            continue
                    data = handle.read(1 << 16)
                    if data:
                        sys.stdout.buffer.write(data)
                        wrote = True
                sys.stdout.flush()
                if wrote:
                    continue
                if ended:  # drained after the end was seen: nothing written before it is lost
                    return 0
                reconcile(store)
                ended = store.get(run_id)["status"] not in ACTIVE_STATUSES
                if not ended:
                    time.sleep(0.2)
        finally:
            for handle in handles.values():
                if handle is not None:
                    handle.close()


def _cmd_events(args: argparse.Namespace) -> int:
    with _store(write=False) as store:
        reconcile(store)
        run_id = store.get(args.run)["run_id"]
        for event in store.events(run_id):
            if args.event and event["event"] != args.event:
                continue
            print(json.dumps(event, separators=(",", ":")))
        return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from mosaic_core.runs.control import cancel_run

    with _store() as store:
        run = cancel_run(store, args.run, grace=args.grace)
        if run["status"] in ACTIVE_STATUSES:
            print(f"asked to cancel {run['run_id']}; its supervisor has not recorded the end "
                  f"yet (still {run['status']})")  # fmt: skip
        else:
            print(f"cancelled {run['run_id']} ({run['status']})")
        return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    from mosaic_core.runs.control import remove_run

    with _store() as store:
        for ref in args.runs:
            print(f"removed {remove_run(store, ref)}")
        return 0


def _cmd_db_rebuild(args: argparse.Namespace) -> int:
    """Rebuild the index; a damaged one is moved aside first. Runs that cannot be read
    are skipped and named on stderr; the exit status is still 0 (the rest is indexed)."""
    from mosaic_core.runs.rebuild import rebuild_index
    from mosaic_core.runs.store import mosaic_home

    report = rebuild_index()
    for path in report.moved_aside:
        print(f"mosaic: the damaged index was moved aside to {path}", file=sys.stderr)
    with _store() as store:
        reconcile(store)
    print(f"rebuilt the index of {report.runs} runs from {mosaic_home() / 'runs'}")
    for name, why in report.skipped:
        print(f"mosaic: skipped runs/{name}: {why}", file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    """Add the run commands to the ``mosaic`` parser's sub-command group."""
    from mosaic_core._telemetry import EVENTS

    run = commands.add_parser(
        "run",
        help="run a worker under the supervisor",
        description="Run a worker under the supervisor. `mosaic run WORKER --help` lists the "
        "worker's config fields as well.",
        add_help=False,
    )
    run.add_argument(
        "-h", "--help", action="store_true", help="show this help (and WORKER's config fields)"
    )
    run.add_argument("worker", nargs="?", help="worker type, e.g. cleanrl (see `mosaic workers`)")
    run.add_argument(
        "--config",
        help="config file (JSON, YAML or TOML), direct or nested under metadata.worker.config",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a config field (VALUE parsed as JSON, else a string); repeat for more",
    )
    run.add_argument(
        "--from",
        dest="from_run",
        metavar="RUN",
        help="start from the config (and worker, and --env) of an existing run; --set changes it",
    )
    run.add_argument(
        "--seeds", type=_seeds, help="one run per seed, e.g. 1,2,3 (crossed with --sweep)"
    )
    run.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="run every value of a config field; several --sweep make a grid, crossed with "
        "--seeds, and the runs form one group",
    )
    run.add_argument(
        "--group",
        help="name the group the runs join (default with several runs: WORKER-DATE-TIME)",
    )
    run.add_argument(
        "--parallel",
        type=whole_number(1),
        default=None,
        help="runs at once with --seeds or --sweep (default 2 here; with another launcher all, "
        "and the cluster queues them)",
    )
    run.add_argument("--timeout", type=_positive, help="wall-clock limit per run, in seconds")
    run.add_argument(
        "--heartbeat-timeout",
        type=_positive,
        default=DEFAULT_HEARTBEAT_TIMEOUT,
        help="kill a worker silent for this many seconds (default %(default)s)",
    )
    run.add_argument(
        "--grace",
        type=_positive,
        default=DEFAULT_STOP_GRACE,
        help="seconds a stopped run (cancel, Ctrl-C, a timeout) has between SIGTERM and "
        "SIGKILL to save its checkpoint (default %(default)s)",
    )
    run.add_argument("--env", help="run with the interpreter of this `mosaic env`")
    run.add_argument("--gpus", default="", help="CUDA_VISIBLE_DEVICES for the worker")
    run.add_argument(
        "--detach",
        action="store_true",
        help="start in the background and return at once (with --json: status pending)",
    )
    run.add_argument("--no-progress", action="store_true", help="no live progress lines on stderr")
    launching.add_arguments(run)
    run.add_argument("--json", action="store_true", help="one JSON object at the end")
    run.set_defaults(func=_cmd_run, parser=run)

    logs = commands.add_parser("logs", help="a run's stdout and stderr")
    logs.add_argument("run", help="run id (or an unambiguous prefix)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    logs.add_argument("--stderr", action="store_true", help="only stderr")
    logs.set_defaults(func=_cmd_logs)

    events = commands.add_parser("events", help="a run's telemetry events, one JSON per line")
    events.add_argument("run", help="run id (or an unambiguous prefix)")
    events.add_argument(
        "--event", choices=sorted(EVENTS), metavar="EVENT",
        help=f"only events of this type: {', '.join(sorted(EVENTS))}",
    )  # fmt: skip
    events.set_defaults(func=_cmd_events)

    cancel = commands.add_parser("cancel", help="cancel a running run (its whole process tree)")
    cancel.add_argument("run", help="run id (or an unambiguous prefix)")
    cancel.add_argument(
        "--grace",
        type=_positive,
        default=None,
        help="seconds between SIGTERM and SIGKILL, in which the run saves its checkpoint "
        "(default: the run's own, from mosaic run --grace)",
    )
    cancel.set_defaults(func=_cmd_cancel)

    rm = commands.add_parser("rm", help="delete finished runs and their directories")
    rm.add_argument("runs", nargs="+", metavar="RUN", help="run ids (or unambiguous prefixes)")
    rm.set_defaults(func=_cmd_rm)

    db = commands.add_parser("db", help="the run index")
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    rebuild = db_commands.add_parser("rebuild", help="rebuild mosaic.db from the run directories")
    rebuild.set_defaults(func=_cmd_db_rebuild)
