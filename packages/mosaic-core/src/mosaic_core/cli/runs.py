"""``mosaic run`` and the commands that look at runs: runs, show, logs, events, metrics,
cancel, rm, db rebuild.

Exit status of ``mosaic run``: 0 completed, 1 failed, 2 bad config, 130
cancelled by Ctrl-C (129 by SIGHUP, 143 by SIGTERM: the same cancelling).
With several seeds the worst outcome decides. The reading commands work on a
read-only store; the writing ones say that it is read-only.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from mosaic_core import _procs as procs
from mosaic_core._context import DEFAULT_STOP_GRACE
from mosaic_core._errors import ConfigError, MosaicError
from mosaic_core.cli import launching
from mosaic_core.runs.database import StoreReadOnly
from mosaic_core.runs.store import ACTIVE_STATUSES, STATUSES, RunStore
from mosaic_core.runs.supervisor import (
    DEFAULT_HEARTBEAT_TIMEOUT,
    RunResult,
    Supervisor,
    reconcile,
    stop_elsewhere,
)

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


@contextlib.contextmanager
def _store(*, write: bool = True) -> Iterator[RunStore]:
    """The run store; for a reading command (``write=False``) read-only when the home
    cannot be written."""
    try:
        store = RunStore()
    except StoreReadOnly:
        if write:
            raise
        store = RunStore(readonly=True)
    try:
        yield store
    finally:
        store.close()


# -- mosaic run -------------------------------------------------------------------


def _resolve(store: RunStore, args: argparse.Namespace) -> tuple[Any, str | None, str | None]:
    """``(spec or None, python, console_module)`` for the worker, here or in its env."""
    from mosaic_core._discovery import discover_workers

    found = discover_workers(load=[args.worker])
    if args.env is None:
        if args.worker not in found.workers:
            found = discover_workers()  # everything, for a did-you-mean and broken plugins
        return found.runnable(args.worker), None, None
    env = store.get_env(args.env)
    provided = {w["worker_type"]: w for w in env["workers"]}
    if args.worker not in provided:
        raise ConfigError(
            f"environment {args.env!r} provides {', '.join(provided) or 'no worker'}, "
            f"not {args.worker!r}",
            field="--env",
            value=args.env,
        )
    # Validate here only with the very worker the environment holds: another version's
    # config class may have other fields. Otherwise the worker validates, exiting 2.
    here, there = found.workers.get(args.worker), provided[args.worker]
    spec = None
    if here is not None and here.distribution is not None:
        same = (here.distribution, here.distribution_version) == (
            there.get("distribution"), there.get("distribution_version")
        )  # fmt: skip
        spec = here.spec if same else None
    return spec, env["python"], there.get("console_module")


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


def _cmd_run(args: argparse.Namespace) -> int:
    from mosaic_core._worker import parse_set
    from mosaic_core.runs.launch import prepare_runs, read_config_file

    if args.help:
        return _run_help(args)
    if not args.worker:
        args.parser.error("the following arguments are required: worker")

    document = read_config_file(args.config) if args.config else {}
    document.update(parse_set(args.set))
    with _store() as store:
        spec, python, module = _resolve(store, args)
        choice = launching.choose(args, spec.capabilities if spec is not None else None)
        if args.env and not choice.local:
            raise ConfigError(
                f"--env {args.env!r} is an environment of this machine; launcher "
                f"{choice.launcher!r} runs the worker with the Python of the node it picks",
                field="--env",
                value=args.env,
            )
        try:
            prepared = prepare_runs(
                store,
                args.worker,
                spec,
                document,
                seeds=args.seeds or (),
                python=python,
                console_module=module,
                env_name=args.env,
                venv=store.get_env(args.env)["path"] if args.env else None,
                timeout=args.timeout,
                heartbeat_timeout=args.heartbeat_timeout,
                gpus=args.gpus,
                kill_grace=args.grace,
                launcher=choice.launcher,
                launcher_options=choice.options,
                retries=choice.retries,
            )
        except ConfigError as exc:
            raise _without_secrets(exc, document, spec) from None
        if args.detach:
            return _detach(store, prepared, args.json)
        secrets = {p.run_id: p.secrets_json for p in prepared if p.secrets_json}
        parallel = launching.default_parallel(args, choice, len(prepared))
        supervisor = Supervisor(store, parallel=parallel, secrets=secrets)
        for run in prepared:
            supervisor.submit(run.launch)
        display = None
        if not args.json:
            from mosaic_core.cli.progress import ProgressDisplay

            display = ProgressDisplay(sys.stderr, tty=sys.stderr.isatty())
            for run in prepared:
                print(
                    f"run {run.run_id} ({args.worker}) -> {store.run_dir(run.run_id)}", flush=True
                )
        interrupted: list[int] = []

        def on_interrupt(signum: int, frame: Any) -> None:
            # Ctrl-C, SIGTERM and SIGHUP (the terminal closed) alike: never leave a worker
            # running unsupervised. A second one kills at once.
            interrupted.append(signum)
            with contextlib.suppress(OSError):
                print("\nmosaic: cancelling (Ctrl-C again to kill at once) ...", file=sys.stderr)
            supervisor.request_cancel_all("interrupted")

        previous = {signum: signal.signal(signum, on_interrupt) for signum in _STOP_SIGNALS}
        try:
            results = supervisor.wait(display.update if display else None)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        ordered = [results[p.run_id] for p in prepared]
        with contextlib.suppress(OSError):  # after SIGHUP there may be no terminal to print on
            _report(store, ordered, as_json=args.json)
        if supervisor.store_problem is not None:
            raise supervisor.store_problem
        return 128 + interrupted[0] if interrupted else _exit_status(store, ordered)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _without_secrets(exc: ConfigError, document: dict[str, Any], spec: Any) -> ConfigError:
    """``exc`` with the config's secret values replaced by ``***`` in its message."""
    from mosaic_core._config import secret_fields
    from mosaic_core._secrets import Scrubber, redact

    fields = secret_fields(spec.config_class) if spec is not None else ()
    scrubber = Scrubber.from_pairs(redact(document, fields)[1])
    if scrubber and scrubber.hits(str(exc)):
        exc.args = (scrubber.text(str(exc)),)
    return exc


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


def _report(store: RunStore, results: list[RunResult], *, as_json: bool) -> None:
    if as_json:
        rows = [r.to_dict() for r in results]
        print(json.dumps(rows[0] if len(rows) == 1 else {"runs": rows}, indent=2))
        return
    for r in results:
        print(f"\n{r.status.upper()}  run {r.run_id}  in {r.duration_s:.1f} s")
        if r.reason:
            print(f"  reason: {r.reason}")
        if r.exit_code not in (None, 0) or r.signal:
            print(f"  exit: {r.signal or r.exit_code}")
        summary = r.summary if r.status == "completed" else None  # else it is run_failed's
        scalars = {k: v for k, v in (summary or {}).items() if isinstance(v, (int, float, str))}
        if scalars:
            print("  summary:")
            for key, value in scalars.items():
                print(f"    {key} = {_show(value)}")
        if r.final_metrics:
            print("  last metrics:")
            for key, value in list(r.final_metrics.items())[:12]:
                print(f"    {key} = {_show(value)}")
        print(f"  run directory: {r.run_dir}")
        if r.status == "failed":
            print(f"  logs: mosaic logs {r.run_id}")


def _show(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _detach(store: RunStore, prepared: list[Any], as_json: bool) -> int:
    started = []
    for run in prepared:
        run_dir = store.run_dir(run.run_id)
        env = dict(os.environ, MOSAIC_HOME=str(store.home))
        if run.secrets_json:
            env["MOSAIC_CONFIG_SECRETS"] = run.secrets_json
        with open(run_dir / "supervisor.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "mosaic_core.runs.supervisor", run.run_id],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        started.append({"run_id": run.run_id, "status": "started", "run_dir": str(run_dir)})
    if as_json:
        print(json.dumps(started[0] if len(started) == 1 else {"runs": started}, indent=2))
    else:
        for item in started:
            print(
                f"started {item['run_id']} in the background; follow it with "
                f"`mosaic logs {item['run_id']} --follow` or `mosaic show {item['run_id']}`"
            )
    return 0


# -- looking at runs ---------------------------------------------------------------


def _cmd_runs(args: argparse.Namespace) -> int:
    with _store(write=False) as store:
        reconcile(store)
        runs = store.list_runs(worker_type=args.worker, status=args.status, limit=args.limit)
        if args.json:
            print(json.dumps(runs, indent=2))
            return 0
        if not runs:
            print("No runs yet. Start one with `mosaic run WORKER --set key=value ...`.")
            return 0
        table = [("RUN", "WORKER", "STATUS", "STEP", "CREATED", "REASON")]
        for run in runs:
            step = run["last_step"]
            total = run["total_steps"]
            shown = "-" if step is None else (f"{step}/{total}" if total else str(step))
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run["created_at"]))
            table.append(
                (run["run_id"], run["worker_type"], run["status"], shown, created,
                 run["reason"] or "")
            )  # fmt: skip
        from mosaic_core.cli.output import print_table

        print_table(table)
        return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _store(write=False) as store:
        reconcile(store)
        run = store.get(args.run)
        run["run_dir"] = str(store.run_dir(run["run_id"]))
        run["summary"] = json.loads(run["summary"]) if run["summary"] else None
        run["final_metrics"] = store.final_metrics(run["run_id"])
        run["anomalies"] = store.anomalies(run["run_id"])
        manifest_path = store.run_dir(run["run_id"]) / "analytics.json"
        run["manifest"] = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
        if args.json:
            print(json.dumps(run, indent=2, default=str))
            return 0
        for key in ("run_id", "worker_type", "status", "reason", "algorithm", "env_id", "seed",
                    "total_steps", "last_step", "events", "anomalies", "exit_code", "signal",
                    "pid", "env_name", "python", "run_dir"):  # fmt: skip
            value = run[key]
            if key == "anomalies":
                value = len(value)
            if value not in (None, "", []):
                print(f"{key:>12}: {value}")
        for key in ("created_at", "started_at", "ended_at"):
            if run[key]:
                print(f"{key:>12}: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(run[key]))}")
        if run["final_metrics"]:
            print("     metrics:")
            for key, value in run["final_metrics"].items():
                print(f"              {key} = {value}")
        if run["error"]:
            print(f"       error: {run['error']}")
        return 0


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
        handles = [open(run_dir / name, "rb") for name in names]  # noqa: SIM115
        try:
            while True:
                wrote = False
                for handle in handles:
                    data = handle.read(1 << 16)
                    if data:
                        sys.stdout.buffer.write(data)
                        wrote = True
                sys.stdout.flush()
                if not wrote:
                    reconcile(store)
                    if store.get(run_id)["status"] not in ACTIVE_STATUSES:
                        return 0
                    time.sleep(0.2)
        finally:
            for handle in handles:
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


def _cmd_metrics(args: argparse.Namespace) -> int:
    with _store(write=False) as store:
        reconcile(store)
        run_id = store.get(args.run)["run_id"]
        rows = store.metrics(run_id, key=args.key)
        if args.key and not rows:
            keys = sorted(store.final_metrics(run_id))
            from mosaic_core._errors import did_you_mean

            raise ConfigError(
                f"run {run_id} has no metric {args.key!r}{did_you_mean(args.key, keys)}; "
                f"it has: {', '.join(keys) or 'none'}",
                field="--key",
                value=args.key,
            )
        if args.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(["step", "key", "value", "timestamp"])
            for row in rows:
                writer.writerow([row["step"], row["key"], row["value"], row["timestamp"]])
        else:
            for row in rows:
                print(f"{row['step']:>10}  {row['key']:<36} {row['value']}")
        return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    with _store() as store:
        run = store.get(args.run)
        if run["status"] not in ACTIVE_STATUSES:
            raise MosaicError(f"run {run['run_id']} is already {run['status']}; nothing to cancel")
        store.update(run["run_id"], cancel_requested=1)
        supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
        grace = args.grace if args.grace is not None else _grace_of(store, run["run_id"])

        def worker_alive() -> bool:
            return bool(run["pid"]) and procs.alive(run["pid"], run["pid_start"])

        # A supervisor stops its run itself (one SIGTERM, the run's grace, then SIGKILL);
        # this command signals only a run nobody supervises, or when given its own --grace.
        if worker_alive() and (not supervised or args.grace is not None):
            procs.kill_tree(run["pid"], grace=grace)
        if not supervised:
            stop_elsewhere(store, run["run_id"], grace)  # a run a launcher sent elsewhere
            for orphan in procs.marked_processes(run["run_id"]):  # what the run left running
                procs.kill_tree(orphan, grace=0.5)
            store.catch_up(run["run_id"], final=True)
            store.update(run["run_id"], status="cancelled", reason="cancelled",
                         ended_at=time.time())  # fmt: skip
        else:
            deadline = time.monotonic() + grace + 5
            while time.monotonic() < deadline:
                if store.get(run["run_id"])["status"] not in ACTIVE_STATUSES:
                    break
                time.sleep(0.1)
            else:
                if worker_alive():  # the supervisor did not act: stop the run from here
                    procs.kill_tree(run["pid"], grace=1.0)
        status = store.get(run["run_id"])["status"]
        if status in ACTIVE_STATUSES:
            print(f"asked to cancel {run['run_id']}; its supervisor has not recorded the end "
                  f"yet (still {status})")  # fmt: skip
        else:
            print(f"cancelled {run['run_id']} ({status})")
        return 0


def _grace_of(store: RunStore, run_id: str) -> float:
    """The grace period the run was started with (``mosaic run --grace``)."""
    from mosaic_core.runs.supervisor import LaunchSpec

    try:
        return LaunchSpec.load(store.run_dir(run_id) / "launch.json").kill_grace
    except (OSError, ValueError, TypeError, KeyError):
        return DEFAULT_STOP_GRACE


def _cmd_rm(args: argparse.Namespace) -> int:
    with _store() as store:
        reconcile(store)
        for ref in args.runs:
            run = store.get(ref)
            worker_alive = procs.alive(run["pid"], run["pid_start"])
            supervised = procs.alive(run["supervisor_pid"], run["supervisor_start"])
            if run["status"] in ACTIVE_STATUSES and (worker_alive or supervised):
                raise MosaicError(
                    f"run {run['run_id']} is still {run['status']}"
                    + ("" if worker_alive else " (its supervisor will start it)")
                    + f"; `mosaic cancel {run['run_id']}` it first"
                )
            store.delete(run["run_id"])
            print(f"removed {run['run_id']}")
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
        help="set a config field (VALUE parsed as JSON, else a string)",
    )
    run.add_argument("--seeds", type=_seeds, help="run one job per seed, e.g. 1,2,3")
    run.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="runs at once with --seeds (default 2 here; elsewhere all, the cluster queues)",
    )
    run.add_argument("--timeout", type=_positive, help="wall-clock limit in seconds")
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
    run.add_argument("--detach", action="store_true", help="start and return at once")
    launching.add_arguments(run)
    run.add_argument("--json", action="store_true", help="one JSON object at the end")
    run.set_defaults(func=_cmd_run, parser=run)

    runs = commands.add_parser("runs", help="list runs")
    runs.add_argument("--worker")
    runs.add_argument("--status", choices=STATUSES)
    runs.add_argument("--limit", type=int)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=_cmd_runs)

    show = commands.add_parser("show", help="one run in detail")
    show.add_argument("run", help="run id (or an unambiguous prefix)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=_cmd_show)

    logs = commands.add_parser("logs", help="a run's stdout and stderr")
    logs.add_argument("run")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    logs.add_argument("--stderr", action="store_true", help="only stderr")
    logs.set_defaults(func=_cmd_logs)

    events = commands.add_parser("events", help="a run's telemetry events, one JSON per line")
    events.add_argument("run")
    events.add_argument("--event", help="only events of this type")
    events.set_defaults(func=_cmd_events)

    metrics = commands.add_parser("metrics", help="a run's metrics")
    metrics.add_argument("run")
    metrics.add_argument("--key", help="only this metric")
    metrics.add_argument("--csv", action="store_true")
    metrics.set_defaults(func=_cmd_metrics)

    cancel = commands.add_parser("cancel", help="cancel a running run (its whole process tree)")
    cancel.add_argument("run")
    cancel.add_argument(
        "--grace",
        type=_positive,
        default=None,
        help="seconds between SIGTERM and SIGKILL, in which the run saves its checkpoint "
        "(default: the run's own, from mosaic run --grace)",
    )
    cancel.set_defaults(func=_cmd_cancel)

    rm = commands.add_parser("rm", help="delete finished runs and their directories")
    rm.add_argument("runs", nargs="+")
    rm.set_defaults(func=_cmd_rm)

    db = commands.add_parser("db", help="the run index")
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    rebuild = db_commands.add_parser("rebuild", help="rebuild mosaic.db from the run directories")
    rebuild.set_defaults(func=_cmd_db_rebuild)
