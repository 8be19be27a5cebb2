"""The operator over the step protocol keeps its last exchange, which the step answer carries
(front ends show an LLM seat's prompt and reply). The endpoint is the scripted one: a model
cannot run in a unit test here."""

from __future__ import annotations

from mosaic_core.operators import OperatorClient
from mosaic_llm.scripted_server import ScriptedServer


def test_each_step_carries_the_prompt_and_the_reply() -> None:
    with ScriptedServer(faults=[("text", "I want to fly")]) as server:
        spec = f"llm:scripted@{server.url}?action_format=text&invalid_retries=1"
        with OperatorClient.spawn(spec, "BabyAI-GoToLocal-v0", render="none") as client:
            client.reset(seed=0)
            first = client.step()
            second = client.step()
    exchange = first["exchange"]
    prompt = "\n".join(message["content"] for message in exchange["prompt"])
    assert "mission" in prompt.lower() and exchange["tries"] == 2 and exchange["valid"]
    assert exchange["invalid_replies"] == 1  # the first reply named no action
    assert "Your last reply was not a legal action" in prompt  # the retry's prompt, as sent
    assert isinstance(exchange["reply"], str) and exchange["reply"] != "I want to fly"
    assert second["exchange"]["tries"] == 1 and second["exchange"]["invalid_replies"] == 1
