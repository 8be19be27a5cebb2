"""``llm:MODEL@URL`` for ``mosaic eval``: a model answers ``select_action`` through an endpoint.

Built from the spec (``operator_factory(None, model=..., base_url=...)``,
more config fields as ``?key=value`` options), or from an llm run's
directory, whose ``config.json`` names the model, the endpoint and how to
ask. Observations are described as the worker describes them: MiniGrid's
from the observation alone, toy-text ones through a shadow copy of the
environment set to the observed state. A reply that names no legal action,
after the configured retries, is returned as None: ``mosaic eval`` counts
it in ``invalid_actions`` and plays a random legal action in its place,
never one the model did not choose without saying so.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

from mosaic_core import ConfigError, OperatorContext
from mosaic_llm.config import LLMConfig

__all__ = ["LLMOperator"]


class LLMOperator:
    """One seat played by a language model."""

    def __init__(self, config: LLMConfig, context: OperatorContext | None = None) -> None:
        from mosaic_llm.runtime import make_client

        self.config = config
        self.env_id = (context.env_id if context is not None else None) or None
        space = context.action_space if context is not None else None
        self.actions: int | None = getattr(space, "n", None)
        self.client = make_client(config)
        self.agent: Any = None
        self.describer: Any = None
        self.invalid_actions = 0

    @classmethod
    def load(
        cls,
        source: str | os.PathLike[str] | None,
        *,
        context: OperatorContext | None = None,
        **options: Any,
    ) -> LLMOperator:
        document: dict[str, Any] = {}
        if source is not None:
            path = pathlib.Path(source)
            config_file = path / "config.json" if path.is_dir() else path
            try:
                document = json.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"llm operator: cannot read the run's config at {config_file} ({exc}); "
                    "expected an llm run directory, or the spec llm:MODEL@URL",
                    field="operator",
                    value=str(source),
                ) from None
        document = {**document, **options}
        document.setdefault("run_id", "operator")
        document.pop("resume_from", None)
        if context is not None and context.env_id:
            document["env_id"] = context.env_id
        if "model" not in document:
            raise ConfigError(
                "llm operator: no model; use the spec llm:MODEL@URL, e.g. "
                "llm:gemma@http://127.0.0.1:8000/v1",
                field="model",
                expected="a model name",
            )
        return cls(LLMConfig.from_dict(document), context)

    def _describer(self, observation: Any) -> Any:
        from mosaic_llm.envs import describer_for, make_env

        if isinstance(observation, Mapping) and "image" in observation:
            from mosaic_llm.minigrid_text import ACTIONS, MiniGridText

            return MiniGridText(None, actions=self.actions or len(ACTIONS))
        if self.env_id is None:
            raise ConfigError(
                "llm operator: to describe this observation it needs its environment; start "
                "it with one (mosaic eval --env ENV_ID)",
                field="env_id",
            )
        env = make_env(self.env_id)
        env.reset(seed=0)  # a shadow: sync() sets its state; render needs a reset first
        return describer_for(env)

    def reset(self, seed: int | None = None) -> None:
        if self.agent is not None:
            self.agent.reset()

    def select_action(self, observation: Any, info: Mapping[str, Any] | None = None) -> Any:
        from mosaic_llm.runtime import make_agent

        if self.describer is None:
            self.describer = self._describer(observation)
            self.agent = make_agent(self.config, self.client, self.describer.title)
        self.describer.sync(observation)
        seen = self.describer.observe(observation, info)
        decision = self.agent.act(seen)
        last = decision.tries[-1] if decision.tries else {}
        # Shown beside the seat (the step protocol's ``exchange``): what was asked, what came back.
        self.last_exchange = {
            "prompt": self.agent.last_prompt,
            "reply": last.get("reply"),
            "tries": len(decision.tries),
            "valid": decision.index is not None,
            "invalid_replies": self.agent.stats.invalid_replies,
        }
        if decision.index is None:
            self.invalid_actions += 1
            return None
        self.agent.remember(seen, seen.actions[decision.index])
        return seen.indices[decision.index]

    def close(self) -> None:
        self.client.close()
        env = getattr(self.describer, "env", None)
        if env is not None:
            env.close()
