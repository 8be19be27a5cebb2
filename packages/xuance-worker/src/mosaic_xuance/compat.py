"""Workarounds, applied from outside, for XuanCe 1.4.4 beside the torch it is pinned with.

Each one is scoped to the code that needs it and names the upstream code it
works around; XuanCe itself is never edited.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["building"]


@contextlib.contextmanager
def _huber_delta_none() -> Iterator[None]:
    """XuanCe's COMA_Learner sets ``huber_delta = None`` (it never uses the Huber loss) and its
    IAC_Learner base still builds ``nn.HuberLoss(delta=None)``, which torch 2.13 rejects.
    While a COMA agent is built, a ``None`` delta means torch's default."""
    import torch

    original = torch.nn.HuberLoss.__init__

    def init(self: Any, reduction: str = "mean", delta: float | None = 1.0) -> None:
        original(self, reduction=reduction, delta=1.0 if delta is None else delta)

    torch.nn.HuberLoss.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.nn.HuberLoss.__init__ = original  # type: ignore[method-assign]


def building(agent: str) -> contextlib.AbstractContextManager[None]:
    """The workarounds XuanCe's ``agent`` (``"COMA"``, ``"MAPPO"`` ...) needs while it is built."""
    if agent == "COMA":
        return _huber_delta_none()
    return contextlib.nullcontext()
