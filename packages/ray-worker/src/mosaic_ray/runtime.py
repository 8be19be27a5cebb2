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
import pathlib
import shutil
from typing import Any

from mosaic_core import (
    ArtifactsMetadata,
    CheckpointMetadata,
    RunHandle,
    TelemetryEmitter,
    WorkerAnalyticsManifest,
)
from mosaic_ray import __version__
from mosaic_ray.cancel import EXIT_CANCELLED, CancelGuard, kill_descendants
from mosaic_ray.cluster import RayPlace, prepare_environment, ray_session, temp_dir_for
from mosaic_ray.config import RayConfig

__all__ = ["RayRuntime"]


class RayRuntime:
    """Implements :class:`mosaic_core.WorkerRuntime` for one RLlib run."""

    def __init__(self, config: RayConfig) -> None:
        self.config = config
        self.run_dir = pathlib.Path(os.environ.get("MOSAIC_RUN_DIR") or pathlib.Path.cwd())
        self.emitter = TelemetryEmitter(config.run_id)
        self.checkpoints: list[str] = []
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
            kill_descendants()
            if self.config.ray_temp_dir is None:
                shutil.rmtree(temp_dir_for(self.config.run_id), ignore_errors=True)

    def _run(self, guard: CancelGuard) -> dict[str, Any]:
        c = self.config
        with (
            guard,
            self.emitter.lifecycle(
                worker_type="ray",
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.seed,
                total_steps=c.total_steps,
                ray_address=c.ray_address or "local",
            ) as run,
        ):
            from mosaic_ray.translate import plan

            self.plan = plan(c)
            with ray_session(c, self.plan.cpus_needed) as self.place:
                self._train(run)
            self._write_manifest()
            reporter = self.reporter
            run.summary.update(
                algorithm=c.algorithm,
                env_id=c.env_id,
                seed=c.seed,
                env_steps=reporter.step,
                iterations=reporter.iterations,
                episode_return_mean=reporter.returns[-1] if reporter.returns else None,
                checkpoint=self.checkpoints[-1] if self.checkpoints else None,
                ray_address=self.place.address,
                ray_nodes=self.place.nodes,
                final_metrics=reporter.last,
            )
        return run.summary

    def _train(self, run: RunHandle) -> None:
        from tensorboardX import SummaryWriter

        from mosaic_ray import callbacks

        c = self.config
        writer = SummaryWriter(str(self.run_dir / "tensorboard"))
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
                    self._save(algo, run, f"iter_{iteration:06d}")
            self._save(algo, run, "final")
            # Only on success: a cancelled run's actors may already be gone (the supervisor
            # signals the whole session), and ray.shutdown() ends whatever is left.
            algo.stop()
        finally:
            callbacks.install(None)
            writer.close()

    def _save(self, algo: Any, run: RunHandle, name: str) -> None:
        relative = f"checkpoints/{name}"
        algo.save_to_path(str(self.run_dir / relative))
        self.checkpoints.append(relative)
        run.checkpoint_saved(
            relative,
            step=self.reporter.step,
            iteration=algo.iteration,
            format="rllib",
            modules=list(self.plan.modules),
        )

    def _write_manifest(self) -> None:
        c, plan = self.config, self.plan
        checkpoints = None
        if self.checkpoints:
            checkpoints = CheckpointMetadata(
                directory="checkpoints",
                format="rllib",
                files=tuple(self.checkpoints),
                latest=self.checkpoints[-1],
            )
        algo_config = plan.algo_config
        WorkerAnalyticsManifest(
            run_id=c.run_id,
            worker_type="ray",
            artifacts=ArtifactsMetadata(
                tensorboard="tensorboard", checkpoints=checkpoints, logs_dir="."
            ),
            metadata={
                "algorithm": c.algorithm,
                "env_id": c.env_id,
                "env_config": c.env_config,
                "multi_agent": plan.env.multi_agent,
                "agents": list(plan.env.agents),
                "policy_mode": c.policy_mode if plan.env.multi_agent else None,
                "modules": list(plan.modules),
                "agent_modules": dict(plan.agent_modules),
                "normalize_actions": bool(algo_config.normalize_actions),
                "clip_actions": bool(algo_config.clip_actions),
                "env_steps": self.reporter.step,
                "iterations": self.reporter.iterations,
                "ray_version": _version("ray"),
                "ray_address": self.place.address if self.place else None,
                "ray_local": c.local,
                "worker_version": __version__,
                "config": c.to_dict(),
            },
        ).save(self.run_dir)


def _build(algo_config: Any) -> Any:
    """Build the algorithm without leaving an empty ``~/ray_results/<date>...`` behind."""
    from ray.tune.trainable import trainable

    results = trainable.DEFAULT_STORAGE_PATH
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


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
