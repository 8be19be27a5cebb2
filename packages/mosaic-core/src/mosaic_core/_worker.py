"""The one entry point every worker process runs: config in, lifecycle telemetry out.

The supervisor starts a worker as ``python -m mosaic_core.worker_main
--worker TYPE --config FILE``, or a worker's own console module calls
:func:`run_worker` with its spec. Either way the same code loads the config,
turns SIGTERM into :class:`~mosaic_core._errors.RunCancelled`, runs the
runtime, and makes sure exactly one terminal event goes out.

Exit status: 0 completed, 1 failed, 2 bad config, 130 cancelled. The first
SIGTERM cancels; the runtime then has the supervisor's grace period
(:attr:`RunContext.stop_grace`) to save and record a checkpoint, and a
second SIGTERM does not interrupt it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from mosaic_core._config import load_worker_config
from mosaic_core._context import RunContext
from mosaic_core._errors import ConfigError, MosaicError, ProtocolError, RunCancelled
from mosaic_core._spec import WorkerSpec, wants_context
from mosaic_core._telemetry import TelemetryEmitter, raise_after_emit

__all__ = ["EXIT_BAD_CONFIG", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "run_worker"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG, EXIT_CANCELLED = 0, 1, 2, 130


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run one MOSAIC worker job.")
    parser.add_argument("--worker", help="worker type to run (when not given a spec)")
    parser.add_argument("--config", required=True, help="JSON config file, direct or nested")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field; VALUE is parsed as JSON, else taken as a string",
    )
    return parser


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``["lr=0.1", "env_id=CartPole-v1"]`` -> ``{"lr": 0.1, "env_id": "CartPole-v1"}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE, such as total_steps=5000",
                value=item,
                expected="KEY=VALUE",
            )
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out[key.strip()] = value
    return out


def _with_secrets(path: str) -> str | dict[str, Any]:
    """The config file, with redacted secrets restored from ``$MOSAIC_CONFIG_SECRETS``."""
    secrets = os.environ.get("MOSAIC_CONFIG_SECRETS")
    if not secrets:
        return path
    from mosaic_core._config import extract_worker_config, read_json_file
    from mosaic_core._secrets import apply_secrets

    document = extract_worker_config(read_json_file(path), path)
    return apply_secrets(document, json.loads(secrets))


_stopping = False


def _on_sigterm(signum: int, frame: Any) -> None:
    """The first SIGTERM cancels the run; later ones (``mosaic cancel`` and the supervisor
    may both send one) are ignored, so they cannot cut short the saving of a checkpoint."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    raise_after_emit(RunCancelled(f"received {signal.Signals(signum).name}"))


def run_worker(spec: WorkerSpec | None = None, argv: Sequence[str] | None = None) -> int:
    """Run one job from the command line; returns the exit status."""
    args = _parser("mosaic-worker" if spec is None else spec.worker_type).parse_args(argv)
    global _stopping
    emitter = TelemetryEmitter()
    _stopping = False
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if spec is None:
            spec = _find_spec(args.worker)
        config: Any = load_worker_config(
            _with_secrets(args.config),
            spec.config_class,
            defaults={"run_id": emitter.run_id},
            overrides=parse_set(args.set),
        )
    except (ConfigError, MosaicError) as exc:
        _fail_quietly(emitter, exc)
        return EXIT_BAD_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILED
    except RunCancelled as exc:
        emitter.run_cancelled(reason=str(exc))
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - a broken config class still ends the run
        emitter.run_failed(exc)
        traceback.print_exc()
        return EXIT_FAILED
    if config.run_id != emitter.run_id:
        emitter = TelemetryEmitter(config.run_id)
    try:
        factory = spec.runtime_factory
        if wants_context(factory):
            context = RunContext.from_environment(
                config.run_id, spec.worker_type, spec.metadata.version
            )
            runtime = factory(config, context=context)
        else:
            runtime = factory(config)
        summary = runtime.run()
        if not isinstance(summary, dict):
            raise ProtocolError(
                f"{type(runtime).__name__}.run() returned {type(summary).__name__}; "
                "expected a dict summary"
            )
    except (RunCancelled, KeyboardInterrupt) as exc:
        if not emitter.finished:
            emitter.run_cancelled(reason=str(exc) or type(exc).__name__)
        return EXIT_CANCELLED
    except ConfigError as exc:
        if not emitter.finished:
            _fail_quietly(emitter, exc)
        else:
            print(f"mosaic: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except BaseException as exc:  # noqa: BLE001 - the worker's last line of defence
        if not emitter.finished:
            emitter.run_failed(exc)
        traceback.print_exc()
        return EXIT_FAILED
    if not emitter.finished:
        emitter.run_completed(summary)
    # The runtime may have ended the run itself, by cancelling it for instance.
    return {"run_completed": EXIT_OK, "run_cancelled": EXIT_CANCELLED}.get(
        emitter.finished or "", EXIT_FAILED
    )


def _fail_quietly(emitter: TelemetryEmitter, exc: BaseException) -> None:
    """A user error: one clear line on stderr and ``run_failed``, no traceback."""
    print(f"mosaic: {exc}", file=sys.stderr)
    emitter.run_failed(
        {"error": str(exc), "error_type": type(exc).__name__, "traceback": ""},
        field=getattr(exc, "field", None),
    )


def _find_spec(worker_type: str | None) -> WorkerSpec:
    from mosaic_core._discovery import discover_workers

    if not worker_type:
        raise MosaicError("--worker TYPE is required when no spec is given")
    found = discover_workers(load=[worker_type])
    if worker_type not in found.workers and not found.broken:
        # Not an entry-point name: one plugin may register several worker types, and
        # the error should list what is installed, so look at every plugin.
        found = discover_workers(load=[worker_type, *found.skipped])
    return found.runnable(worker_type)


def main() -> None:
    sys.exit(run_worker())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
