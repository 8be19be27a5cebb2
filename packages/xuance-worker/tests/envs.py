"""Environments for evaluating runs trained with continuous MPE actions."""

from __future__ import annotations

from typing import Any


def continuous_spread(**kwargs: Any) -> Any:
    """PettingZoo's simple_spread_v3 with the continuous actions XuanCe's MADDPG learns."""
    from pettingzoo.mpe import simple_spread_v3

    return simple_spread_v3.parallel_env(continuous_actions=True, **kwargs)
