"""The agent: the strongest form the server takes, fallbacks counted, invalid replies kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mosaic_llm.agent import Agent
from mosaic_llm.client import ChatClient, EndpointError
from mosaic_llm.envs import Observation
from mosaic_llm.scripted_server import ScriptedServer

SEEN = Observation(
    text="You see a red ball 2 steps ahead.",
    actions=("turn left", "turn right", "go forward"),
    indices=(0, 1, 2),
    task="Your mission: go to the red ball.",
)


def agent_for(server: ScriptedServer, **options: Any) -> Agent:
    client = ChatClient(server.url, "scripted", timeout=5.0, max_retries=2, backoff=0.01)
    return Agent(client, title="BabyAI", **options)


def forward(actions: Any, body: Any) -> str:
    return "go forward"


@pytest.mark.parametrize(
    ("refused", "form", "via"),
    [
        ((), "json_schema", "json"),
        (("json_schema",), "json_object", "json"),
        (("json_schema", "json_object"), "tool", "tool"),
        (("json_schema", "json_object", "tool"), "text", "text"),
    ],
)
def test_auto_settles_on_the_strongest_form_the_server_takes(
    refused: tuple[str, ...], form: str, via: str
) -> None:
    with ScriptedServer(refuse=refused, policy=forward) as server:
        agent = agent_for(server)
        first = agent.act(SEEN)
        second = agent.act(SEEN)
    assert first.index == second.index == 2
    assert agent.form == form and first.tries[-1]["via"] == via
    assert agent.stats.format_fallbacks == len(refused)
    assert [f["from"] for f in agent.stats.fallback_log] == list(refused)
    # Probed once: the second action is asked straight in the settled form.
    assert len(server.requests) == len(refused) + 2


def test_a_fixed_form_the_server_refuses_is_an_error_not_a_fallback() -> None:
    with ScriptedServer(refuse={"json_schema"}) as server:
        agent = agent_for(server, action_format="json_schema")
        with pytest.raises(EndpointError):
            agent.act(SEEN)
    assert agent.stats.format_fallbacks == 0


def test_a_proven_form_is_retried_on_a_500_not_abandoned() -> None:
    with ScriptedServer(faults=[None, "500"]) as server:
        agent = agent_for(server)
        agent.act(SEEN)
        decision = agent.act(SEEN)
    assert decision.index == 0 and agent.form == "json_schema"
    assert agent.stats.format_fallbacks == 0 and agent.client.stats.retry_reasons == {"5xx": 1}


def test_an_invalid_reply_is_kept_fed_back_and_asked_again() -> None:
    with ScriptedServer(faults=[("text", "I want to fly")]) as server:
        agent = agent_for(server, action_format="json_object", invalid_retries=1)
        decision = agent.act(SEEN)
    assert decision.index == 0
    bad, good = decision.tries
    assert (
        bad["reply"] == "I want to fly" and not bad["valid"] and "no legal action" in bad["error"]
    )
    assert good["valid"]
    assert agent.stats.invalid_replies == 1
    again = server.requests[1]["body"]["messages"][-1]["content"]
    assert "Your last reply was not a legal action" in again


def test_when_every_try_is_invalid_there_is_no_action_and_no_default() -> None:
    with ScriptedServer(faults=[("text", "hmm")] * 3) as server:
        agent = agent_for(server, action_format="text", invalid_retries=2)
        decision = agent.act(SEEN)
    assert decision.index is None and len(decision.tries) == 3
    assert agent.stats.invalid_replies == 3


def test_feedback_can_be_turned_off() -> None:
    with ScriptedServer(faults=[("text", "hmm")]) as server:
        agent = agent_for(server, action_format="text", feedback_invalid=False)
        agent.act(SEEN)
    assert "not a legal action" not in server.requests[1]["body"]["messages"][-1]["content"]


def test_a_reply_in_another_form_than_asked_counts_as_a_reply_fallback() -> None:
    with ScriptedServer(
        faults=[("text", "go forward"), ("tool", '{"action": "turn right"}')]
    ) as server:
        agent = agent_for(server, action_format="json_object")
        assert agent.act(SEEN).index == 2
        assert agent.act(SEEN).index == 1
    assert agent.stats.reply_fallbacks == 2


def test_history_is_a_window_of_observations_and_actions_cleared_by_reset() -> None:
    with ScriptedServer() as server:
        agent = agent_for(server, history=2, action_format="tool")
        for i in range(3):
            agent.remember(
                Observation(f"view {i}", SEEN.actions, SEEN.indices, SEEN.task), "turn left"
            )
        agent.act(SEEN)
        agent.reset()
        agent.act(SEEN)
    shown = server.requests[0]["body"]["messages"][-1]["content"]
    assert "view 0" not in shown and "view 1" in shown and "view 2" in shown
    assert "last steps" not in server.requests[1]["body"]["messages"][-1]["content"]


def test_chain_of_thought_asks_for_and_keeps_the_reasoning() -> None:
    with ScriptedServer(refuse={"json_schema"}) as server:
        agent = agent_for(server, style="cot")
        decision = agent.act(SEEN)
    schema = server.requests[-1]["body"]["response_format"]["schema"]
    assert list(schema["properties"]) == ["reasoning", "action"]
    assert decision.tries[-1]["reasoning"] == server.reasoning
    assert json.loads(decision.tries[-1]["reply"])["action"] == "turn left"
