"""One RLlib training run inside the worker process: checks, Ray, iterations, checkpoints.

The order matters: the config is checked against the environment and RLlib
before any Ray process exists (:func:`mosaic_ray.translate.plan`); Ray is
started or joined (:func:`mosaic_ray.cluster.ray_session`); the algorithm
trains until ``total_steps`` env steps, each iteration reported by
:class:`mosaic_ray.callbacks.MosaicCallback`; checkpoints go to the run's
``checkpoints/`` with ``save_to_path`` (every ``checkpoint_frequency``
iterations, at the first iteration past each multiple of
``checkpoint_every`` env steps, and at the end); whatever happens, the
driver is shut down and a local Ray with it.

A stopped run (SIGTERM from the supervisor, which reaches the local Ray's
processes too) keeps its policy: the learner lives in this process (RLlib's
default, ``num_learners=0``), so its state is saved to
``checkpoints/step_<N>/learner_group`` without Ray, recorded, and named by
``run_cancelled``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from typing import Any

from mosaic_core import ProtocolError, RunCancelled, RunContext, RunHandle
from mosaic_ray.cancel import EXIT_CANCELLED, CancelGuard
from mosaic_ray.cluster import RayPlace, prepare_environment, ray_session, temp_dir_for
from mosaic_ray.config import RayConfig

__all__ = ["RayRuntime"]


class RayRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one RLlib run."""

    def __init__(self, config: RayConfig, context: RunContext) -> None:
        self.config = config
        self.context = context
        self.emitter = context.emitter
        self.plan: Any = None
        self.reporter: Any = None
        self.place: RayPlace | None = None
        self.algo: Any = None
        self.guard: CancelGuard | None = None
        self._stop_lock = threading.Lock()
        self._stop_result: dict[str, Any] | None = None

    def run(self) -> dict[str, Any]:
        c = self.config
        prepare_environment(c)
        # A second of the grace period is left for the last words and the exit.
        grace = max(1.0, self.context.stop_grace - 1.0)
        guard = self.guard = CancelGuard(self.emitter, self._abandon, grace, self._stop_once)
        try:
            return self._run(guard)
        except BaseException:
            if guard.cancelled:
                # Cleaned up already; interpreter finalization can hang in Ray's C++ teardown
                # once its raylet is gone, so leave now, as a cancelled run.
                guard.finish()
                self.emitter.close()
                os._exit(EXIT_CANCELLED)
            raise

    def _abandon(self) -> None:
        """The watcher's last resort when cancelling takes too long."""
        if self.config.local:
            RunContext.kill_descendants()
            if self.config.ray_temp_dir is None:
                shutil.rmtree(temp_dir_for(self.config.run_id), ignore_errors=True)

    def _run(self, guard: CancelGuard) -> dict[str, Any]:
        c = self.config
        with (
            guard,
            self.context.lifecycle(
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.seed,
                total_steps=c.total_steps,
                ray_address=c.ray_address or "local",
            ) as run,
        ):
            from mosaic_ray.translate import plan

            self.plan = plan(c)
            self._describe_run()
            self._record_spaces()
            with ray_session(c, self.plan.cpus_needed) as self.place:
                self._train(run)
            reporter, checkpoints = self.reporter, self.context.checkpoints
            self.context.write_manifest(
                env_steps=reporter.step,
                iterations=reporter.iterations,
                ray_address=self.place.address,
            )
            run.summary.update(
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.seed,
                env_steps=reporter.step,
                iterations=reporter.iterations,
                episode_return_mean=reporter.returns[-1] if reporter.returns else None,
                checkpoint=checkpoints[-1] if checkpoints else None,
                ray_address=self.place.address,
                ray_nodes=self.place.nodes,
                final_metrics=reporter.last,
            )
        return run.summary

    def _train(self, run: RunHandle) -> None:
        from tensorboardX import SummaryWriter

        from mosaic_ray import callbacks

        c = self.config
        writer = SummaryWriter(str(self.context.path("tensorboard")))
        self.reporter = callbacks.Reporter(run, writer)
        callbacks.install(self.reporter)
        try:
            algo = self.algo = _build(self.plan.algo_config)
            self_play = self.plan.env.multi_agent and c.policy_mode == "self_play"
            due = c.checkpoint_every or 0
            while self.reporter.step < c.total_steps:
                algo.train()
                iteration, step = algo.iteration, self.reporter.step
                if self_play and iteration % c.self_play_update_every == 0:
                    _refresh_opponent(algo)
                if step >= c.total_steps:
                    break
                if c.checkpoint_every and step >= due:
                    due = (step // c.checkpoint_every + 1) * c.checkpoint_every
                    self._save(algo, f"step_{step}", "periodic")
                elif c.checkpoint_frequency and iteration % c.checkpoint_frequency == 0:
                    self._save(algo, f"iter_{iteration:06d}", "periodic")
            self._save(algo, "final", "final")
            # Only on success: a cancelled run's actors may already be gone (the supervisor
            # signals the whole session), and ray.shutdown() ends whatever is left.
            algo.stop()
        except BaseException as exc:
            if not isinstance(exc, RunCancelled) and not (self.guard and self.guard.signalled):
                raise
            result = self._stop_once()
            if not run.emitter.finished:
                with contextlib.suppress(ProtocolError):  # the watcher may have announced it
                    run.emitter.run_cancelled(reason="received SIGTERM", **result)
            if self.guard is not None:
                self.guard.stopped()
            if isinstance(exc, RunCancelled):
                raise
            raise RunCancelled("received SIGTERM") from exc
        finally:
            callbacks.install(None)
            writer.close()

    def _save(self, algo: Any, name: str, reason: str) -> None:
        path = self.context.path("checkpoints", name)
        algo.save_to_path(str(path))
        self._record(path, algo.iteration, reason)

    def _record(self, path: Any, iteration: int, reason: str) -> str:
        return self.context.record_checkpoint(
            path,
            step=self.reporter.step,
            format="rllib",
            iteration=iteration,
            modules=list(self.plan.modules),
            reason=reason,
        )

    def _stop_once(self) -> dict[str, Any]:
        """Save the learner's state and the manifest, once, from the main thread or the
        cancel guard's watcher, whichever comes first; what ``run_cancelled`` carries."""
        with self._stop_lock:
            if self._stop_result is None:
                saved = None
                # Before the first iteration nothing has been learned that is worth a file.
                if self.algo is not None and self.reporter is not None and self.reporter.step:
                    saved = self._save_stopped(self.algo)
                if self.reporter is not None:
                    self._write_progress()
                steps = self.reporter.step if self.reporter is not None else 0
                self._stop_result = {"checkpoint": saved, "env_steps": steps}
            return self._stop_result

    def _save_stopped(self, algo: Any) -> str | None:
        """The learner's state, saved without Ray (whose processes the supervisor's SIGTERM
        has ended) as ``checkpoints/step_<N>/learner_group``: the modules the operator
        loads. None when the learners ran as Ray actors (``num_learners`` > 0), gone now."""
        group = algo.learner_group
        if not group.is_local:
            print(
                "mosaic-ray: the learners ran as Ray actors, stopped with the run: no "
                "checkpoint saved; the latest periodic one (checkpoint_every) is the last",
                file=sys.stderr,
            )
            return None
        path = self.context.path("checkpoints", f"step_{self.reporter.step}")
        group.save_to_path(str(path / "learner_group"))
        return self._record(path, algo.iteration, "stopped")

    def _write_progress(self) -> None:
        self.context.write_manifest(
            env_steps=self.reporter.step, iterations=self.reporter.iterations
        )

    def _record_spaces(self) -> None:
        """The spaces the policies are trained on, and the environment ``mosaic eval`` plays
        (the run's own ``env_id``, unless an ``env_config`` changes what it makes)."""
        env, c = self.plan.env, self.config
        env_id = None if c.env_config else c.env_id
        for agent in env.agents or (None,):
            self.context.record_spaces(
                env.observation_spaces[agent], env.action_spaces[agent], agent=agent, env_id=env_id
            )

    def _describe_run(self) -> None:
        """The manifest as soon as the plan is made, so that every checkpoint recorded
        later is listed beside the agent-to-module map an operator needs to load it."""
        import ray

        c, plan = self.config, self.plan
        self.context.write_manifest(
            algorithm=c.algorithm,
            env_id=c.env_id,
            env_config=c.env_config,
            multi_agent=plan.env.multi_agent,
            agents=list(plan.env.agents),
            policy_mode=c.policy_mode if plan.env.multi_agent else None,
            modules=list(plan.modules),
            agent_modules=dict(plan.agent_modules),
            normalize_actions=bool(plan.algo_config.normalize_actions),
            clip_actions=bool(plan.algo_config.clip_actions),
            ray_version=ray.__version__,
            ray_local=c.local,
            config=c.to_dict(),
        )


def _build(algo_config: Any) -> Any:
    """Build the algorithm without leaving an empty ``~/ray_results/<date>...`` behind."""
    from ray.train.constants import DEFAULT_STORAGE_PATH as results

    existed = os.path.isdir(results)
    algo = algo_config.build_algo()
    for path in (algo.logdir, None if existed else results):
        if path:
            try:
                os.rmdir(path)  # only ever an empty directory
            except OSError:
                pass
    return algo


def _refresh_opponent(algo: Any) -> None:
    """Self-play: the frozen ``opponent`` takes the learner's current ``main`` weights."""
    state = algo.learner_group.get_state(components="learner/rl_module/main")
    main = state["learner"]["rl_module"]["main"]
    algo.set_state({"learner_group": {"learner": {"rl_module": {"opponent": main}}}})
