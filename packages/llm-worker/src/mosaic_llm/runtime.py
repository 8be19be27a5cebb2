"""A run: ``episodes`` episodes of every task, each step a question to the model.

What a run directory holds besides the SDK's files:

``steps.jsonl``     one line per model reply: task, episode, seed, step, try,
                    observation text, the reply as received, the action it
                    named (or why none), whether it was valid, the reward of
                    the step it led to, latency and tokens.
``episodes.jsonl``  one line per finished episode: return, length, success,
                    how it ended, invalid replies, model calls, tokens,
                    latency, retries.
``analytics.json``  the manifest.

Each episode also leaves as a ``metrics`` event (step = environment steps so
far). A run started again in the same run directory, or with
``resume_from`` naming an earlier run, skips the episodes already finished
there (same task, episode number and seed) and drops the steps of an
episode that was cut short.

Nothing is trained, so there is no checkpoint (the worker declares none,
and ``checkpoint_every`` is refused): what a run keeps is its records,
written line by line as it plays, and ``config.json``, which ``llm:RUN``
plays again. The manifest is written when the run starts, and a stopped
run (``mosaic cancel``, Ctrl-C, a timeout) rewrites it with the summary of
the episodes it finished, which ``run_cancelled`` carries too.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import sys
import time
from collections.abc import Iterable
from typing import Any

from mosaic_core import MosaicError, RunCancelled, RunContext, RunHandle
from mosaic_llm.config import LLMConfig

__all__ = ["EPISODES_FILE", "STEPS_FILE", "LLMRuntime", "make_client"]

STEPS_FILE = "steps.jsonl"
EPISODES_FILE = "episodes.jsonl"


def log(message: str) -> None:
    print(f"mosaic-llm: {message}", file=sys.stderr, flush=True)


def make_client(config: LLMConfig) -> Any:
    """The HTTP client for ``config``; the key comes from ``$<api_key_env>``, never the config."""
    from mosaic_llm.client import ChatClient

    key = None
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise MosaicError(
                f"api_key_env names ${config.api_key_env}, which is not set in the worker's "
                "environment; export it where you start `mosaic run`"
            )
    return ChatClient(
        config.base_url,
        config.model,
        api_key=key,
        timeout=config.timeout,
        max_retries=config.max_retries,
        backoff=config.backoff,
        log=log,
    )


def make_agent(config: LLMConfig, client: Any, title: str) -> Any:
    from mosaic_llm.agent import Agent

    return Agent(
        client,
        title=title,
        style=config.algorithm,
        action_format=config.action_format,
        instruction_role=config.instruction_role,
        history=config.history,
        temperature=config.temperature,
        max_tokens=config.reply_tokens,
        invalid_retries=config.invalid_retries,
        feedback_invalid=config.feedback_invalid,
        log=log,
    )


def _read_jsonl(path: pathlib.Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a crash
    return out


def _key(record: dict[str, Any]) -> tuple[Any, Any, Any]:
    return record.get("task"), record.get("episode"), record.get("seed")


class LLMRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one LLM run."""

    def __init__(self, config: LLMConfig, context: RunContext) -> None:
        self.config = config
        self.context = context
        self.run_dir = context.run_dir
        self.emitter = context.emitter
        self.finished: list[dict[str, Any]] = []
        self.resumed = 0
        self.env_steps = 0
        #: The agent of each task played so far.
        self.agents: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        c = self.config
        with self.context.lifecycle(
            algorithm=c.algorithm,
            env_id=c.env_id,
            seed=c.seed,
            total_steps=c.total_steps,
            model=c.model,
            base_url=c.base_url,
            tasks=list(c.all_tasks),
            episodes=c.episodes,
        ) as run:
            self._restore()
            self._write_manifest(None)
            client = make_client(c)
            try:
                self._play(run, client)
            except RunCancelled as stop:
                # The episodes finished so far are on disk; say so in the manifest and the end.
                partial = self._summary(client, self.agents)
                self._write_manifest(partial)
                run.emitter.run_cancelled(reason=str(stop), **partial)
                raise
            finally:
                client.close()
            run.summary.update(self._summary(client, self.agents))
            self._write_manifest(run.summary)
        return run.summary

    # -- resuming ------------------------------------------------------------------

    def _source_dir(self) -> pathlib.Path | None:
        source = self.config.resume_from
        if source is None:
            return None
        path = pathlib.Path(source).expanduser()
        if not path.is_dir() and not path.is_absolute():
            path = self.run_dir.parent / source  # a sibling run, named by its id
        if not (path / EPISODES_FILE).exists():
            raise MosaicError(
                f"resume_from {source!r}: no {EPISODES_FILE} at {path}; expected the run "
                "directory (or run id) of an earlier llm run"
            )
        return path

    def _restore(self) -> None:
        """Keep finished episodes (here, or in ``resume_from``); drop steps of cut ones."""
        wanted = {
            (task, k, self.config.episode_seed(k))
            for task in self.config.all_tasks
            for k in range(self.config.episodes)
        }
        episodes = _read_jsonl(self.run_dir / EPISODES_FILE)
        steps = _read_jsonl(self.run_dir / STEPS_FILE)
        source = self._source_dir()
        if source is not None and source.resolve() != self.run_dir.resolve():
            have = {_key(e) for e in episodes}
            episodes += [e for e in _read_jsonl(source / EPISODES_FILE) if _key(e) not in have]
            steps += _read_jsonl(source / STEPS_FILE)
        kept: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        for record in episodes:
            if _key(record) in wanted:
                kept.setdefault(_key(record), record)
        self.finished = list(kept.values())
        self.resumed = len(self.finished)
        self.env_steps = sum(int(e.get("length") or 0) for e in self.finished)
        _write_jsonl(self.run_dir / EPISODES_FILE, self.finished)
        _write_jsonl(self.run_dir / STEPS_FILE, (s for s in steps if _key(s) in kept))
        if self.resumed:
            log(f"resuming: {self.resumed} finished episode(s) kept and skipped")

    # -- playing -------------------------------------------------------------------

    def _play(self, run: RunHandle, client: Any) -> None:
        from mosaic_llm.envs import describer_for, make_env

        c = self.config
        done = {_key(e) for e in self.finished}
        agents = self.agents
        with (
            open(self.run_dir / STEPS_FILE, "a", encoding="utf-8") as steps,
            open(self.run_dir / EPISODES_FILE, "a", encoding="utf-8") as episodes,
        ):
            for task in c.all_tasks:
                todo = [k for k in range(c.episodes) if (task, k, c.episode_seed(k)) not in done]
                if not todo or self.env_steps >= c.total_steps:
                    continue
                env = make_env(task)
                try:
                    describer = describer_for(env)
                    agent = agents[task] = make_agent(c, client, describer.title)
                    for k in todo:
                        if self.env_steps >= c.total_steps:
                            break
                        record = self._episode(env, describer, agent, task, k, steps)
                        episodes.write(json.dumps(record) + "\n")
                        episodes.flush()
                        self.finished.append(record)
                        run.metrics(self.env_steps, self._metrics(record, client, agent))
                finally:
                    env.close()

    def _episode(
        self, env: Any, describer: Any, agent: Any, task: str, k: int, steps: Any
    ) -> dict[str, Any]:
        c = self.config
        seed = c.episode_seed(k)
        rng = random.Random(seed)
        observation, info = env.reset(seed=seed)
        agent.reset()
        started = time.perf_counter()
        tally = _Tally()
        retries_before = agent.client.stats.retries
        total, length, ended = 0.0, 0, "max_episode_steps"
        terminated = truncated = False
        reward = 0.0
        while length < c.max_episode_steps:
            if self.env_steps >= c.total_steps:
                ended = "total_steps"
                break
            seen = describer.observe(observation, info)
            decision = agent.act(seen)
            index, source = decision.index, "model"
            if index is None and c.on_invalid == "random":
                index, source = rng.randrange(len(seen.actions)), "random"
            if index is not None:
                observation, reward, terminated, truncated, info = env.step(seen.indices[index])
                reward = float(reward)
            where = {"task": task, "episode": k, "seed": seed, "step": length}
            for line in tally.lines(where, seen, decision, index, source, reward):
                steps.write(json.dumps(line) + "\n")
            steps.flush()
            if index is None:
                ended = "invalid"
                break
            agent.remember(seen, seen.actions[index])
            total += reward
            length += 1
            self.env_steps += 1
            self.emitter.step = self.env_steps
            if terminated or truncated:
                ended = "terminated" if terminated else "truncated"
                break
        return {
            "task": task,
            "episode": k,
            "seed": seed,
            "return": total,
            "length": length,
            "success": bool(length and describer.success(terminated, reward)),
            "ended_by": ended,
            **tally.totals(),
            "retries": agent.client.stats.retries - retries_before,
            "action_format": agent.form,
            "seconds": round(time.perf_counter() - started, 6),
        }

    def _metrics(self, record: dict[str, Any], client: Any, agent: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "charts/episodic_return": record["return"],
            "charts/episodic_length": record["length"],
            "llm/success": float(record["success"]),
            "llm/invalid_actions": record["invalid_actions"],
            "llm/random_actions": record["random_actions"],
            "llm/model_calls": record["model_calls"],
            "llm/prompt_tokens": record["prompt_tokens"],
            "llm/completion_tokens": record["completion_tokens"],
            "llm/mean_latency_s": record["mean_latency_s"],
            "llm/retries_total": client.stats.retries,
            "llm/format_fallbacks_total": agent.stats.format_fallbacks,
            "llm/reply_fallbacks_total": agent.stats.reply_fallbacks,
        }
        for reason, count in client.stats.retry_reasons.items():
            values[f"llm/retries_{reason}_total"] = count
        if len(self.config.all_tasks) > 1:
            values[f"{record['task']}/episodic_return"] = record["return"]
            values[f"{record['task']}/success"] = float(record["success"])
        return values

    # -- the end -------------------------------------------------------------------

    def _summary(self, client: Any, agents: dict[str, Any]) -> dict[str, Any]:
        c = self.config
        tasks = {}
        for task in c.all_tasks:
            mine = [e for e in self.finished if e["task"] == task]
            tasks[task] = {
                "episodes": len(mine),
                "mean_return": _mean([e["return"] for e in mine]),
                "success_rate": _mean([float(e["success"]) for e in mine]),
                "mean_length": _mean([e["length"] for e in mine]),
            }
        fallbacks = [log for a in agents.values() for log in a.stats.fallback_log]
        return {
            "model": c.model,
            "algorithm": c.algorithm,
            "episodes": len(self.finished),
            "resumed_episodes": self.resumed,
            "env_steps": self.env_steps,
            "tasks": tasks,
            "invalid_actions": sum(e["invalid_actions"] for e in self.finished),
            "random_actions": sum(e["random_actions"] for e in self.finished),
            "prompt_tokens": sum(e["prompt_tokens"] for e in self.finished),
            "completion_tokens": sum(e["completion_tokens"] for e in self.finished),
            "requests": client.stats.requests,
            "retries": client.stats.retries,
            "retry_reasons": dict(client.stats.retry_reasons),
            "format_fallbacks": sum(a.stats.format_fallbacks for a in agents.values()),
            "format_fallback_log": fallbacks,
            "reply_fallbacks": sum(a.stats.reply_fallbacks for a in agents.values()),
            "action_formats": {task: a.form for task, a in agents.items()},
        }

    def _write_manifest(self, summary: dict[str, Any] | None) -> None:
        c = self.config
        self.context.write_manifest(
            records={"steps": STEPS_FILE, "episodes": EPISODES_FILE},
            model=c.model,
            base_url=c.base_url,
            api_key_env=c.api_key_env,
            algorithm=c.algorithm,
            env_id=c.env_id,  # what `mosaic eval --operator llm:RUN` plays without --env
            tasks=list(c.all_tasks),
            episodes_per_task=c.episodes,
            seed=c.seed,
            summary=summary,
            config=c.to_dict(),
        )


class _Tally:
    """One episode's model calls: counted, and turned into ``steps.jsonl`` lines."""

    def __init__(self) -> None:
        self.calls = self.invalid = self.random = self.prompt = self.completion = 0
        self.latency = 0.0

    def lines(
        self,
        where: dict[str, Any],
        seen: Any,
        decision: Any,
        index: int | None,
        source: str,
        reward: float,
    ) -> list[dict[str, Any]]:
        """A line per try; the last one, if it led to a step, carries the action and reward."""
        out = []
        self.random += index is not None and source == "random"
        for number, attempt in enumerate(decision.tries):
            self.calls += 1
            self.invalid += not attempt["valid"]
            self.prompt += attempt["prompt_tokens"]
            self.completion += attempt["completion_tokens"]
            self.latency += attempt["latency_s"]
            named = seen.actions[decision.index] if attempt["valid"] else None
            line = {**where, "observation": seen.text, "actions": list(seen.actions), "try": number,
                    **attempt, "action": named, "reward": None, "source": None}  # fmt: skip
            if number == len(decision.tries) - 1 and index is not None:
                line.update(action=seen.actions[index], reward=reward, source=source, taken=True)
            out.append(line)
        return out

    def totals(self) -> dict[str, Any]:
        return {
            "invalid_actions": self.invalid,
            "random_actions": self.random,
            "model_calls": self.calls,
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "latency_s": round(self.latency, 6),
            "mean_latency_s": round(self.latency / self.calls, 6) if self.calls else None,
        }


def _write_jsonl(path: pathlib.Path, records: Iterable[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    os.replace(tmp, path)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
