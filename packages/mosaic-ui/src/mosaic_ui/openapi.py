"""The OpenAPI 3.1 document of the JSON API (``GET /api/openapi.json``).

Written out rather than generated: it is the contract a script or another
front end may rely on, and a test holds it and the routes to each other.
"""

from __future__ import annotations

from typing import Any

from mosaic_ui.__about__ import __version__

__all__ = ["document"]


def _param(
    name: str,
    where: str,
    text: str,
    kind: str = "string",
    many: bool = False,
    required: bool = False,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    if many:
        schema = {"type": "array", "items": schema}
    return {
        "name": name,
        "in": where,
        "description": text,
        "required": required or where == "path",
        "schema": schema,
        **({"explode": True} if many else {}),
    }


RUN = _param("run_id", "path", "a run id, or an unambiguous prefix of one")
TASK = _param("task", "path", "a task of `mosaic envs`, such as BabyAI-GoToLocal-v0")
SETTINGS = _param("settings", "query", "the family's settings, a JSON object")
SID = _param("sid", "path", "a play session's id")
ERRORS = {
    "401": {"description": "no valid token (cookie or `Authorization: Bearer`)"},
    "403": {"description": "a Host or Origin that is not this server's"},
}
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _op(
    summary: str,
    params: list[dict[str, Any]] | None = None,
    *,
    body: str | None = None,
    ok: str = "200",
    also: dict[str, str] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": "OK", "content": {"application/json": {}}}}
    for status, text in (also or {}).items():
        responses[status] = {"description": text, **ERROR}
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {**responses, **ERRORS},
    }
    if body:
        op["requestBody"] = {
            "required": True,
            "description": body,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return op


NOT_FOUND = {"404": "no such run"}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MOSAIC UI API",
            "version": __version__,
            "description": "The JSON API behind `mosaic ui`. Every call needs the token: "
            "the cookie set by opening the printed URL, or `Authorization: Bearer TOKEN`. "
            "A change (POST, DELETE) also needs this server's `Origin`.",
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "string",
                            "description": "the message the CLI would print",
                        },
                        "field": {
                            "type": ["string", "null"],
                            "description": "the field or option at fault",
                        },
                    },
                }
            }
        },
        "paths": {
            "/api/session": {"get": _op("this server: version, home, worker count")},
            "/api/openapi.json": {"get": _op("this document")},
            "/api/stream": {
                "get": {
                    **_op(
                        "Server-Sent Events: `hello`, then `runs` "
                        "({runs, deleted}) whenever runs change"
                    ),
                    "responses": {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {}},
                        },
                        **ERRORS,
                    },
                }
            },
            "/api/runs": {
                "get": _op(
                    "the run table (newest first): filter, search, sort, page",
                    [
                        _param("worker", "query", "only runs of this worker type"),
                        _param(
                            "status", "query", "pending, running, completed, failed or cancelled"
                        ),
                        _param("group", "query", "only runs of this group (sweep)"),
                        _param(
                            "filter", "query", "FIELD OP VALUE as `mosaic runs --filter`", many=True
                        ),
                        _param(
                            "q",
                            "query",
                            "text to find in id, worker, algorithm, env, group, reason",
                        ),
                        _param("sort", "query", "FIELD, -FIELD, FIELD:asc or FIELD:desc"),
                        _param(
                            "metric", "query", "a metric key or summary.PATH (default: headline)"
                        ),
                        _param("stat", "query", "tail, last, max, min or mean"),
                        _param("offset", "query", "rows to skip", "integer"),
                        _param("limit", "query", "rows to return (default 500)", "integer"),
                    ],
                    also={"422": "a bad filter, sort, status, stat, offset or limit"},
                )
            },
            "/api/groups": {"get": _op("groups (sweeps) with their run counts")},
            "/api/runs/{run_id}": {
                "get": _op(
                    "one run: row, config, summary, headline, final metrics, anomalies, "
                    "manifest, provenance, files",
                    [RUN],
                    also=NOT_FOUND,
                ),
                "delete": _op(
                    "delete a finished run and its directory",
                    [RUN],
                    also={**NOT_FOUND, "409": "the run is still running"},
                ),
            },
            "/api/runs/{run_id}/metrics": {
                "get": _op(
                    "curves: LTTB-thinned to `points`, or only the rows after `after`",
                    [
                        RUN,
                        _param("key", "query", "metric keys (default: all)", many=True),
                        _param(
                            "points", "query", "at most this many points (default 2000)", "integer"
                        ),
                        _param("after", "query", "a `last_row` from an earlier answer", "integer"),
                    ],
                    also=NOT_FOUND,
                )
            },
            "/api/runs/{run_id}/stream": {
                "get": {
                    **_op(
                        "Server-Sent Events: the run's metrics as its worker writes them "
                        "(`metrics`: {points, offset}), then `end`; from `offset` (the "
                        "`follow` of a metrics answer) or the store's indexed end",
                        [
                            RUN,
                            _param("offset", "query", "byte offset in events.jsonl", "integer"),
                            _param("seq", "query", "the seq expected at that offset", "integer"),
                        ],
                        also=NOT_FOUND,
                    ),
                }
            },
            "/api/runs/{run_id}/events": {
                "get": _op(
                    "the last telemetry events and the anomalies",
                    [RUN, _param("limit", "query", "how many events (default 200)", "integer")],
                    also=NOT_FOUND,
                )
            },
            "/api/runs/{run_id}/logs": {
                "get": _op(
                    "stdout, stderr or supervisor log from `offset` (default: the last 64 KiB)",
                    [
                        RUN,
                        _param("name", "query", "stdout, stderr or supervisor"),
                        _param(
                            "offset",
                            "query",
                            "byte offset (the `next` of an earlier answer)",
                            "integer",
                        ),
                    ],
                    also=NOT_FOUND,
                )
            },
            "/api/runs/{run_id}/files/{path}": {
                "get": {
                    **_op(
                        "a file of the run directory (GIFs inline, the rest as downloads)",
                        [RUN, _param("path", "path", "the file's path inside the run directory")],
                        also={"404": "no such run or file (or a path leaving the run directory)"},
                    ),
                }
            },
            "/api/runs/{run_id}/cancel": {
                "post": _op(
                    "cancel a pending or running run (its whole process tree)",
                    [RUN],
                    also={**NOT_FOUND, "409": "the run has already ended"},
                )
            },
            "/api/compare": {
                "get": _op(
                    "runs side by side: config diff, final metrics, curves "
                    "(mean and 95% band over seeds), IQM with CIs",
                    [
                        _param("run", "query", "run ids", many=True),
                        _param("group", "query", "a group's runs"),
                        _param("key", "query", "metric keys for the curves", many=True),
                        _param(
                            "group_by", "query", "seed (default), none, a column or config.FIELD"
                        ),
                        _param("points", "query", "points per curve (default 200)", "integer"),
                        _param("smooth", "query", "moving-average window", "integer"),
                        _param(
                            "metric", "query", "the metric of the statistics (default: headline)"
                        ),
                    ],
                    also={"422": "no run named, or a bad key"},
                )
            },
            "/api/workers": {
                "get": _op(
                    "installed workers, broken plugins with their error, "
                    "and the `mosaic env` environments"
                )
            },
            "/api/workers/{worker}/schema": {
                "get": _op(
                    "a worker's config JSON Schema (secret fields write-only, no default)",
                    [_param("worker", "path", "worker type")],
                    also={"422": "no such worker"},
                )
            },
            "/api/launch": {
                "post": _op(
                    "start runs as `mosaic run --detach` does",
                    body=(
                        "{worker, config: {field: value}, seeds: '1,2,3', sweep: ['KEY=V1,V2'], "
                        "group, env}"
                    ),
                    ok="201",
                    also={"422": "a bad config field, seed, sweep or worker: nothing started"},
                )
            },
            "/api/families": {
                "get": _op("environment families (`mosaic envs`) with their tasks and settings")
            },
            "/api/families/tasks/{task}": {
                "get": _op(
                    "one task: agents, spaces, stepping, key map, settings",
                    [TASK, SETTINGS],
                    also={"422": "no such task or setting"},
                )
            },
            "/api/families/tasks/{task}/preview": {
                "get": _op(
                    "the task's first frame (PNG, or text for a text game)",
                    [TASK, SETTINGS, _param("seed", "query", "the reset seed", "integer")],
                    also={"422": "no such task or setting"},
                )
            },
            "/api/families/tasks/{task}/candidates": {
                "get": _op(
                    "completed runs as the task's operators: whether their spaces fit, and why not",
                    [TASK],
                    also={"422": "no such task"},
                )
            },
            "/api/play": {
                "get": _op("open play sessions"),
                "post": _op(
                    "start a play session: panes side by side on one task and seed",
                    body="{task, settings, seed, gif, panes: [{seats: {AGENT: SPEC or 'human'}}]}",
                    ok="201",
                    also={"422": "a bad task, seed or seat: nothing started"},
                ),
            },
            "/api/play/{sid}": {
                "get": _op(
                    "a session's state: per pane status, seats, steps, episodes, return, fps, "
                    "whose turn, legal moves, episode results. Frames and keys travel on the "
                    "WebSocket `/api/play/{sid}/ws` (binary frames, JSON state and commands)",
                    [SID],
                    also={"404": "no such session"},
                ),
                "delete": _op(
                    "stop a session and record it as an eval run",
                    [SID],
                    also={"404": "no such session"},
                ),
            },
            "/api/play/{sid}/control": {
                "post": _op(
                    "what the page sends on its WebSocket: a control or a person's move",
                    [SID],
                    body="{cmd, seed, pace} or {pane, key|action, agent}",
                    also={"404": "no such session", "422": "a bad command, key or illegal move"},
                )
            },
            "/api/play/{sid}/panes/{pane}/frame.png": {
                "get": _op(
                    "a pane's newest frame as PNG",
                    [SID, _param("pane", "path", "the pane's index", "integer")],
                    also={"404": "no such session, pane or frame"},
                )
            },
            "/api/evals": {
                "get": _op("evaluations started from the browser, newest first"),
                "post": _op(
                    "start `mosaic eval` in the background",
                    body=(
                        "{env, operators: ['random', 'WORKER:RUN_ID', 'llm:MODEL@URL'], episodes, "
                        "seed}"
                    ),
                    ok="202",
                    also={"422": "a bad env, operator, episodes or seed"},
                ),
            },
            "/api/evals/{job}": {
                "get": _op(
                    "one evaluation: status, and its table when done",
                    [_param("job", "path", "the job id")],
                    also={"404": "no such evaluation"},
                )
            },
        },
    }
