"""The LLM worker's config: which environments, which endpoint, how the agent asks.

``algorithm`` is the agent style (``direct`` or ``cot``), ``env_id`` the
first task, ``total_steps`` a cap on environment steps over the whole run.
The API key is never a field: ``api_key_env`` names the environment
variable that holds it, so ``config.json``, events and logs never see it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Literal

from mosaic_core import ConfigError, TrainingConfigBase

__all__ = ["ACTION_FORMATS", "LLMConfig"]

#: The forms an action can be asked for, strongest first.
ACTION_FORMATS = ("json_schema", "json_object", "tool", "text")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_SECRET_KEYS = ("api_key", "key", "token", "secret", "password", "authorization")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LLMConfig(TrainingConfigBase):
    """A run: ``episodes`` episodes of each task, played by ``model`` behind ``base_url``."""

    env_id: str = "BabyAI-GoToRedBallNoDists-v0"
    #: The agent style: ``direct`` answers with an action, ``cot`` reasons first.
    algorithm: Literal["direct", "cot"] = "direct"
    #: The most environment steps the whole run takes (a budget across episodes).
    total_steps: int = 100_000
    #: More environment ids after ``env_id``; every task gets ``episodes`` episodes.
    tasks: tuple[str, ...] = ()
    episodes: int = 5
    #: An episode still running after this many steps is truncated.
    max_episode_steps: int = 64

    model: str
    base_url: str = "http://127.0.0.1:8000/v1"
    #: The NAME of the environment variable holding the API key (None: no key sent).
    api_key_env: str | None = None
    #: ``auto`` asks in the strongest form the server accepts and falls back on refusal.
    action_format: Literal["auto", "json_schema", "json_object", "tool", "text"] = "auto"
    #: Where the instruction goes: ``user`` works everywhere (Gemma's template drops
    #: system messages); ``system`` for models trained to follow one.
    instruction_role: Literal["user", "system"] = "user"
    #: How many past (observation, action) pairs the prompt shows.
    history: int = 4
    temperature: float = 0.0
    #: Reply budget in tokens; None: 48 for ``direct``, 384 for ``cot``.
    max_tokens: int | None = None
    #: Seconds for connecting and for each read of a reply.
    timeout: float = 60.0
    #: Retries of a request after 429, 5xx, a timeout or a dropped connection.
    max_retries: int = 3
    #: The first retry's wait in seconds; it doubles, or follows Retry-After.
    backoff: float = 0.5
    #: Times the model is asked again, told what was wrong, after an invalid reply.
    invalid_retries: int = 1
    #: When every try was invalid: end the episode, or take a random legal action
    #: (recorded as random, never as the model's).
    on_invalid: Literal["end_episode", "random"] = "end_episode"
    #: Tell the model, in the next prompt, that its last reply was not a legal action.
    feedback_invalid: bool = True
    #: A run directory (or the run id of a sibling run) whose finished episodes are
    #: kept and skipped; a rerun in the same run directory resumes by itself.
    resume_from: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LLMConfig:
        if isinstance(data, Mapping):
            for key in data:
                if isinstance(key, str) and key.lower() in _SECRET_KEYS:
                    # Never echo the value: it is a secret.
                    raise ConfigError(
                        f"config field {key!r}: a secret never goes in a config (config.json is "
                        "kept with the run); export it in an environment variable and name the "
                        "variable in api_key_env, e.g. api_key_env=OPENAI_API_KEY",
                        field=key,
                        expected="no such field; use api_key_env",
                    )
        return super().from_dict(data)

    def validate(self) -> None:
        for name in ("episodes", "max_episode_steps", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError.bad_value(name, value, "an integer >= 1")
        for name in ("history", "max_retries", "invalid_retries"):
            if getattr(self, name) < 0:
                raise ConfigError.bad_value(name, getattr(self, name), "an integer >= 0")
        for name in ("timeout", "backoff"):
            if getattr(self, name) <= 0:
                raise ConfigError.bad_value(name, getattr(self, name), "a number > 0")
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError.bad_value("temperature", self.temperature, "a number in [0, 2]")
        if not self.model.strip():
            raise ConfigError.bad_value("model", self.model, "the model name the server serves")
        if not re.match(r"https?://[^/\s]+", self.base_url):
            raise ConfigError.bad_value(
                "base_url", self.base_url, "an http(s) URL such as 'http://127.0.0.1:8000/v1'"
            )
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            # The value may be a key pasted in the wrong place: do not repeat it.
            raise ConfigError(
                "config field 'api_key_env': expected the NAME of an environment variable "
                "(letters, digits and _, such as OPENAI_API_KEY), not the key itself",
                field="api_key_env",
                expected="an environment variable name",
            )
        for index, task in enumerate(self.tasks):
            if not task.strip():
                raise ConfigError.bad_value(f"tasks[{index}]", task, "an environment id")

    @property
    def all_tasks(self) -> tuple[str, ...]:
        """``env_id`` and then ``tasks``, without repeats."""
        return tuple(dict.fromkeys((self.env_id, *self.tasks)))

    @property
    def reply_tokens(self) -> int:
        if self.max_tokens is not None:
            return self.max_tokens
        return 384 if self.algorithm == "cot" else 48

    def episode_seed(self, episode: int) -> int:
        """Episode ``k`` of every task is reset with ``seed + k``, as ``mosaic eval`` does."""
        return (self.seed or 0) + episode
