"""Asking for an action in a given form, and reading the action back out of any reply.

The forms, strongest first:

``json_schema``  ``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM):
                 the server constrains the reply to the schema.
``json_object``  ``response_format={"type": "json_object", "schema": ...}``
                 (llama.cpp's server, Ollama): JSON, constrained where supported.
``tool``         a single function ``act`` the model is made to call by name.
``text``         plain text, parsed.

In every form the schema is an object with ``action`` (an enum of the legal
action names) and, for chain-of-thought, ``reasoning`` before it. Parsing
never guesses: a reply that names no legal action, or several, is invalid,
with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from typing import Any

from mosaic_llm.client import ChatReply

__all__ = ["ParsedAction", "action_schema", "normalise", "parse_reply", "request_params"]

TOOL_NAME = "act"
#: Models put raw newlines inside JSON strings; strict JSON forbids them, we do not.
_loads = json.JSONDecoder(strict=False).decode


@dataclasses.dataclass(frozen=True)
class ParsedAction:
    """The legal action a reply names (``index`` into the list offered), or why none."""

    index: int | None
    #: How the reply carried it: ``tool``, ``json`` or ``text``; None when invalid.
    via: str | None
    error: str | None = None
    reasoning: str | None = None

    @property
    def valid(self) -> bool:
        return self.index is not None


def action_schema(actions: Sequence[str], reasoning: bool) -> dict[str, Any]:
    """The JSON schema of a reply: ``{"reasoning"?: str, "action": one of actions}``."""
    properties: dict[str, Any] = {}
    if reasoning:
        properties["reasoning"] = {"type": "string"}
    properties["action"] = {"type": "string", "enum": list(actions)}
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def request_params(form: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The request body fields that ask for ``form``."""
    if form == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "action", "strict": True, "schema": schema},
            }
        }
    if form == "json_object":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if form == "tool":
        return {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": TOOL_NAME,
                        "description": "Take one action in the environment.",
                        "parameters": schema,
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": TOOL_NAME}},
        }
    if form == "text":
        return {}
    raise ValueError(f"unknown action form {form!r}")


def normalise(text: str) -> str:
    """Lower case, words separated by single spaces: ``'Turn_Left.'`` -> ``'turn left'``."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def parse_reply(reply: ChatReply, actions: Sequence[str]) -> ParsedAction:
    """The action a reply names: from a tool call, else JSON in the text, else the text."""
    for call in reply.tool_calls:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        try:
            data = _loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            return ParsedAction(None, None, f"tool call arguments are not JSON: {arguments!r}")
        if isinstance(data, dict):
            return _from_json(data, actions, "tool")
        return ParsedAction(None, None, f"tool call arguments are not an object: {arguments!r}")
    text = reply.content or ""
    if not text.strip():
        return ParsedAction(None, None, "the reply is empty")
    data = _json_in(text)
    if data is not None:
        return _from_json(data, actions, "json")
    return parse_text(text, actions)


def _from_json(data: dict[str, Any], actions: Sequence[str], via: str) -> ParsedAction:
    reasoning = data.get("reasoning") if isinstance(data.get("reasoning"), str) else None
    value = data.get("action")
    if not isinstance(value, str):
        return ParsedAction(
            None, None, f"no string 'action' in {json.dumps(data)[:200]}", reasoning
        )
    index = _exact(value, actions)
    if index is None:
        return ParsedAction(None, None, f"{value!r} is not a legal action", reasoning)
    return ParsedAction(index, via, None, reasoning)


def _json_in(text: str) -> dict[str, Any] | None:
    """The JSON object the text is, or the last one it contains."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        whole = _loads(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, dict):  # a JSON reply is read as JSON, whatever its keys
        return whole
    for candidate in reversed(re.findall(r"\{[^{}]*\}", text)):
        try:
            data = _loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and "action" in data:
            return data
    return None


def _exact(value: str, actions: Sequence[str]) -> int | None:
    wanted = normalise(value)
    for index, action in enumerate(actions):
        if normalise(action) == wanted:
            return index
    return None


def parse_text(text: str, actions: Sequence[str]) -> ParsedAction:
    """An action from free text: after a last ``Action:``, the whole text, or the one
    legal action the text names. Two different actions named is ambiguous: invalid."""
    names = [normalise(a) for a in actions]
    marked = re.findall(r"action\s*[:=]\s*(.+)", text, flags=re.IGNORECASE)
    if marked:
        said = normalise(marked[-1])
        # The longest action name the answer starts with ("go forward" before "go").
        best = max(
            (i for i, n in enumerate(names) if said == n or said.startswith(n + " ")),
            key=lambda i: len(names[i]),
            default=None,
        )
        if best is not None:
            return ParsedAction(best, "text")
        return ParsedAction(
            None, None, f"'Action: {marked[-1].strip()[:80]}' is not a legal action"
        )
    whole = normalise(text)
    if whole in names:
        return ParsedAction(names.index(whole), "text")
    found = {i for i, n in enumerate(names) if re.search(rf"\b{re.escape(n)}\b", whole)}
    # "go forward" also contains "forward": keep only names no other found name contains.
    found = {i for i in found if not any(i != j and names[i] in names[j] for j in found)}
    if len(found) == 1:
        return ParsedAction(found.pop(), "text")
    if found:
        named = ", ".join(repr(actions[i]) for i in sorted(found))
        return ParsedAction(None, None, f"the reply names several actions ({named})")
    return ParsedAction(None, None, f"the reply names no legal action: {_excerpt(text)!r}")


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
