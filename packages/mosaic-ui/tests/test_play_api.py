"""The play API against a real server and real operator processes: bad input refused before
anything starts, the WebSocket's frames and its guard, a slow page that never stalls a pane,
a person's key in a game whose agents act together, and the recording."""

from __future__ import annotations

import json
import struct
import time
from typing import Any

import pytest
from conftest import TOKEN, Server

CARTPOLE = {"task": "CartPole-v1", "seed": 0, "panes": [{"seats": {"agent": "random"}}]}


def test_seats_needing_different_pythons_are_refused_in_one_pane(server: Server) -> None:
    from mosaic_core.runs import RunStore

    pythons = {}
    for name in ("one", "two"):
        python = server.home / "envs" / name / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text("")  # only its existence is looked at before a session starts
        pythons[name] = str(python)
    with RunStore(server.home) as store:
        store.create_run("01ELSEWHEREAAAAAAAAAAAAAAA", "faraway", {"env_id": "tictactoe_v3"},
                         python=pythons["one"])  # fmt: skip
        store.save_env({
            "name": "llm", "worker_type": "llm", "path": str(server.home / "envs" / "two"),
            "python": pythons["two"], "python_version": "3.11.7", "requirements": [],
            "workers": [{"worker_type": "llm", "console_module": None}], "created_at": 1.0,
        })  # fmt: skip
    seats = {"player_1": "faraway:01ELSEWHERE", "player_2": "llm:gemma@http://127.0.0.1:9/v1"}
    status, answer = server.request(
        "POST", "/api/play", {"task": "tictactoe_v3", "panes": [{"seats": seats}]}
    )
    assert status == 422, answer
    assert answer["field"] == "panes[0].seats", answer
    assert "need different Pythons" in answer["error"], answer
    assert pythons["one"] in answer["error"] and pythons["two"] in answer["error"], answer
    assert server.get("/api/play")[1]["sessions"] == []


def _play(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    status, session = server.request("POST", "/api/play", body)
    assert status == 201, session
    return dict(session)


def _until(server: Server, sid: str, test: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, state = server.get(f"/api/play/{sid}")
        assert status == 200, state
        if test(state):
            return dict(state)
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {state['panes']}")
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"task": "NoSuchTask-v0", "panes": [{"seats": {"agent": "random"}}]}, None, "NoSuchTask"),
        ({**CARTPOLE, "seed": "x"}, "seed", "an integer"),
        ({**CARTPOLE, "panes": []}, "panes", "1 to 6 panes"),
        ({**CARTPOLE, "panes": [{"seats": {"agent": "nosuchop:XYZ"}}]},
         "panes[0].seats.agent", "XYZ"),
        ({**CARTPOLE, "panes": [{"seats": {"agent": "random", "bob": "random"}}]},
         "panes[0].seats", "no agent 'bob'"),
        ({**CARTPOLE, "panes": [{"seats": {"agent": "cleanrl:/etc"}}]},
         "panes[0].seats.agent", "not a path"),
        ({"task": "tictactoe_v3", "panes": [{"seats": {"player_1": "random"}}]},
         "panes[0].seats.player_2", "no operator for player_2"),
    ],
)  # fmt: skip
def test_a_bad_session_is_refused_and_nothing_starts(
    server: Server, body: dict[str, Any], field: str | None, words: str
) -> None:
    status, answer = server.request("POST", "/api/play", body)
    assert status == 422, answer
    assert words in answer["error"], answer
    if field is not None:
        assert answer["field"] == field, answer
    assert server.get("/api/play")[1]["sessions"] == []


def test_controls_keys_and_moves_are_checked(server: Server) -> None:
    sid = _play(server, {**CARTPOLE, "panes": [{"seats": {"agent": "human"}}]})["id"]
    _until(server, sid, lambda s: s["panes"][0]["status"] == "ready")
    for body, words in [
        ({"cmd": "jump"}, "run, pause, step, reset or pace"),
        ({"cmd": "run", "pace": -1}, "steps per second"),
        ({"cmd": "reset", "seed": 1.5}, "an integer"),
        ({"pane": 3, "key": "ArrowLeft"}, "0 to 0"),
        ({"pane": 0, "key": "q"}, "ArrowLeft ArrowRight"),
        ({"pane": 0, "agent": "nobody", "action": 0}, "a person's seat"),
    ]:
        status, answer = server.request("POST", f"/api/play/{sid}/control", body)
        assert status == 422 and words in answer["error"], (body, answer)
    status, _ = server.request("POST", f"/api/play/{sid}/control", {"pane": 0, "key": "ArrowRight"})
    assert status == 200
    pane = _until(server, sid, lambda s: s["panes"][0]["steps"] == 1)["panes"][0]
    assert pane["actions"] == [1] and pane["waiting_for"] == ""  # waits for the next key
    assert server.get("/api/play/nosuchsession")[0] == 404
    assert server.get(f"/api/play/{sid}/panes/9/frame.png")[0] == 404


def test_the_socket_needs_the_token_and_sends_binary_frames(server: Server) -> None:
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    sid = _play(server, CARTPOLE)["id"]
    url = server.base.replace("http://", "ws://") + f"/api/play/{sid}/ws"
    refused = (InvalidStatus, WebSocketException, ConnectionError)
    evil = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    for headers in ({}, evil):  # no token; another site's page
        with pytest.raises(refused), connect(url, additional_headers=headers) as socket:
            socket.recv(timeout=5)  # refused: the handshake or the first read fails
    with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        socket.send(json.dumps({"cmd": "run", "pace": 0}))
        frames, texts = [], []
        deadline = time.monotonic() + 30
        while len(frames) < 2 and time.monotonic() < deadline:
            message = socket.recv(timeout=30)
            if isinstance(message, bytes):
                frames.append(message)
            else:
                texts.append(json.loads(message))
        # Never acknowledged: at most two frames come, and the operator goes on regardless.
        steps = _until(server, sid, lambda s: s["panes"][0]["steps"] > 300)["panes"][0]["steps"]
        more = []  # for two seconds: state messages come, frames do not
        until = time.monotonic() + 2.0
        while (left := until - time.monotonic()) > 0:
            try:
                message = socket.recv(timeout=left)
            except TimeoutError:
                break
            if isinstance(message, bytes):
                more.append(message)
        assert len(frames) + len(more) == 2, len(frames) + len(more)
        pane, fmt, _, number, stepped, step = struct.unpack("<BBHIdQ", frames[0][:24])
        assert pane == 0 and fmt in (0, 1, 2) and number >= 1 and stepped > 1e12
        magic = {0: b"\x89PNG", 1: b"\xff\xd8", 2: b"RIFF"}[fmt]
        assert frames[0][24:].startswith(magic)
        assert any(t.get("type") == "state" for t in texts)
        socket.send(json.dumps({"type": "painted", "pane": 0}))
        newer = socket.recv(timeout=10)
        while not isinstance(newer, bytes):
            newer = socket.recv(timeout=10)
        assert struct.unpack("<BBHIdQ", newer[:24])[5] > step  # the newest, not the next one
        assert steps > 300
        socket.send("not json")
        refused = json.loads(socket.recv(timeout=10))
        while refused.get("type") != "refused":
            refused = json.loads(socket.recv(timeout=10))


def test_a_person_in_a_game_where_agents_act_together(server: Server) -> None:
    task = "MosaicMultiGrid-S-2v2-IndAgObs-v1"
    status, described = server.get(f"/api/families/tasks/{task}")
    assert status == 200, described
    noop, forward = described["key_map"]["noop"], described["key_map"]["keys"]["ArrowUp"]
    seats = dict.fromkeys(described["agents"], "random")
    seats["agent_0"] = "human"
    sid = _play(server, {"task": task, "seed": 1, "panes": [{"seats": seats}]})["id"]
    _until(server, sid, lambda s: s["panes"][0]["status"] == "ready")
    status, _ = server.request("POST", f"/api/play/{sid}/control", {"cmd": "step"})
    pane = _until(server, sid, lambda s: s["panes"][0]["steps"] == 1)["panes"][0]
    assert pane["actions"][0]["agent_0"] == noop  # an idle person plays the no-op
    server.request("POST", f"/api/play/{sid}/control", {"pane": 0, "key": "ArrowUp"})
    pane = _until(server, sid, lambda s: s["panes"][0]["steps"] == 2)["panes"][0]
    assert pane["actions"][1]["agent_0"] == forward
    assert set(pane["actions"][1]) == set(described["agents"])


def test_stopping_records_the_session_as_an_eval_run(server: Server) -> None:
    panes = [{"seats": {"agent": "random"}}] * 2
    sid = _play(server, {**CARTPOLE, "seed": 5, "gif": True, "panes": panes})["id"]
    server.request("POST", f"/api/play/{sid}/control", {"cmd": "run", "pace": 0})
    _until(server, sid, lambda s: all(p["episodes"] >= 3 for p in s["panes"]))
    status, done = server.request("DELETE", f"/api/play/{sid}")
    assert status == 200 and done["run_id"], done
    run = server.wait_for(done["run_id"], ("completed",))
    assert run["worker_type"] == "eval" and run["config"]["seed"] == 5
    report = run["summary"]["operators"]
    assert len(report) == 2 and all(r["episodes"] >= 3 for r in report)
    first = [r["episode_results"][0] for r in report]
    assert first[0]["seed"] == first[1]["seed"] == 5
    assert first[0]["return"] == first[1]["return"]  # random, same seed, same episode
    for number, entry in enumerate(report):  # each pane's first episode as a GIF
        name = f"videos/pane{number}-episode0.gif"
        assert entry["recordings"][0].endswith(name), entry["recordings"]
        status, gif = server.get(f"/api/runs/{done['run_id']}/files/{name}")
        assert status == 200 and gif[:6] == b"GIF89a", gif[:40]
    status, metrics = server.get(f"/api/runs/{done['run_id']}/metrics")
    assert status == 200 and any("episodic_return" in key for key in metrics["series"]), metrics
    assert server.get(f"/api/play/{sid}")[0] == 404


def test_one_pane_resets_on_its_own_seed(server: Server) -> None:
    sid = _play(server, {**CARTPOLE, "seed": 5, "panes": [{"seats": {"agent": "random"}}] * 2})[
        "id"
    ]
    _until(server, sid, lambda s: all(p["status"] == "ready" for p in s["panes"]))
    status, answer = server.request(
        "POST", f"/api/play/{sid}/control", {"cmd": "reset", "pane": 7, "seed": 1}
    )
    assert status == 422 and answer["field"] == "pane", answer
    server.request("POST", f"/api/play/{sid}/control", {"cmd": "reset", "pane": 1, "seed": 9})
    server.request("POST", f"/api/play/{sid}/control", {"cmd": "run", "pace": 0})
    state = _until(server, sid, lambda s: all(p["episodes"] >= 2 for p in s["panes"]))
    assert [p["seed"] for p in state["panes"]] == [5, 9]
    assert [r["seed"] for r in state["panes"][0]["results"][:2]] == [5, 6]
    assert [r["seed"] for r in state["panes"][1]["results"][:2]] == [9, 10]


def test_a_recorded_episode_replays_move_for_move(server: Server) -> None:
    seats = {"player_1": "human", "player_2": "random"}
    sid = _play(server, {"task": "tictactoe_v3", "seed": 3, "panes": [{"seats": seats}]})["id"]
    server.request("POST", f"/api/play/{sid}/control", {"cmd": "run", "pace": 0})
    while True:
        pane = _until(server, sid, lambda s: s["panes"][0]["waiting_for"] == "player_1"
                      or s["panes"][0]["episodes"] > 0)["panes"][0]  # fmt: skip
        if pane["episodes"] > 0:
            break
        move = pane["legal"]["player_1"][-1]
        status, answer = server.request(
            "POST", f"/api/play/{sid}/control", {"pane": 0, "action": move}
        )
        assert status == 200, answer
        _until(server, sid, lambda s, n=pane["steps"]: s["panes"][0]["steps"] > n)
    played = pane["results"][0]
    status, done = server.request("DELETE", f"/api/play/{sid}")
    assert status == 200 and done["run_id"], done
    recorded = server.get(f"/api/runs/{done['run_id']}")[1]["summary"]["operators"][0]
    actions = recorded["episode_results"][0]["actions"]
    assert len(actions) == played["length"]
    status, replay = server.request("POST", "/api/play", {"replay": {"run_id": done["run_id"]}})
    assert status == 201, replay
    assert replay["seed"] == 3 and replay["task"]["replay"]["episode"] == 0
    rid = replay["id"]
    server.request("POST", f"/api/play/{rid}/control", {"cmd": "run", "pace": 0})
    state = _until(server, rid, lambda s: s["panes"][0]["replayed"])["panes"][0]
    assert state["results"][0]["return"] == played["return"]
    assert state["results"][0]["length"] == played["length"]
    time.sleep(0.5)
    assert _until(server, rid, lambda s: True)["panes"][0]["steps"] == len(actions)  # then stops
    status, answer = server.request("POST", "/api/play", {"replay": {"run_id": done["run_id"],
                                                                     "episode": 4}})  # fmt: skip
    assert status == 422 and answer["field"] == "replay.episode", answer
    status, again = server.request("DELETE", f"/api/play/{rid}")
    assert status == 200 and again["run_id"] is None  # a replay records nothing new
