"""MOSAIC's environment families, declared through ``mosaic_register_env_families``.

Each module here is one plugin of the entry-point group
``mosaic.env_families`` and declares its families without importing their
libraries: Gymnasium's toy text and classic control
(:mod:`mosaic_envs.gym_families`), MiniGrid and BabyAI
(:mod:`mosaic_envs.minigrid`), MOSAIC MultiGrid
(:mod:`mosaic_envs.multigrid`), PettingZoo's classic games
(:mod:`mosaic_envs.pettingzoo_classic`), the multi-agent particle
environments (:mod:`mosaic_envs.mpe`), Crafter (:mod:`mosaic_envs.crafter`)
and TextWorld (:mod:`mosaic_envs.textworld`). ``mosaic envs`` lists them.
"""

from mosaic_envs.__about__ import __version__

__all__ = ["__version__"]
