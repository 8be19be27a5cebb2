"""The operators page with a real language model: a trained CleanRL policy, a 270M Gemma
served by llama.cpp and random play the same seeded CartPole episode side by side, then a
person takes a seat.

The LLM worker pins what this environment cannot hold (minigrid 3.2.0 and pygame-ce
beside the CleanRL worker's pygame), so, as a user would, the test makes it a `mosaic env`
(``mosaic env create llm -r packages/llm-worker[real]``) and serves the model from that
environment with the worker's own ``python -m mosaic_llm.local_model``. The server resolves
``llm:gemma@URL`` to that environment and runs the seat's operator process with its Python.
Nothing here is scripted: the model's replies are whatever it says.
"""

from __future__ import annotations

import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Server, shot
from test_operators import _seat, _setup, _start, _state, _until, _wait_pane

pytestmark = [pytest.mark.browser, pytest.mark.real]

LLM_WORKER = pathlib.Path(__file__).resolve().parents[2] / "llm-worker"
STARTUP_TIMEOUT = 240.0


def _mosaic(home: pathlib.Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    mosaic = shutil.which("mosaic", path=os.path.dirname(sys.executable))
    assert mosaic, f"no `mosaic` command beside {sys.executable}"
    return subprocess.run(
        [mosaic, *args], env=dict(os.environ, MOSAIC_HOME=str(home)), text=True,
        capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture
def gemma(home: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[str]:
    """``llm:gemma@URL`` for a llama.cpp server started from the llm worker's own
    environment, made in ``home`` as ``mosaic env create`` makes it."""
    made = _mosaic(home, "env", "create", "llm", "-r", f"{LLM_WORKER}[real]", timeout=1800)
    assert made.returncode == 0, made.stdout + made.stderr
    listed = _mosaic(home, "env", "list", "--json", timeout=60)
    (env,) = json.loads(listed.stdout)
    assert [w["worker_type"] for w in env["workers"]] == ["llm"] and env["exists"], env
    # The worker's own command: assembles the model, serves it, prints its URL once it answers.
    log = tmp_path / "llama-server.log"
    server = subprocess.Popen(
        [env["python"], "-m", "mosaic_llm.local_model", "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], STARTUP_TIMEOUT)
        url = server.stdout.readline().strip() if ready else ""
        if not url.startswith("http://"):
            server.kill()
            pytest.fail(f"the local model did not come up: {server.communicate()[1][-3000:]}")
        yield f"llm:gemma@{url}"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def trained(server: Server) -> str:
    """A PPO run on CartPole, launched from the API before the model's environment is made,
    so that the two overlap."""
    status, launched = server.request("POST", "/api/launch", {
        "worker": "cleanrl",
        "config": {"algorithm": "ppo", "env_id": "CartPole-v1", "total_steps": 20000},
    })  # fmt: skip
    assert status == 201, launched
    return str(launched["runs"][0]["run_id"])


def test_a_trained_policy_an_llm_and_random_then_a_person(
    page: Any, server: Server, trained: str, gemma: str
) -> None:
    run = server.wait_for(trained, ("completed", "failed"), timeout=600)
    assert run["status"] == "completed", run.get("reason")
    policy = f"cleanrl:{trained}"
    _setup(page, server, "classic_control", "CartPole-v1")
    page.locator("#add-pane").click()  # three panes
    _seat(page, 0, "agent", policy)
    _seat(page, 1, "agent", "*")  # another spec: the model's endpoint
    page.locator("[data-pane-setup='1'] input[data-spec='agent']").fill(gemma)
    page.locator("#seed").fill("7")
    sid = _start(page)
    state = _state(server, sid)
    assert [p["seats"][0]["spec"] for p in state["panes"]] == [policy, gemma, "random"]
    here = state["panes"][1]["seats"][0]["python"]
    assert here is not None and pathlib.Path(here).parent != pathlib.Path(sys.executable).parent
    page.locator("#pace").fill("0")
    page.locator("#run").click()
    # The model answers in about a second a step on one thread: wait for its first episode.
    state = _wait_pane(server, sid, lambda s: all(p["episodes"] >= 1 for p in s["panes"]),
                       timeout=900)  # fmt: skip
    page.locator("[data-pane='1'] [data-reply='']").wait_for()
    page.locator("#pause").click()
    _until(page, "Math.min(...window.__mosaicPlay.frames) >= 3")
    llm = state["panes"][1]
    assert all(p["status"] != "failed" for p in state["panes"]), state["panes"]
    exchange = _state(server, sid)["panes"][1]["exchanges"][""]
    assert exchange["prompt"] and exchange["reply"], exchange  # what the model was asked, said
    assert isinstance(exchange["invalid_replies"], int)
    prompt = page.locator("[data-pane='1'] [data-prompt='']").inner_text()
    assert "The observation is [" in prompt, prompt  # CartPole's four values, in words
    assert "invalid replies" in page.locator("[data-pane='1'] [data-exchange] summary").inner_text()
    assert "null" not in page.inner_text("body").splitlines()  # nothing unset is printed
    assert llm["results"][0]["seed"] == 7 and llm["results"][0]["length"] >= 1
    shot(page, "operators-llm", height=760)
    page.locator("#stop").click()
    page.locator("#recorded a").wait_for(timeout=60_000)
    recorded = page.locator("#recorded a").inner_text().split()[-1]
    run = server.wait_for(recorded, ("completed",))
    operators = run["summary"]["operators"]
    assert [o["operator"] for o in operators] == [policy, gemma, "random"]
    first = [o["episode_results"][0] for o in operators]  # every pane's episode of seed 7
    assert [e["seed"] for e in first] == [7, 7, 7], first
    assert first[0]["return"] > first[2]["return"], first  # the policy beats random on it
    assert first[1]["return"] == llm["results"][0]["return"]  # the model's, as the page showed

    # Then a person takes the cart, beside the trained policy, on the same seed.
    _setup(page, server, "classic_control", "CartPole-v1")
    _seat(page, 0, "agent", "human")
    _seat(page, 1, "agent", policy)
    page.locator("#seed").fill("7")
    sid = _start(page)
    page.locator("[data-pane='0'] [data-waiting]").wait_for()
    for number, key in enumerate(["ArrowLeft", "ArrowRight", "ArrowRight"], 1):
        page.keyboard.press(key)
        _wait_pane(server, sid, lambda s, n=number: s["panes"][0]["steps"] == n)
    person = _state(server, sid)["panes"][0]
    assert person["actions"] == [0, 1, 1] and person["seats"][0]["human"], person
    _until(page, "window.__mosaicPlay.frames[1] >= 1", timeout=120)  # the policy's first frame
    shot(page, "operators-person", height=620)
    page.locator("#stop").click()
    page.locator("#recorded a").wait_for(timeout=60_000)
