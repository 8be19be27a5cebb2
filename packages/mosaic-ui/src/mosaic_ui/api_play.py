"""The operators page's API: play sessions, and their WebSocket of frames and keys.

``POST /api/play`` checks the task and every seat, then starts the panes;
``GET /api/play/ID`` is the session's state (what the page shows, and what
tests check); ``DELETE /api/play/ID`` stops it and records it as an eval run.
``/api/play/ID/ws`` carries, to the browser, each pane's newest frame as a
binary message (:mod:`mosaic_ui.frames`; a frame not yet sent when a newer
one comes is dropped, so a slow browser never holds up an operator, and at
most :data:`WINDOW` frames per pane are unacknowledged) and the state as
JSON; from the browser, controls, keys and chosen moves as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from mosaic_core import ConfigError
from mosaic_ui.api_families import describe
from mosaic_ui.frames import FrameEncoder, header
from mosaic_ui.http import ApiError, body_json, json_response, ui_state
from mosaic_ui.pane import Seat
from mosaic_ui.play import MAX_PANES, PlayManager, PlaySession, check_seat

__all__ = ["routes"]

#: Frames a pane may have sent and not yet painted (acknowledged) by the page.
WINDOW = 2
#: State messages at most this often (frames are not limited).
STATE_EVERY = 0.1


def manager(request: Request | WebSocket) -> PlayManager:
    found: PlayManager = request.app.state.play
    return found


def _answer(exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return json_response({"error": str(exc), "field": exc.field}, exc.status)
    assert isinstance(exc, ConfigError)
    return json_response({"error": str(exc), "field": exc.field}, 422)


def _build(body: dict[str, Any], store: Any) -> tuple[dict[str, Any], int | None, list[list[Seat]]]:
    """The task (with its settings), the seed and each pane's seats, checked (ConfigError
    naming what is wrong)."""
    task_id = body.get("task")
    if not isinstance(task_id, str) or not task_id.strip():
        raise ConfigError.bad_value("task", task_id, "a task of `mosaic envs`")
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError.bad_value("settings", settings, "an object {NAME: VALUE}")
    task = {**describe(task_id.strip(), settings), "chosen_settings": settings}
    seed = body.get("seed", 0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError.bad_value("seed", seed, "an integer")
    panes = body.get("panes")
    if not isinstance(panes, list) or not 1 <= len(panes) <= MAX_PANES:
        raise ConfigError.bad_value("panes", panes, f"a list of 1 to {MAX_PANES} panes")
    agents: list[str | None] = list(task.get("agents") or []) or [None]
    out: list[list[Seat]] = []
    for number, pane in enumerate(panes):
        seats = pane.get("seats") if isinstance(pane, dict) else None
        if not isinstance(seats, dict):
            raise ConfigError.bad_value(f"panes[{number}].seats", seats, "{AGENT: SPEC}")
        line: list[Seat] = []
        places: dict[Seat, str] = {}
        for agent in agents:
            text = seats.get(agent if agent is not None else "agent", seats.get("*"))
            where = f"panes[{number}].seats.{agent or 'agent'}"
            if text is None:
                raise ConfigError(f"{where}: no operator for {agent or 'the agent'}", field=where)
            seat = Seat(agent, text)
            if text != "human":
                try:
                    spec = check_seat(text, store)
                except ConfigError as exc:
                    raise ConfigError(f"{where}: {exc}", field=where) from None
                seat.python = spec.python
                if not spec.builtin:  # where its worker is: an env's Python, or the server's
                    places[seat] = spec.python or sys.executable
            line.append(seat)
        extra = set(seats) - {a if a is not None else "agent" for a in agents} - {"*"}
        if extra:
            where = f"panes[{number}].seats"
            raise ConfigError(
                f"{where}: no agent {sorted(extra)[0]!r} in {task['id']}; agents: {agents}",
                field=where,
            )
        _one_python(places, f"panes[{number}].seats")
        out.append(line)
    return task, seed, out


def _one_python(places: dict[Seat, str], where: str) -> None:
    """A pane's seats share one operator process, so their workers must share a Python."""
    if len(set(places.values())) > 1:
        placed = "; ".join(
            f"{seat.agent or 'agent'} ({seat.spec}) in {python}" for seat, python in places.items()
        )
        raise ConfigError(
            f"{where}: one pane runs one operator process, but its seats need different "
            f"Pythons: {placed}; put them in one `mosaic env`, or in separate panes",
            field=where,
        )


def _replay(body: dict[str, Any], store: Any) -> tuple[dict[str, Any], int | None, list[Any]]:
    """``{"replay": {"run_id", "pane", "episode"}}``: an episode a play session recorded, as
    its task, seed and actions (ConfigError or a 404 naming what is missing)."""
    from mosaic_core.runs import RunNotFound

    replay = body["replay"]
    if not isinstance(replay, dict):
        raise ConfigError.bad_value("replay", replay, "{run_id, pane, episode}")
    try:
        run = store.get(str(replay.get("run_id")))
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    summary, config = (json.loads(run[k]) if isinstance(run.get(k), str) else run.get(k) or {}
                       for k in ("summary", "config"))  # fmt: skip
    operators = (summary or {}).get("operators") or []
    pane, episode = replay.get("pane", 0), replay.get("episode", 0)
    if run["worker_type"] != "eval" or not operators:
        raise ConfigError.bad_value("replay.run_id", run["run_id"], "a recorded play session")
    if not isinstance(pane, int) or not 0 <= pane < len(operators):
        raise ConfigError.bad_value("replay.pane", pane, f"0 to {len(operators) - 1}")
    results = operators[pane].get("episode_results") or []
    if not isinstance(episode, int) or not 0 <= episode < len(results):
        raise ConfigError.bad_value("replay.episode", episode, f"0 to {len(results) - 1}")
    recorded = results[episode]
    if not isinstance(recorded.get("actions"), list):
        raise ConfigError.bad_value("replay.run_id", run["run_id"], "a run that kept its actions")
    task = {**describe(str(config["env_id"])), "replay": {
        "run_id": run["run_id"], "pane": pane, "episode": episode,
        "operators": operators[pane].get("operator")}}  # fmt: skip
    return task, recorded.get("seed"), recorded["actions"]


async def post_play(request: Request) -> Response:
    try:
        body = await body_json(request)
        ui = ui_state(request)
        # The store is per thread (one SQLite connection each): taken in the worker thread.
        if "replay" in body:
            task, seed, script = await asyncio.to_thread(lambda: _replay(body, ui.store()))
            agents: list[str | None] = list(task.get("agents") or []) or [None]
            panes = [[Seat(agent, "random") for agent in agents]]
        else:
            script = None
            task, seed, panes = await asyncio.to_thread(lambda: _build(body, ui.store()))
        session = PlaySession(os.urandom(6).hex(), task, seed, panes, str(ui.home))
        session.panes[0].script = script
        if body.get("gif") is True and script is None:
            for pane in session.panes:
                pane.gif = []
        manager(request).add(session)
    except (ApiError, ConfigError) as exc:
        return _answer(exc)
    return json_response(session.state(), 201)


async def list_play(request: Request) -> Response:
    return json_response({"sessions": [s.state() for s in manager(request).sessions.values()]})


async def get_play(request: Request) -> Response:
    try:
        return json_response(manager(request).get(request.path_params["sid"]).state())
    except ApiError as exc:
        return _answer(exc)


async def delete_play(request: Request) -> Response:
    try:
        session = await manager(request).remove(request.path_params["sid"])
    except ApiError as exc:
        return _answer(exc)
    return json_response(session.state())


async def post_control(request: Request) -> Response:
    """``{"cmd": run|pause|step|reset|pace, "seed"?, "pace"?}`` or ``{"pane", "key"|"action",
    "agent"?}``: what the page's WebSocket sends, for scripts and tests."""
    try:
        session = manager(request).get(request.path_params["sid"])
        body = await body_json(request)
        _command(session, body)
    except (ApiError, ConfigError) as exc:
        return _answer(exc)
    return json_response(session.state())


async def get_frame(request: Request) -> Response:
    """The pane's newest frame as PNG (tests compare it with an environment of their own)."""
    try:
        session = manager(request).get(request.path_params["sid"])
        index = int(request.path_params["pane"])
        if not 0 <= index < len(session.panes) or session.panes[index].frame is None:
            raise ApiError(404, f"no frame in pane {index}")
        frame = session.panes[index].frame
    except (ApiError, ValueError) as exc:
        return _answer(exc if isinstance(exc, ApiError) else ApiError(404, str(exc)))
    assert frame is not None
    from mosaic_core.families import png_bytes

    data = await asyncio.to_thread(png_bytes, frame[1][:, :, :3])
    return Response(data, media_type="image/png", headers={"x-frame": str(frame[0])})


def _command(session: PlaySession, message: dict[str, Any]) -> str | None:
    if "cmd" in message:
        session.control(str(message["cmd"]), seed=message.get("seed"), pace=message.get("pace"),
                        pane=message.get("pane"))  # fmt: skip
        return None
    return session.human(message.get("pane"), message.get("agent"),
                         key=message.get("key"), action=message.get("action"))  # fmt: skip


async def play_socket(websocket: WebSocket) -> None:
    try:
        session = manager(websocket).get(websocket.path_params["sid"])
    except ApiError:
        await websocket.close(code=4404, reason="no such play session")
        return
    await websocket.accept()
    changed = asyncio.Event()
    changed.set()  # what is already there goes out first
    session.listeners.add(changed)
    unacked = [0] * len(session.panes)
    sender = asyncio.get_running_loop().create_task(_send(websocket, session, changed, unacked))
    try:
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
                if not isinstance(message, dict):
                    raise ConfigError("a message is a JSON object")
                if message.get("type") == "painted":
                    pane = message.get("pane")
                    if isinstance(pane, int) and 0 <= pane < len(unacked):
                        unacked[pane] = max(0, unacked[pane] - 1)
                        changed.set()
                    continue
                _command(session, message)
            except (ConfigError, ValueError) as exc:
                await websocket.send_text(json.dumps({"type": "refused", "error": str(exc)}))
    except WebSocketDisconnect:
        pass
    finally:
        session.listeners.discard(changed)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _send(websocket: WebSocket, session: PlaySession, changed: asyncio.Event,
                unacked: list[int]) -> None:  # fmt: skip
    encoders = [FrameEncoder() for _ in session.panes]
    sent = [0] * len(session.panes)
    state_at, state_version = 0.0, -1
    while True:
        await changed.wait()
        changed.clear()
        for pane in session.panes:
            frame = pane.frame
            i = pane.index
            if frame is None or frame[0] == sent[i] or unacked[i] >= WINDOW:
                continue
            number, rgb, stepped, step = frame
            fmt, data = await asyncio.to_thread(encoders[i].encode, rgb)
            sent[i] = number
            unacked[i] += 1
            await websocket.send_bytes(header(i, fmt, number, stepped, step) + data)
        now = time.monotonic()
        if session.version != state_version:
            if now - state_at >= STATE_EVERY:
                state_version, state_at = session.version, now
                state = session.state()
                state["formats"] = [e.chosen for e in encoders]
                await websocket.send_text(json.dumps({"type": "state", **state}, default=str))
            else:
                asyncio.get_running_loop().call_later(STATE_EVERY, changed.set)


routes = [
    Route("/api/play", list_play, methods=["GET"]),
    Route("/api/play", post_play, methods=["POST"]),
    Route("/api/play/{sid}", get_play, methods=["GET"]),
    Route("/api/play/{sid}", delete_play, methods=["DELETE"]),
    Route("/api/play/{sid}/control", post_control, methods=["POST"]),
    Route("/api/play/{sid}/panes/{pane}/frame.png", get_frame, methods=["GET"]),
    WebSocketRoute("/api/play/{sid}/ws", play_socket),
]
