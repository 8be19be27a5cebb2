"""The words sent to the model: an instruction, then each turn's history, observation and
legal actions.

The instruction says what the game is, what the task is, what each action
does and how to answer (which depends on the agent style and on the form
the action is asked in). Each turn shows the last few observations with the
actions taken, the current observation, the legal actions, and, after an
invalid reply, what was wrong with it. The line ``Legal actions: a, b, c``
is always present and always in that shape.
"""

from __future__ import annotations

from collections.abc import Sequence

from mosaic_llm.envs import Observation

__all__ = ["answer_format", "instruction", "messages", "turn"]


def answer_format(style: str, form: str) -> str:
    """How to answer, for an agent style (``direct``/``cot``) and an action form."""
    if form == "tool":
        if style == "cot":
            return (
                "Answer by calling the function act: first think in one or two sentences in "
                "its reasoning field, then give the action."
            )
        return "Answer by calling the function act with your action."
    if form in ("json_schema", "json_object"):
        if style == "cot":
            # No placeholder text to copy: small models echo "<...>" back verbatim.
            return (
                'Reply with one JSON object with two fields: "reasoning", one or two sentences '
                'on what you see and what to do, then "action", one of the legal actions.'
            )
        return (
            'Reply with one JSON object and nothing else: {"action": "<one of the legal actions>"}.'
        )
    if style == "cot":
        return (
            "Think step by step in a few sentences, then end your reply with a last line of the "
            "form: Action: <one of the legal actions>"
        )
    return "Reply with the action only, written exactly as in the list of legal actions."


def instruction(title: str, observation: Observation, style: str, form: str) -> str:
    lines = [
        f"You are the agent in {title}, a game played one step at a time.",
        observation.task,
    ]
    if observation.action_help:
        lines.append("The actions:")
        lines += [f"- {text}" for text in observation.action_help]
    lines.append(
        "Each turn you get what you observe now, your last few steps and the legal actions; "
        "choose exactly one legal action."
    )
    lines.append(answer_format(style, form))
    return "\n".join(lines)


def turn(
    history: Sequence[tuple[str, str]],
    observation: Observation,
    feedback: str | None = None,
) -> str:
    """One turn's message; ``history`` holds (observation text, action taken) pairs."""
    parts = []
    if history:
        steps = [f"Observation: {seen}\nAction: {action}" for seen, action in history]
        parts.append("Your last steps, oldest first:\n" + "\n".join(steps))
    parts.append(f"Current observation:\n{observation.text}")
    parts.append("Legal actions: " + ", ".join(observation.actions))
    if feedback:
        parts.append(feedback)
    parts.append("What is your next action?")
    return "\n\n".join(parts)


def messages(instruction_text: str, turn_text: str, role: str) -> list[dict[str, str]]:
    """The chat messages; with ``role='user'`` the instruction opens the user's message
    (some chat templates, Gemma's among them, drop system messages)."""
    if role == "system":
        return [
            {"role": "system", "content": instruction_text},
            {"role": "user", "content": turn_text},
        ]
    return [{"role": "user", "content": f"{instruction_text}\n\n{turn_text}"}]
