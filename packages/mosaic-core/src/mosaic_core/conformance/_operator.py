"""The operator protocol, for a worker that declares an ``operator_factory``."""

from __future__ import annotations

import importlib.util

from mosaic_core.conformance._kit import CheckSkipped, Conformance

__all__ = ["check_operator_protocol"]

#: Where mosaic-core's shared operator server lives, once it exists.
_SERVER_MODULES = ("mosaic_core.interactive", "mosaic_core.operators")


def check_operator_protocol(kit: Conformance) -> str:
    """reset/step/select_action/ping/stop over pipes, ids echoed, errors for bad commands."""
    if kit.spec.operator_factory is None:
        raise CheckSkipped("the worker declares no operator_factory")
    if not any(importlib.util.find_spec(name) for name in _SERVER_MODULES):
        raise CheckSkipped(
            "this mosaic-core has no operator server yet, so the operator protocol cannot be "
            "exercised; the check runs once mosaic-core ships one"
        )
    raise CheckSkipped("the operator protocol check is not wired to this mosaic-core's server")
