"""The step-protocol server answers every line, whatever it is, and keeps serving.

A bounded, seeded fuzz of a real operator process over real pipes (JSON nested far too
deep, ids holding lone surrogates or whole documents, numbers beyond any float, bytes
that are not UTF-8, truncated JSON ...), each line followed by a probe ``ping``: every
line must be answered, with valid JSON, before the probe's ``pong``. And a hypothesis
property of the same, in process.
"""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("gymnasium")

from mosaic_core.operators.client import operator_command

CMDS = ["reset", "step", "select_action", "ping", "stp", "", "STEP", "\ud800", None, 7]
SEED = 20261206
INPUTS = 2000


def _nested(rng: random.Random) -> str:
    depth = rng.choice([10, 500, 980, 990, 1000, 1500, 5000, 100_000])
    if rng.random() < 0.5:
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _value(rng: random.Random) -> str:
    return rng.choice([
        "null", "true", "0", "-1", str(2**64), str(10**400), "1e400", "NaN", "-Infinity",
        '"\\ud800"', '"x\\udfffy"', '"\\u0000"', '"' + "é" * 50 + '"', "[]", "{}",
        _nested(rng), '"' + "x" * rng.choice([1, 1000, 100_000]) + '"',
    ])  # fmt: skip


def _line(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.15:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b"")
    if kind < 0.25:
        return _nested(rng).encode()
    if kind < 0.35:
        return _value(rng).encode()
    cmd = json.dumps(rng.choice(CMDS))
    fields = [f'"cmd":{cmd}']
    if rng.random() < 0.8:
        fields.append(f'"id":{_value(rng)}')
    for name in ("seed", "action", "observation", "info", "action_mask", "render", "agent"):
        if rng.random() < 0.3:
            fields.append(f'"{name}":{_value(rng)}')
    rng.shuffle(fields)
    text = "{" + ",".join(fields) + "}"
    if rng.random() < 0.1:
        text = text[: rng.randrange(1, len(text))]  # truncated
    return text.encode("utf-8", "surrogatepass")


def test_seeded_fuzz_every_line_is_answered_and_the_server_keeps_serving(
    op_env: dict[str, str],
) -> None:
    rng = random.Random(SEED)
    argv = operator_command("random", "mosaictest_envs:counting", render="none")
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=op_env,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for index in range(INPUTS):
            line = _line(rng)
            probe = f"probe-{index}"
            proc.stdin.write(line + b"\n" + json.dumps({"cmd": "ping", "id": probe}).encode())
            proc.stdin.write(b"\n")
            proc.stdin.flush()
            answers: list[dict[str, Any]] = []
            while True:
                raw = proc.stdout.readline()
                assert raw, f"the server died on input {index}: {line[:120]!r}"
                answer = json.loads(raw)  # every answer is valid JSON, in UTF-8
                assert isinstance(answer, dict) and "type" in answer, raw[:200]
                if answer["type"] == "pong" and answer.get("id") == probe:
                    break
                answers.append(answer)
            if line.strip():
                assert answers, f"input {index} got no answer: {line[:120]!r}"
        proc.stdin.write(b'{"cmd":"stop","id":"end"}\n')
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["type"] == "stopped"
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class _Fixed:
    def reset(self, seed: int | None = None) -> None:
        return None

    def select_action(self, observation: Any, info: Any) -> int:
        return 0

    def close(self) -> None:
        return None


_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from(["\ud800", "a\udfffb"])
)  # fmt: skip
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cmd=st.sampled_from(CMDS) | _VALUES,
    rid=_VALUES,
    extra=st.dictionaries(st.sampled_from(["observation", "seed", "action", "info"]), _VALUES),
    garbage=st.binary(max_size=64),
    use_garbage=st.booleans(),
)
def test_any_request_line_gets_json_answers_and_never_an_exception(
    cmd: Any, rid: Any, extra: dict[str, Any], garbage: bytes, use_garbage: bool
) -> None:
    from mosaic_core.operators import InteractiveServer

    server = InteractiveServer(_Fixed(), env=None, run_id="fuzz")
    if use_garbage:
        line = garbage
    else:
        request = {"cmd": cmd, "id": rid, **extra}
        line = json.dumps(request, ensure_ascii=True).encode()  # surrogates as \\ud800 escapes
    answers = server.handle_line(line)
    assert answers
    for answer in answers:
        decoded = json.loads(answer.decode("utf-8"))
        assert decoded["type"] in ("error", "pong", "action_selected", "ready", "step")
