"""The LLM worker's config: which environments, which endpoint, how the agent asks.

``algorithm`` is the agent style (``direct`` or ``cot``), ``env_id`` the
first task, ``total_steps`` a cap on environment steps over the whole run.
The API key is never a field: ``api_key_env`` names the environment
variable that holds it, so ``config.json``, events and logs never see it.
Bounds are declared on the fields; :meth:`LLMConfig.validate` checks the
environment names and the values a bound cannot describe.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Interval

from mosaic_core import ConfigError, EnvSpec, TrainingConfigBase

__all__ = ["ACTION_FORMATS", "TEXTWORLD", "LLMConfig", "check_env_id"]

#: The forms an action can be asked for, strongest first.
ACTION_FORMATS = ("json_schema", "json_object", "tool", "text")
#: An env id naming a compiled TextWorld game: ``textworld:PATH``.
TEXTWORLD = "textworld:"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_SECRET_KEYS = ("api_key", "key", "token", "secret", "password", "authorization")


def check_env_id(env_id: str, field: str = "env_id") -> None:
    """A ConfigError on ``field`` unless ``env_id`` is ``textworld:PATH`` or an
    :class:`~mosaic_core.EnvSpec`; nothing is imported."""
    if env_id.startswith(TEXTWORLD):
        if not env_id[len(TEXTWORLD) :].strip():
            raise ConfigError.bad_value(field, env_id, "textworld:PATH of a compiled game")
        return
    EnvSpec.parse(env_id, field)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LLMConfig(TrainingConfigBase):
    """A run: ``episodes`` episodes of each task, played by ``model`` behind ``base_url``."""

    env_id: str = "BabyAI-GoToRedBallNoDists-v0"
    """the first task: a Gymnasium id, module:Id, module:factory, or textworld:PATH of a
    compiled TextWorld game"""
    algorithm: Literal["direct", "cot"] = "direct"
    """the agent style: direct answers with an action, cot reasons first"""
    total_steps: Annotated[int, Ge(1)] = 100_000
    """the most environment steps the whole run takes (a budget across episodes)"""
    tasks: tuple[str, ...] = ()
    """more environment ids after env_id, each played for as many episodes"""
    episodes: Annotated[int, Ge(1)] = 5
    """episodes of each task, reset with seed + k"""
    max_episode_steps: Annotated[int, Ge(1)] = 64
    """an episode still running after this many steps is truncated"""

    model: str
    """the model name the server serves"""
    base_url: str = "http://127.0.0.1:8000/v1"
    """the OpenAI-compatible endpoint, up to /v1"""
    api_key_env: str | None = None
    """the NAME of the environment variable holding the API key (null: no key sent)"""
    action_format: Literal["auto", "json_schema", "json_object", "tool", "text"] = "auto"
    """auto asks in the strongest form the server accepts and falls back on refusal"""
    instruction_role: Literal["user", "system"] = "user"
    """where the instruction goes: user works everywhere (Gemma's template drops system
    messages); system for models trained to follow one"""
    history: Annotated[int, Ge(0)] = 4
    """how many past (observation, action) pairs the prompt shows"""
    temperature: Annotated[float, Interval(ge=0, le=2)] = 0.0
    """the sampling temperature; 0 is greedy"""
    max_tokens: Annotated[int | None, Ge(1)] = None
    """the reply budget in tokens (null: 48 for direct, 384 for cot)"""
    timeout: Annotated[float, Gt(0)] = 60.0
    """seconds for connecting and for each read of a reply"""
    max_retries: Annotated[int, Ge(0)] = 3
    """retries of a request after 429, 5xx, a timeout or a dropped connection"""
    backoff: Annotated[float, Gt(0)] = 0.5
    """the first retry's wait in seconds; it doubles, or follows Retry-After"""
    invalid_retries: Annotated[int, Ge(0)] = 1
    """times the model is asked again, told what was wrong, after an invalid reply"""
    on_invalid: Literal["end_episode", "random"] = "end_episode"
    """when every try was invalid: end the episode, or take a random legal action (recorded
    as random, never as the model's)"""
    feedback_invalid: bool = True
    """tell the model, in the next prompt, that its last reply was not a legal action"""
    resume_from: str | None = None
    """a run directory (or the run id of a sibling run) whose finished episodes are kept and
    skipped; a rerun in the same run directory resumes by itself"""

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
        if self.checkpoint_every is not None:
            raise ConfigError.bad_value(
                "checkpoint_every",
                self.checkpoint_every,
                "null: the llm worker trains nothing and keeps no checkpoint; its steps.jsonl "
                "and episodes.jsonl are written as it plays, and a rerun (or resume_from) "
                "continues from them",
            )
        check_env_id(self.env_id)
        for index, task in enumerate(self.tasks):
            check_env_id(task, f"tasks[{index}]")
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
