"""What the model is told: the instruction, the history window, the legal actions, feedback."""

from __future__ import annotations

from mosaic_llm.envs import Observation
from mosaic_llm.prompts import instruction, messages, turn

SEEN = Observation(
    text="You see a red ball 2 steps ahead.",
    actions=("turn left", "go forward"),
    indices=(0, 2),
    task="Your mission: go to the red ball.",
    action_help=("turn left: turn", "go forward: move"),
)


def test_the_instruction_names_the_game_the_task_the_actions_and_the_answer_form() -> None:
    text = instruction("BabyAI", SEEN, "direct", "json_object")
    assert "BabyAI" in text and "go to the red ball" in text
    assert "- go forward: move" in text
    assert '{"action": "<one of the legal actions>"}' in text
    assert "reasoning" not in text


def test_chain_of_thought_asks_for_reasoning_before_the_action() -> None:
    assert '"reasoning"' in instruction("BabyAI", SEEN, "cot", "json_schema")
    assert "reasoning field" in instruction("BabyAI", SEEN, "cot", "tool")
    text = instruction("BabyAI", SEEN, "cot", "text")
    assert "step by step" in text and "Action: <one of the legal actions>" in text
    assert "action only" in instruction("BabyAI", SEEN, "direct", "text")


def test_a_turn_shows_history_oldest_first_then_now_then_the_legal_actions() -> None:
    history = [("first view", "turn left"), ("second view", "go forward")]
    text = turn(history, SEEN)
    assert text.index("first view") < text.index("second view") < text.index(SEEN.text)
    assert "Action: turn left" in text
    assert "Legal actions: turn left, go forward" in text
    assert text.rstrip().endswith("What is your next action?")


def test_a_turn_without_history_has_no_history_section_and_carries_feedback() -> None:
    text = turn([], SEEN, feedback="Your last reply was not a legal action (fly).")
    assert "last steps" not in text
    assert "Your last reply was not a legal action (fly)." in text


def test_the_instruction_goes_into_the_user_message_or_a_system_message() -> None:
    folded = messages("INSTRUCTION", "TURN", "user")
    assert folded == [{"role": "user", "content": "INSTRUCTION\n\nTURN"}]
    split = messages("INSTRUCTION", "TURN", "system")
    assert [m["role"] for m in split] == ["system", "user"]
