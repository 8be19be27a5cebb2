"""Reading an action out of every reply form, and asking for each form."""

from __future__ import annotations

import json

import pytest

from mosaic_llm.actions import action_schema, parse_reply, parse_text, request_params
from mosaic_llm.client import ChatReply

ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle", "done")


def reply(content: str | None = None, *tool_arguments: str) -> ChatReply:
    calls = tuple(
        {"type": "function", "function": {"name": "act", "arguments": a}} for a in tool_arguments
    )
    return ChatReply(content, calls, "stop", 10, 2, 0.01, 1)


def test_a_tool_call_carries_the_action() -> None:
    parsed = parse_reply(reply(None, '{"action": "go forward"}'), ACTIONS)
    assert (parsed.index, parsed.via) == (2, "tool")


def test_a_json_object_carries_the_action_and_the_reasoning() -> None:
    parsed = parse_reply(
        reply('{"reasoning": "the ball is ahead", "action": "Go Forward"}'), ACTIONS
    )
    assert (parsed.index, parsed.via, parsed.reasoning) == (2, "json", "the ball is ahead")


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"action": "pick up"}\n```',
        '{"reasoning": "a key\nright ahead", "action": "pick up"}',  # a raw newline in a string
        'Sure! Here it is: {"action": "pick up"} hope it helps',
    ],
)
def test_json_inside_text_or_a_code_fence_is_found(content: str) -> None:
    parsed = parse_reply(reply(content), ACTIONS)
    assert (parsed.index, parsed.via) == (3, "json")


@pytest.mark.parametrize(
    ("content", "index"),
    [
        ("go forward", 2),
        ("  Turn_Left. ", 0),
        ("The ball is ahead, so I go.\nAction: go forward", 2),
        ("I will pick up the key.", 3),
        ("action = toggle because the door is closed", 5),
    ],
)
def test_plain_text_names_one_action(content: str, index: int) -> None:
    parsed = parse_reply(reply(content), ACTIONS)
    assert (parsed.index, parsed.via, parsed.error) == (index, "text", None)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("", "empty"),
        ("I would like to jump over the wall", "names no legal action"),
        ("turn left or turn right, hard to say", "several actions"),
        ("Thinking... Action: fly", "not a legal action"),
        ('{"action": "fly"}', "not a legal action"),
        ('{"move": "go forward"}', "no string 'action'"),
    ],
)
def test_a_reply_without_exactly_one_legal_action_is_invalid(content: str, why: str) -> None:
    parsed = parse_reply(reply(content), ACTIONS)
    assert parsed.index is None and not parsed.valid
    assert why in (parsed.error or "")


def test_broken_tool_arguments_are_invalid_not_a_default() -> None:
    parsed = parse_reply(reply(None, "{action: go"), ACTIONS)
    assert parsed.index is None and "not JSON" in (parsed.error or "")


def test_the_longest_action_name_wins() -> None:
    assert parse_text("go", ["go", "go forward"]).index == 0
    assert parse_text("Action: go forward now", ["go", "go forward"]).index == 1
    assert parse_text("I go forward", ["go", "go forward"]).index == 1


def test_each_form_asks_in_its_own_way() -> None:
    schema = action_schema(ACTIONS, reasoning=True)
    assert list(schema["properties"]) == ["reasoning", "action"]
    assert schema["properties"]["action"]["enum"] == list(ACTIONS)
    strict = request_params("json_schema", schema)["response_format"]
    assert strict["type"] == "json_schema" and strict["json_schema"]["schema"] == schema
    loose = request_params("json_object", schema)["response_format"]
    assert loose == {"type": "json_object", "schema": schema}
    tool = request_params("tool", schema)
    assert tool["tool_choice"] == {"type": "function", "function": {"name": "act"}}
    assert tool["tools"][0]["function"]["parameters"] == schema
    assert request_params("text", schema) == {}
    json.dumps(tool)
