"""One RLlib training run inside the worker process: checks, Ray, iterations, checkpoints.

The order matters: the config is checked against the environment and RLlib
before any Ray process exists (:func:`mosaic_ray.translate.plan`); Ray is
started or joined (:func:`mosaic_ray.cluster.ray_session`); the algorithm
trains until ``total_steps`` env steps, each iteration reported by
:class:`mosaic_ray.callbacks.MosaicCallback`; checkpoints go to the run's
``checkpoints/`` with ``save_to_path``; whatever happens, the driver is shut
down and a local Ray with it.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from mosaic_core import RunContext, RunHandle
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

    def run(self) -> dict[str, Any]:
        c = self.config
        prepare_environment(c)
        guard = CancelGuard(self.emitter, self._abandon)
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
            algo = _build(self.plan.algo_config)
            self_play = self.plan.env.multi_agent and c.policy_mode == "self_play"
            while self.reporter.step < c.total_steps:
                algo.train()
                iteration = algo.iteration
                if self_play and iteration % c.self_play_update_every == 0:
                    _refresh_opponent(algo)
                if (
                    c.checkpoint_frequency
                    and iteration % c.checkpoint_frequency == 0
                    and self.reporter.step < c.total_steps
                ):
                    self._save(algo, f"iter_{iteration:06d}")
            self._save(algo, "final")
            # Only on success: a cancelled run's actors may already be gone (the supervisor
            # signals the whole session), and ray.shutdown() ends whatever is left.
            algo.stop()
        finally:
            callbacks.install(None)
            writer.close()

    def _save(self, algo: Any, name: str) -> None:
        path = self.context.path("checkpoints", name)
        algo.save_to_path(str(path))
        self.context.record_checkpoint(
            path,
            step=self.reporter.step,
            format="rllib",
            iteration=algo.iteration,
            modules=list(self.plan.modules),
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
