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
from collections.abc import Sequence
from typing import Any

from mosaic_core._config import load_worker_config, secret_fields
from mosaic_core._errors import ConfigError, MosaicError, ProtocolError, RunCancelled, short_repr
from mosaic_core._fields import MAX_DEPTH, check_json
from mosaic_core._secrets import Scrubber, redact
from mosaic_core._spec import WorkerSpec, wants_context
from mosaic_core._telemetry import TelemetryEmitter, raise_after_emit

__all__ = ["EXIT_BAD_CONFIG", "EXIT_CANCELLED", "EXIT_FAILED", "EXIT_OK", "run_worker"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_CONFIG, EXIT_CANCELLED = 0, 1, 2, 130


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Run one MOSAIC worker job.")
    parser.add_argument("--worker", help="worker type to run (when not given a spec)")
    parser.add_argument(
        "--worker-module",
        metavar="MODULE",
        help="the module of the worker's entry point, imported directly instead of reading "
        "every installed distribution's entry points (the supervisor gives it)",
    )
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
                f"--set {short_repr(item)}: expected KEY=VALUE, such as total_steps=5000",
                value=item,
                expected="KEY=VALUE",
            )
        key = key.strip()
        try:
            value: Any = json.loads(raw)
        except RecursionError:
            raise ConfigError(
                f"--set {key}=...: the value is nested too deeply to read; expected at most "
                f"{MAX_DEPTH} levels of objects and lists",
                field=key,
                expected=f"at most {MAX_DEPTH} levels",
            ) from None
        except ValueError:
            value = raw
        check_json({key: value})
        out[key] = value
    return out


def _with_secrets(path: str) -> tuple[str | dict[str, Any], Scrubber]:
    """The config file, with redacted secrets restored from ``$MOSAIC_CONFIG_SECRETS``,
    and a scrubber that knows their values."""
    secrets = os.environ.get("MOSAIC_CONFIG_SECRETS")
    if not secrets:
        return path, Scrubber()
    from mosaic_core._config import extract_worker_config, read_json_file
    from mosaic_core._secrets import apply_secrets

    pairs = json.loads(secrets)
    document = extract_worker_config(read_json_file(path), path)
    return apply_secrets(document, pairs), Scrubber.from_pairs(pairs)


def _config_secrets(config: Any, scrubber: Scrubber) -> Scrubber:
    """``scrubber`` plus the secret fields of the loaded config (a config file may hold
    them itself when the worker runs without the supervisor)."""
    to_dict = getattr(config, "to_dict", None)
    if not callable(to_dict):
        return scrubber
    try:
        _, pairs = redact(to_dict(), secret_fields(type(config)))
    except Exception:  # noqa: BLE001 - a broken to_dict() is reported when the run uses it
        return scrubber
    return Scrubber([*scrubber.values, *(value for _path, value in pairs)])


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
    """Run one job from the command line; returns the exit status.

    Secret values of the config are scrubbed from everything this writes: the
    telemetry (a ``run_failed`` quoting a key), and its messages on stderr.
    """
    args = _parser("mosaic-worker" if spec is None else spec.worker_type).parse_args(argv)
    global _stopping
    _stopping = False
    try:
        emitter = TelemetryEmitter()
    except ProtocolError as exc:  # no channel to report on: say so, in a line
        print(f"mosaic: {exc}", file=sys.stderr)
        return EXIT_FAILED
    signal.signal(signal.SIGTERM, _on_sigterm)
    scrubber = Scrubber()
    try:
        source, scrubber = _with_secrets(args.config)
        emitter._set_scrubber(scrubber)
        if spec is None:
            spec = _find_spec(args.worker, args.worker_module)
        config: Any = load_worker_config(
            source,
            spec.config_class,
            defaults={"run_id": emitter.run_id},
            overrides=parse_set(args.set),
        )
    except (ConfigError, MosaicError) as exc:
        _fail_quietly(emitter, exc, scrubber)
        return EXIT_BAD_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILED
    except RunCancelled as exc:
        emitter.run_cancelled(reason=str(exc))
        return EXIT_CANCELLED
    except Exception as exc:  # noqa: BLE001 - a broken config class still ends the run
        emitter.run_failed(exc)
        _print_traceback(exc, scrubber)
        return EXIT_FAILED
    scrubber = _config_secrets(config, scrubber)
    if config.run_id != emitter.run_id:
        emitter = TelemetryEmitter(config.run_id)
    emitter._set_scrubber(scrubber)
    try:
        factory = spec.runtime_factory
        if wants_context(factory):
            from mosaic_core._context import RunContext

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
            _fail_quietly(emitter, exc, scrubber)
        else:
            print(f"mosaic: {scrubber.text(str(exc))}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    except BaseException as exc:  # noqa: BLE001 - the worker's last line of defence
        if emitter._channel.gone is not None:
            return EXIT_FAILED  # the channel said why, in one line; a traceback adds nothing
        if not emitter.finished:
            emitter.run_failed(exc)
        _print_traceback(exc, scrubber)
        return EXIT_FAILED
    if not emitter.finished:
        emitter.run_completed(summary)
    # The runtime may have ended the run itself, by cancelling it for instance.
    return {"run_completed": EXIT_OK, "run_cancelled": EXIT_CANCELLED}.get(
        emitter.finished or "", EXIT_FAILED
    )


def _fail_quietly(emitter: TelemetryEmitter, exc: BaseException, scrubber: Scrubber) -> None:
    """A user error: one clear line on stderr and ``run_failed``, no traceback."""
    print(f"mosaic: {scrubber.text(str(exc))}", file=sys.stderr)
    emitter.run_failed(
        {"error": str(exc), "error_type": type(exc).__name__, "traceback": ""},
        field=getattr(exc, "field", None),
    )


def _print_traceback(exc: BaseException, scrubber: Scrubber) -> None:
    import traceback  # only for a failure: a worker starts without it

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(scrubber.text(text))
    sys.stderr.flush()


def _find_spec(worker_type: str | None, module: str | None = None) -> WorkerSpec:
    from mosaic_core._discovery import discover_workers, worker_from_module

    if not worker_type:
        raise MosaicError("--worker TYPE is required when no spec is given")
    if module:
        spec = worker_from_module(worker_type, module)
        if spec is not None:
            return spec
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
