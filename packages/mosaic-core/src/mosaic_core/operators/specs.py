"""Operator specs: the strings that name an operator on a command line.

=========================  ===============================================================
``random``, ``human``      the built-in operators
``WORKER:RUN_ID``          worker WORKER's operator, loaded from run RUN_ID of the run
                           store (an unambiguous prefix will do)
``WORKER:PATH``            worker WORKER's operator, loaded from a run directory, or
                           from one checkpoint (a file such as ``.../final.pt``, or a
                           checkpoint directory)
``RUN_ID``                 the operator of whichever worker made that run
``llm:MODEL@URL``          the llm worker's operator for MODEL behind an
                           OpenAI-compatible endpoint at URL
=========================  ===============================================================

Any spec may end with ``?key=value&key=value``: options for the worker's
``operator_factory`` (values are parsed as JSON, else kept as strings).
The factory is called as ``operator_factory(checkpoint, **options)``, where
``checkpoint`` is the run directory (or the given path), and, for
``llm:MODEL@URL``, ``operator_factory(None, model=MODEL, base_url=URL)``.
A factory with a parameter named ``context`` also gets the seat's
:class:`~mosaic_core._operator.OperatorContext` (a multi-agent policy needs
to know which agent it plays). Before the factory is called, a spec that
names a run is checked against the seat
(:func:`mosaic_core.operators.trained.check_seat`).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from typing import Any

import attrs

from mosaic_core._errors import ConfigError, MosaicError, PluginError, ProtocolError
from mosaic_core._operator import Operator, OperatorContext, call_operator_factory
from mosaic_core.operators.builtin import BUILTIN
from mosaic_core.operators.trained import check_seat

__all__ = ["OperatorSpec", "build_operator", "call_operator_factory", "parse_operator_spec"]


@attrs.frozen(kw_only=True)
class OperatorSpec:
    """A resolved operator spec: what to load, from where, with which interpreter."""

    text: str
    #: ``random``/``human`` for a built-in, else the worker type.
    name: str
    builtin: bool = False
    checkpoint: str | None = None
    run_id: str | None = None
    options: dict[str, Any] = attrs.field(factory=dict)
    #: The interpreter the operator must run in (a ``mosaic env``), None for this one.
    python: str | None = None

    @property
    def label(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _options(query: str, text: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if not key.isidentifier():
            raise ConfigError.bad_value(
                "--operator", text, f"option names that are identifiers, not {key!r}"
            )
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


def parse_operator_spec(text: str, store: Any = None) -> OperatorSpec:
    """Resolve ``text`` (see the module docs); ``store`` is a RunStore, opened if needed."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError.bad_value("--operator", text, "an operator spec such as 'random'")
    body, _, query = text.strip().partition("?")
    options = _options(query, text)
    if body in BUILTIN:
        if options:  # seen now, before an evaluation run exists, as any bad spec
            raise ConfigError.bad_value(
                "--operator", text, f"no options: the {body} operator takes none"
            )
        return OperatorSpec(text=text, name=body, builtin=True, options=options)
    worker, sep, ref = body.partition(":")
    if not sep:
        worker, ref = "", body
    if not ref:
        raise ConfigError.bad_value(
            "--operator", text, "WORKER:RUN_ID, WORKER:PATH, RUN_ID, random or human"
        )
    if worker == "llm" and "@" in ref:
        model, _, url = ref.partition("@")
        return OperatorSpec(
            text=text, name="llm", options={"model": model, "base_url": url, **options},
            python=_elsewhere("llm", store),
        )  # fmt: skip
    if worker and os.path.exists(os.path.expanduser(ref)):
        path = os.path.abspath(os.path.expanduser(ref))
        return OperatorSpec(
            text=text, name=worker, checkpoint=path, options=options,
            python=_elsewhere(worker, store),
        )  # fmt: skip
    return _from_run(text, worker, ref, options, store)


def _elsewhere(worker: str, store: Any) -> str | None:
    """The Python of a ``mosaic env`` holding ``worker``, when this Python lacks it (None
    when it has it, or when no environment does: loading it here then says what is missing).

    The recorded environments are read first: most stores have none, and then no plugin
    is imported to answer; otherwise only ``worker``'s own entry point is loaded."""
    import sqlite3

    from mosaic_core.runs.store import RunStore

    try:
        opened = store if store is not None else RunStore(readonly=True)
    except (OSError, sqlite3.Error, MosaicError):  # an unreadable store: no environments
        return None
    try:
        having = [
            env for env in opened.envs()
            if any(w.get("worker_type") == worker for w in env["workers"])
            and os.path.exists(env["python"])
        ]  # fmt: skip
    finally:
        if store is None:
            opened.close()
    if not having:
        return None
    from mosaic_core._discovery import discover_workers

    if worker in discover_workers(load=[worker], strict=False).workers:
        return None  # installed here too: it runs here
    if worker in discover_workers(strict=False).workers:  # one plugin, several worker types
        return None
    having.sort(key=lambda env: (env["name"] != worker, env["name"]))
    return str(having[0]["python"])


def _from_run(
    text: str, worker: str, ref: str, options: dict[str, Any], store: Any
) -> OperatorSpec:
    from mosaic_core.runs.store import RunNotFound, RunStore

    own = store is None
    store = RunStore() if own else store
    try:
        try:
            run = store.get(ref)
        except RunNotFound as exc:
            if os.sep in ref:
                raise ConfigError(
                    f"--operator {text!r}: no file or directory {ref}; expected a run id, a "
                    "run directory or a checkpoint file",
                    field="--operator",
                    value=text,
                ) from None
            hint = "" if worker else "; built-in operators: " + ", ".join(BUILTIN)
            raise ConfigError(
                f"--operator {text!r}: {exc}{hint}", field="--operator", value=text
            ) from None
        if worker and run["worker_type"] != worker:
            raise ConfigError(
                f"--operator {text!r}: run {run['run_id']} was made by worker "
                f"{run['worker_type']!r}, not {worker!r}",
                field="--operator",
                value=text,
            )
        python = run.get("python")
        if run.get("env_name"):
            try:
                python = store.get_env(run["env_name"])["python"]
            except ConfigError:
                pass
        return OperatorSpec(
            text=text,
            name=run["worker_type"],
            checkpoint=str(store.run_dir(run["run_id"])),
            run_id=run["run_id"],
            options=options,
            python=None if not python or _same_python(python) else python,
        )
    finally:
        if own:
            store.close()


def _same_python(python: str) -> bool:
    """Whether ``python`` is this interpreter. Their directories are compared, not the
    files: a virtual environment's ``python`` is a link to its base interpreter, so the
    file alone would make every environment of one base Python the same."""
    try:
        return os.path.samefile(os.path.dirname(python), os.path.dirname(sys.executable))
    except OSError:
        return python == sys.executable


def build_operator(spec: OperatorSpec, context: OperatorContext, discovery: Any = None) -> Operator:
    """Make the operator ``spec`` names, in this process, for the seat ``context`` describes."""
    if spec.builtin:
        if spec.options:
            raise ConfigError.bad_value(
                "--operator", spec.text, f"no options: the {spec.name} operator takes none"
            )
        return BUILTIN[spec.name](context)
    if discovery is None:
        from mosaic_core._discovery import discover_workers

        discovery = discover_workers(load=[spec.name])
        if spec.name not in discovery.workers:
            discovery = discover_workers()
    try:
        worker_spec = discovery.runnable(spec.name)
    except PluginError as exc:
        where = (
            f"; it runs in {spec.python} (a `mosaic env`): start the operator with that Python"
            if (spec.python)
            else ""
        )
        raise PluginError(f"operator {spec.text!r}: {exc}{where}", plugin=spec.name) from None
    factory = worker_spec.operator_factory
    if factory is None:
        raise PluginError(
            f"operator {spec.text!r}: worker {spec.name!r} has no operator (its WorkerSpec sets "
            "no operator_factory), so its runs cannot be evaluated",
            plugin=spec.name,
        )
    check_seat(spec.text, spec.checkpoint, spec.options, context)
    operator = call_operator_factory(factory, spec.checkpoint, context, spec.options)
    if not isinstance(operator, Operator):
        raise ProtocolError(
            f"operator {spec.text!r}: {spec.name}'s operator_factory returned "
            f"{type(operator).__name__}; expected an object with reset(seed), "
            "select_action(observation, info) and close()"
        )
    return operator
