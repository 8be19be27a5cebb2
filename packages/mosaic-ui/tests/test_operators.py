"""The operators page in a real Chromium against a real ``mosaic ui``: real operator processes,
real environments of the families, frames over the WebSocket, a person's keys and moves."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from typing import Any
from urllib.parse import quote

import pytest
from conftest import Server, shot

pytestmark = pytest.mark.browser


def _until(page: Any, expression: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} still false after {timeout} s")
        time.sleep(0.05)


def _state(server: Server, sid: str) -> dict[str, Any]:
    status, state = server.get(f"/api/play/{sid}")
    assert status == 200, state
    return dict(state)


def _wait_pane(server: Server, sid: str, test: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = _state(server, sid)
        if test(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached after {timeout} s: {state['panes']}")
        time.sleep(0.1)


def _setup(page: Any, server: Server, family: str, task: str) -> None:
    page.goto(server.base + "/#/operators")
    page.locator("#family").select_option(family)
    page.locator("#task").select_option(task)
    page.locator("#preview").wait_for()
    # The preview of this task, loaded (the family's first task is painted before it).
    _until(
        page,
        "(document.getElementById('preview') || {}).naturalWidth > 0 && "
        f"document.getElementById('preview').src.includes({json.dumps(quote(task, safe=''))})",
    )


def _seat(page: Any, pane: int, agent: str, value: str) -> None:
    page.locator(f"[data-pane-setup='{pane}'] select[data-seat='{agent}']").select_option(value)


def _start(page: Any) -> str:
    page.locator("#start-play").click()
    _until(
        page, "location.hash.startsWith('#/operators/') || !!document.getElementById('play-error')"
    )
    error = page.locator("#play-error")
    assert error.count() == 0, error.inner_text()
    return str(page.url.rsplit("/", 1)[-1])


def _frame(server: Server, sid: str, pane: int) -> Any:
    import numpy as np
    from PIL import Image

    status, data = server.get(f"/api/play/{sid}/panes/{pane}/frame.png")
    assert status == 200, data
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_babyai_arrow_keys_move_the_agent(page: Any, server: Server) -> None:
    import numpy as np

    from mosaic_core.operators import make_env

    _setup(page, server, "babyai", "BabyAI-GoToLocal-v0")
    assert page.locator("#stepping").inner_text() == "single"
    assert page.evaluate("document.getElementById('preview').naturalWidth") == 8 * 32
    page.locator("[data-setting='tile_size']").fill("16")  # a family setting: smaller tiles
    page.locator("#apply-settings").click()
    _until(page, "(document.getElementById('preview') || {}).naturalWidth === 8 * 16")
    _seat(page, 0, "agent", "human")
    sid = _start(page)
    _until(page, "window.__mosaicPlay && Math.min(...window.__mosaicPlay.frames) >= 1")
    page.locator("[data-pane='0'] [data-waiting]").wait_for()
    for number, key in enumerate(["ArrowLeft", "ArrowUp", "ArrowRight", "ArrowUp"], 1):
        page.keyboard.press(key)
        _wait_pane(server, sid, lambda s, n=number: s["panes"][0]["steps"] == n)
    state = _state(server, sid)
    human = state["panes"][0]
    assert human["actions"] == [0, 2, 1, 2] and human["episodes"] == 0, human
    assert state["panes"][1]["steps"] == 0  # the random pane waits for Step or Run
    # The frame the server shows is the one these actions give, on the same seed.
    env = make_env("BabyAI-GoToLocal-v0", render_mode="rgb_array", tile_size=16)
    env.reset(seed=0)
    first = env.render()
    for action in [0, 2, 1, 2]:
        env.step(action)
    expected = env.render()
    env.close()
    shown = _frame(server, sid, 0)
    assert shown.shape == (128, 128, 3)  # the setting reached the pane's environment
    assert np.array_equal(shown, expected) and not np.array_equal(shown, first)
    _until(page, "window.__mosaicPlay.frames[0] >= 5")
    shot(page, "operators-babyai", height=620)


def test_tictactoe_a_person_against_random_to_the_end(page: Any, server: Server) -> None:
    _setup(page, server, "pettingzoo_classic", "tictactoe_v3")
    assert page.locator("#stepping").inner_text().startswith("aec")
    page.locator("[data-pane-setup='1'] button").click()  # one pane
    _seat(page, 0, "player_1", "human")
    sid = _start(page)
    page.locator("#pace").fill("20")
    page.locator("#run").click()
    moves = 0
    while _state(server, sid)["panes"][0]["episodes"] == 0:
        state = _state(server, sid)
        pane = state["panes"][0]
        if pane["waiting_for"] != "player_1":
            time.sleep(0.05)
            continue
        page.locator("[data-pane='0'] [data-waiting='player_1']").wait_for()
        legal = pane["legal"]["player_1"]
        buttons = [int(b) for b in page.locator("[data-pane='0'] [data-move]").evaluate_all(
            "(els) => els.map((e) => e.dataset.move)")]  # fmt: skip
        if buttons != legal:  # the page may show the previous turn's list for a moment
            time.sleep(0.05)
            continue
        taken = [a for a in range(9) if a not in legal]
        assert len(taken) == 2 * moves  # every move so far took a cell; none is offered again
        if moves == 1:
            # An occupied cell is never offered, and refused when sent anyway.
            status, answer = server.request("POST", f"/api/play/{sid}/control",
                                            {"pane": 0, "action": taken[0]})  # fmt: skip
            assert status == 422 and "legal" in answer["error"], answer
            shot(page, "operators-tictactoe", height=620)
        page.locator(f"[data-pane='0'] [data-move='{legal[0]}']").click()
        moves += 1
        _wait_pane(server, sid, lambda s, m=moves: s["panes"][0]["steps"] >= 2 * m
                   or s["panes"][0]["episodes"] > 0)  # fmt: skip
        assert moves <= 5
    result = _state(server, sid)["panes"][0]["results"][0]
    assert set(result["return"]) == {"player_1", "player_2"}
    assert sorted(result["return"].values()) in ([-1.0, 1.0], [0.0, 0.0])
    assert _state(server, sid)["panes"][0]["invalid"] == 0
    # Stop records the game; its replay plays the same moves to the same end.
    page.locator("#stop").click()
    page.locator("[data-replay='0-0']").click()
    page.locator("#replay-of").wait_for()
    replay = str(page.url.rsplit("/", 1)[-1])
    assert replay != sid
    page.locator("#run").click()
    page.locator("#replayed-0").wait_for(timeout=30_000)
    again = _state(server, replay)["panes"][0]["results"][0]
    assert again["return"] == result["return"] and again["length"] == result["length"]
    shot(page, "operators-replay", height=620)


def test_a_late_answer_for_a_task_picked_before_is_dropped(page: Any, server: Server) -> None:
    """Picking a family asks for its first task; picking another at once asks again. When the
    first answer comes last (held here in the browser's network layer: the server is real),
    the page keeps showing the task picked last."""
    status, listed = server.request("GET", "/api/families")
    assert status == 200, listed
    (multigrid,) = [f for f in listed["families"] if f["name"] == "multigrid"]
    first, wanted = multigrid["tasks"][0]["id"], "MosaicMultiGrid-S-2v2-IndAgObs-v1"
    assert first != wanted
    held: list[Any] = []

    def hold_first(route: Any) -> None:
        path = route.request.url.split("?")[0]
        if path.endswith("/api/families/tasks/" + quote(first, safe="")) and not held:
            held.append(route)  # answered below, after the later task's
        else:
            route.continue_()

    page.goto(server.base + "/#/operators")
    page.route("**/api/families/tasks/**", hold_first)
    page.locator("#family").select_option("multigrid")
    _until(page, "document.getElementById('task').value !== ''")
    page.locator("#task").select_option(wanted)
    shown = json.dumps(quote(wanted, safe=""))
    _until(page, f"(document.getElementById('preview') || {{}}).src?.includes({shown}) "
                 "&& !!document.getElementById('agents')")  # fmt: skip
    assert len(page.locator("#agents").inner_text().split(", ")) == 4
    assert held, "the first task's description was never asked for"
    with page.expect_response(lambda r: r.url.split("?")[0].endswith(quote(first, safe=""))):
        held[0].continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 100))")  # its handler has run
    assert len(page.locator("#agents").inner_text().split(", ")) == 4
    assert quote(wanted, safe="") in str(page.locator("#preview").get_attribute("src"))


def test_multigrid_soccer_four_random_seats_paced(page: Any, server: Server) -> None:
    task = "MosaicMultiGrid-S-2v2-IndAgObs-v1"
    _setup(page, server, "multigrid", task)
    agents = page.locator("#agents").inner_text().split(", ")
    assert len(agents) == 4, agents
    page.locator("[data-pane-setup='1'] button").click()
    sid = _start(page)
    page.locator("#pace").fill("8")
    started = time.monotonic()
    page.locator("#run").click()
    state = _wait_pane(server, sid, lambda s: s["panes"][0]["steps"] >= 24, timeout=90)
    elapsed = time.monotonic() - started
    pane = state["panes"][0]
    assert pane["status"] == "running" and set(pane["to_act"]) == set(agents)
    assert all(isinstance(a, dict) and set(a) == set(agents) for a in pane["actions"])
    assert pane["steps"] / elapsed < 8 * 1.5  # paced, not as fast as it goes
    _until(page, "window.__mosaicPlay.frames[0] >= 5")
    page.locator("#pause").click()
    shot(page, "operators-soccer", height=620)


def test_killing_one_operator_fails_only_its_pane(page: Any, server: Server) -> None:
    _setup(page, server, "classic_control", "CartPole-v1")
    page.locator("#add-pane").click()
    sid = _start(page)
    page.locator("#pace").fill("30")
    page.locator("#run").click()
    state = _wait_pane(server, sid, lambda s: all(p["steps"] >= 5 for p in s["panes"]))
    os.kill(state["panes"][1]["pid"], signal.SIGKILL)
    page.locator("[data-pane='1'] [data-status='failed']").wait_for(timeout=30_000)
    error = page.locator("[data-pane='1'] .pane-error").inner_text()
    assert "killed by SIGKILL" in error, error
    before = _state(server, sid)
    time.sleep(1.0)
    after = _state(server, sid)
    for i in (0, 2):
        assert after["panes"][i]["status"] == "running"
        assert after["panes"][i]["steps"] > before["panes"][i]["steps"]
    assert after["panes"][1]["steps"] == before["panes"][1]["steps"]
    shot(page, "operators-failed", height=620)
    page.locator("#stop").click()
    page.locator("#recorded a").wait_for(timeout=30_000)
    run_id = page.locator("#recorded a").inner_text().split()[-1]
    run = server.wait_for(run_id, ("completed",))
    assert run["worker_type"] == "eval" and len(run["summary"]["operators"]) == 3


def test_a_trained_cleanrl_run_beats_random_side_by_side(page: Any, server: Server) -> None:
    status, launched = server.request("POST", "/api/launch", {
        "worker": "cleanrl",
        "config": {"algorithm": "ppo", "env_id": "CartPole-v1", "total_steps": 20000},
    })  # fmt: skip
    assert status == 201, launched
    status, other = server.request("POST", "/api/launch", {
        "worker": "cleanrl",
        "config": {"algorithm": "ppo", "env_id": "Acrobot-v1", "total_steps": 1000},
    })  # fmt: skip
    assert status == 201, other
    run_id, acrobot = launched["runs"][0]["run_id"], other["runs"][0]["run_id"]
    for started in (run_id, acrobot):
        run = server.wait_for(started, ("completed", "failed"), timeout=400)
        assert run["status"] == "completed", run.get("reason")
    _setup(page, server, "classic_control", "CartPole-v1")
    spec = f"cleanrl:{run_id}"
    _seat(page, 0, "agent", spec)  # offered among the runs that fit
    unfit = page.locator("#not-fitting").text_content() or ""  # folded away: not inner_text
    assert f"cleanrl:{acrobot}" in unfit and "Box(6,)" in unfit, unfit  # Acrobot's spaces
    page.locator("#seed").fill("7")
    sid = _start(page)
    page.locator("#pace").fill("0")
    page.locator("#run").click()
    state = _wait_pane(server, sid, lambda s: all(p["episodes"] >= 2 for p in s["panes"]),
                       timeout=300)  # fmt: skip
    _until(page, "Math.min(...window.__mosaicPlay.frames) >= 10")
    page.locator("#pause").click()
    trained, random = state["panes"][0], state["panes"][1]
    assert trained["seats"][0]["spec"] == spec and random["seats"][0]["spec"] == "random"
    assert [r["seed"] for r in trained["results"][:2]] == [7, 8]
    assert [r["seed"] for r in random["results"][:2]] == [7, 8]  # the same episodes
    mean = [sum(r["return"] for r in p["results"][:2]) / 2 for p in (trained, random)]
    assert mean[0] > mean[1], mean
    shot(page, "operators-cartpole", height=620)


TALKER = '''
"""A worker whose operator keeps its last exchange, as the LLM worker's keeps its prompt and
reply (a model cannot run in these tests; the step protocol and the page are what is tested)."""

from dataclasses import dataclass

from mosaic_core import (
    TrainingConfigBase, WorkerCapabilities, WorkerMetadata, WorkerSpec, hookimpl,
)


@dataclass(frozen=True, kw_only=True)
class TalkerConfig(TrainingConfigBase):
    env_id: str = "CartPole-v1"
    algorithm: str = "none"
    total_steps: int = 1


class Runtime:
    def __init__(self, config, context):
        self.context = context

    def run(self):
        with self.context.lifecycle(algorithm="none", env_id="CartPole-v1") as run:
            run.metrics(1, {"done": 1.0})
        return run.summary


class Talker:
    def __init__(self):
        self.asked = 0

    def reset(self, seed=None):
        pass

    def select_action(self, observation, info):
        self.asked += 1
        self.last_exchange = {
            "prompt": [{"role": "user", "content": f"pole angle {float(observation[2]):+.3f}"}],
            "reply": "push right" if observation[2] > 0 else "push left",
            "invalid_replies": 0,
        }
        return 1 if observation[2] > 0 else 0

    def close(self):
        pass


@hookimpl
def mosaic_register_workers(register):
    register(WorkerSpec(
        metadata=WorkerMetadata(name="Talker", version="0.0.1", description="talks"),
        capabilities=WorkerCapabilities(worker_type="talker"),
        config_class=TalkerConfig,
        runtime_factory=lambda config, context: Runtime(config, context),
        operator_factory=lambda checkpoint, **options: Talker(),
    ))
'''


def test_an_operators_exchange_shows_beside_its_seat(
    chromium: Any, tmp_path: Any, home: Any
) -> None:
    from conftest import _distribution

    _distribution(tmp_path, "mosaic-test-talker", "talker", "mosaicui_talker", TALKER)
    server = Server(home, pythonpath=tmp_path)
    context = chromium.new_context(viewport={"width": 1360, "height": 860})
    try:
        status, launched = server.request("POST", "/api/launch", {"worker": "talker"})
        assert status == 201, launched
        run_id = launched["runs"][0]["run_id"]
        assert server.wait_for(run_id, ("completed", "failed"))["status"] == "completed"
        page = context.new_page()
        page.goto(server.url)
        _setup(page, server, "classic_control", "CartPole-v1")
        _seat(page, 0, "agent", f"talker:{run_id}")
        sid = _start(page)
        page.locator("#step").click()
        page.locator("[data-pane='0'] [data-reply='']").wait_for()
        prompt = page.locator("[data-pane='0'] [data-prompt='']").inner_text()
        reply = page.locator("[data-pane='0'] [data-reply='']").inner_text()
        assert prompt.startswith("user: pole angle") and reply in ("push left", "push right")
        exchange = _state(server, sid)["panes"][0]["exchanges"][""]
        assert exchange["reply"] == reply and exchange["invalid_replies"] == 0
        assert (
            "invalid replies 0"
            in page.locator("[data-pane='0'] [data-exchange] summary").inner_text()
        )
        assert _state(server, sid)["panes"][1]["exchanges"] == {}  # random keeps none
    finally:
        context.close()
        server.stop()
