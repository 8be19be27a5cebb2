"""The operator protocol, for a worker that declares an ``operator_factory``.

The kit serves the worker's operator, loaded from the smoke run's directory,
through mosaic-core's own server (``python -m mosaic_core.operator_main
--interactive --operator WORKER:RUN_DIR``), exactly as ``mosaic eval`` and a
front end start it, and talks the step protocol to it over its pipes. When
the smoke run's ``env_id`` can be made here, the operator also plays a few
steps of it; otherwise the protocol is checked without an environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mosaic_core.conformance._outcomes import CheckFailed, CheckSkipped

if TYPE_CHECKING:
    from mosaic_core.conformance._subject import WorkerUnderTest

__all__ = ["check_operator_protocol"]

_STEPS = 5
_STEP_FIELDS = ("step_index", "action", "reward", "terminated", "truncated", "episode_reward")


def _start(operator: str, env_id: str | None) -> Any:
    from mosaic_core.operators.client import OperatorClient

    # The operator is named by its run directory, so it needs no run store.
    client = OperatorClient.spawn(operator, env_id, render="none", timeout=60.0)
    client.ping()  # the first answer: the operator was built and the server runs
    return client


def _expect(response: dict[str, Any], kind: str, rid: int, doing: str) -> None:
    if response.get("type") != kind or response.get("id") != rid:
        raise CheckFailed(f"{doing}: expected a {kind!r} answer with id {rid}; got {response!r}")


def check_operator_protocol(kit: WorkerUnderTest) -> str:
    """reset/step/select_action/ping/stop over pipes, ids echoed, errors for bad commands."""
    from mosaic_core._errors import ProtocolError
    from mosaic_core.operators.client import OperatorRequestError

    if kit.spec.operator_factory is None:
        raise CheckSkipped("the worker declares no operator_factory")
    record = kit.completed_smoke_run()
    started = record.events[0].payload if record.events else {}
    env_id = started.get("env_id") if isinstance(started.get("env_id"), str) else None
    operator = f"{kit.worker_type}:{record.run_dir}"
    notes = []
    try:
        try:
            client = _start(operator, env_id)
        except ProtocolError:
            if env_id is None:
                raise
            notes.append(f"env {env_id!r} cannot be made here, so no steps were played")
            env_id = None
            client = _start(operator, None)
    except ProtocolError as exc:
        raise CheckFailed(
            f"the operator of the smoke run ({operator}) did not start: {exc}\nhint: "
            "operator_factory(checkpoint_dir, **options) must return an object with "
            "reset(seed), select_action(observation, info) and close(), loading the policy "
            "from the run directory it is given"
        ) from None
    try:
        rid = client.send("ping")
        _expect(client.read(waiting_for="ping"), "pong", rid, "ping")
        rid = client.send("warp_drive")
        answer = client.read(waiting_for="an unknown command")
        _expect(answer, "error", rid, "an unknown command")
        client.send_raw("this is not JSON")
        answer = client.read(waiting_for="a line that is not JSON")
        if answer.get("type") != "error":
            raise CheckFailed(f"a line that is not JSON: expected an 'error'; got {answer!r}")
        if env_id is not None:
            rid = client.send("reset", seed=0)
            _expect(client.read(waiting_for="reset"), "ready", rid, "reset")
            for _ in range(_STEPS):
                step = client.call("step")
                missing = [f for f in _STEP_FIELDS if f not in step]
                if step.get("type") != "step" or missing:
                    raise CheckFailed(f"step: missing {missing} in the answer {step!r}")
            notes.append(f"{_STEPS} steps of {env_id}")
        rid = client.send("stop")
        _expect(client.read(waiting_for="stop"), "stopped", rid, "stop")
    except OperatorRequestError as exc:
        raise CheckFailed(f"the operator answered with an error: {exc}") from None
    except ProtocolError as exc:
        raise CheckFailed(f"the operator broke the step protocol: {exc}") from None
    finally:
        code = client.close()
    if code not in (0, None):
        raise CheckFailed(f"the operator process exited with status {code} after stop")
    return "ping, errors for bad input, stop" + (f"; {'; '.join(notes)}" if notes else "")
