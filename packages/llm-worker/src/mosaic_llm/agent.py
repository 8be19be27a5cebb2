"""The agent: observation -> prompt -> reply -> action, with every fallback counted.

With ``action_format="auto"`` the agent asks in the strongest form first
(``json_schema``, then ``json_object``, ``tool``, ``text``). A form the
server has not yet answered is probed: if the server refuses it (a 4xx, or
the 500 some servers give for an unknown ``response_format``), the agent
moves to the next form for good and counts a ``format_fallback``; once a
form has worked, errors are retried like any other. A reply that carries the
action another way than asked (plain text where JSON was asked) still
counts, as a ``reply_fallback``. A reply that names no legal action is
invalid: it is kept with the reason, counted, optionally explained to the
model, and asked again up to ``invalid_retries`` times. It never becomes an
action by default.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Callable
from typing import Any

from mosaic_llm.actions import action_schema, parse_reply, request_params
from mosaic_llm.client import ChatClient, ChatReply, EndpointError
from mosaic_llm.config import ACTION_FORMATS
from mosaic_llm.envs import Observation
from mosaic_llm.prompts import instruction, messages, turn

__all__ = ["Agent", "Decision"]

_EXPECTED_VIA = {"json_schema": "json", "json_object": "json", "tool": "tool", "text": "text"}


@dataclasses.dataclass
class Decision:
    """The action chosen (an index into ``Observation.actions``, or None) and every try."""

    index: int | None
    tries: list[dict[str, Any]]


@dataclasses.dataclass
class AgentStats:
    calls: int = 0
    invalid_replies: int = 0
    format_fallbacks: int = 0
    reply_fallbacks: int = 0
    #: Each refused form: {"from": form, "to": form, "status": int | None}.
    fallback_log: list[dict[str, Any]] = dataclasses.field(default_factory=list)


class Agent:
    """Chooses actions for one agent through ``client``."""

    def __init__(
        self,
        client: ChatClient,
        *,
        title: str,
        style: str = "direct",
        action_format: str = "auto",
        instruction_role: str = "user",
        history: int = 4,
        temperature: float = 0.0,
        max_tokens: int = 48,
        invalid_retries: int = 1,
        feedback_invalid: bool = True,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.title = title
        self.style = style
        self.forms = list(ACTION_FORMATS) if action_format == "auto" else [action_format]
        self.probing = action_format == "auto"
        self.instruction_role = instruction_role
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.invalid_retries = invalid_retries
        self.feedback_invalid = feedback_invalid
        self.stats = AgentStats()
        #: The messages of the last request, as sent (the operator shows them).
        self.last_prompt: list[dict[str, str]] | None = None
        self._history: collections.deque[tuple[str, str]] = collections.deque(maxlen=history)
        self._proven: set[str] = set()
        self._feedback: str | None = None
        self._log = log

    @property
    def form(self) -> str:
        """The form actions are asked in now."""
        return self.forms[0]

    def reset(self) -> None:
        """A new episode: no history, no pending feedback."""
        self._history.clear()
        self._feedback = None

    def remember(self, observation: Observation, action: str) -> None:
        if self._history.maxlen:
            self._history.append((observation.text, action))

    def prompt(self, observation: Observation, form: str) -> list[dict[str, str]]:
        return messages(
            instruction(self.title, observation, self.style, form),
            turn(list(self._history), observation, self._feedback),
            self.instruction_role,
        )

    def act(self, observation: Observation) -> Decision:
        """Ask until a reply names a legal action, at most ``1 + invalid_retries`` times."""
        schema = action_schema(observation.actions, reasoning=self.style == "cot")
        tries: list[dict[str, Any]] = []
        for _ in range(1 + self.invalid_retries):
            reply, form = self._ask(observation, schema)
            parsed = parse_reply(reply, observation.actions)
            tries.append(_try_record(reply, form, parsed))
            if parsed.index is not None:
                if form != "text" and parsed.via != _EXPECTED_VIA[form]:
                    self.stats.reply_fallbacks += 1
                self._feedback = None
                return Decision(parsed.index, tries)
            self.stats.invalid_replies += 1
            if self.feedback_invalid:
                self._feedback = (
                    f"Your last reply was not a legal action ({parsed.error}). "
                    f"Answer with exactly one of: {', '.join(observation.actions)}."
                )
        return Decision(None, tries)

    def _ask(self, observation: Observation, schema: dict[str, Any]) -> tuple[ChatReply, str]:
        while True:
            form = self.form
            probing = self.probing and form not in self._proven and len(self.forms) > 1
            params: dict[str, Any] = {
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                **request_params(form, schema),
            }
            self.stats.calls += 1
            sent = self.prompt(observation, form)
            self.last_prompt = sent
            try:
                reply = self.client.chat(sent, retry_errors=not probing, **params)
            except EndpointError as exc:
                if not probing or exc.transient:
                    raise
                refused = self.forms.pop(0)
                self.stats.format_fallbacks += 1
                self.stats.fallback_log.append(
                    {"from": refused, "to": self.form, "status": exc.status}
                )
                if self._log is not None:
                    self._log(
                        f"the server refused actions asked as {refused} ({exc}); asking as "
                        f"{self.form} from now on"
                    )
                continue
            self._proven.add(form)
            return reply, form


def _try_record(reply: ChatReply, form: str, parsed: Any) -> dict[str, Any]:
    raw: str | None
    if reply.tool_calls:
        raw = json.dumps([c.get("function") for c in reply.tool_calls])
    else:
        raw = reply.content
    return {
        "reply": raw,
        "form": form,
        "via": parsed.via,
        "valid": parsed.index is not None,
        "error": parsed.error,
        "reasoning": parsed.reasoning,
        "latency_s": round(reply.latency, 6),
        "attempts": reply.attempts,
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "finish_reason": reply.finish_reason,
    }
