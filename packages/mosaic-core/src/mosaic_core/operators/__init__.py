"""Driving operators from outside: specs, built-in operators, clients, evaluation, frames.

The worker side of the operator protocol (the session loop, the step-protocol
server, environments behind one interface, the fastlane frame ring) runs
inside worker processes too, through ``serve_main``, so it lives in the SDK;
it is offered here under the names a front end or a tool needs.
"""

from __future__ import annotations

from mosaic_core._lazy import lazy_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mosaic_core._arena import Arena, make_arena
    from mosaic_core._family_registry import make_env
    from mosaic_core._fastlane import (
        FastlaneReader,
        FastlaneWriter,
        Frame,
        cleanup_stale,
        segment_name,
    )
    from mosaic_core._fastlane_gym import FastlaneWrapper
    from mosaic_core._operator import Operator, OperatorContext, call_operator_factory
    from mosaic_core._server import InteractiveServer
    from mosaic_core._session import Session, SessionError
    from mosaic_core.operators.builtin import BUILTIN, HumanOperator, RandomOperator
    from mosaic_core.operators.client import (
        OperatorClient,
        OperatorDied,
        OperatorRequestError,
        OperatorTimeout,
    )
    from mosaic_core.operators.eval import ContenderResult, EpisodeResult, evaluate, write_gif
    from mosaic_core.operators.specs import (
        OperatorSpec,
        build_operator,
        parse_operator_spec,
    )

_LAZY = {
    "Arena": "mosaic_core._arena",
    "BUILTIN": "mosaic_core.operators.builtin",
    "ContenderResult": "mosaic_core.operators.eval",
    "EpisodeResult": "mosaic_core.operators.eval",
    "FastlaneReader": "mosaic_core._fastlane",
    "FastlaneWrapper": "mosaic_core._fastlane_gym",
    "FastlaneWriter": "mosaic_core._fastlane",
    "Frame": "mosaic_core._fastlane",
    "HumanOperator": "mosaic_core.operators.builtin",
    "InteractiveServer": "mosaic_core._server",
    "Operator": "mosaic_core._operator",
    "OperatorClient": "mosaic_core.operators.client",
    "OperatorContext": "mosaic_core._operator",
    "OperatorDied": "mosaic_core.operators.client",
    "OperatorRequestError": "mosaic_core.operators.client",
    "OperatorSpec": "mosaic_core.operators.specs",
    "OperatorTimeout": "mosaic_core.operators.client",
    "RandomOperator": "mosaic_core.operators.builtin",
    "Session": "mosaic_core._session",
    "SessionError": "mosaic_core._session",
    "build_operator": "mosaic_core.operators.specs",
    "call_operator_factory": "mosaic_core._operator",
    "cleanup_stale": "mosaic_core._fastlane",
    "evaluate": "mosaic_core.operators.eval",
    "make_arena": "mosaic_core._arena",
    "make_env": "mosaic_core._family_registry",
    "parse_operator_spec": "mosaic_core.operators.specs",
    "segment_name": "mosaic_core._fastlane",
    "write_gif": "mosaic_core.operators.eval",
}

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __name__)

__all__ = [
    "BUILTIN",
    "Arena",
    "ContenderResult",
    "EpisodeResult",
    "FastlaneReader",
    "FastlaneWrapper",
    "FastlaneWriter",
    "Frame",
    "HumanOperator",
    "InteractiveServer",
    "Operator",
    "OperatorClient",
    "OperatorContext",
    "OperatorDied",
    "OperatorRequestError",
    "OperatorSpec",
    "OperatorTimeout",
    "RandomOperator",
    "Session",
    "SessionError",
    "build_operator",
    "call_operator_factory",
    "cleanup_stale",
    "evaluate",
    "make_arena",
    "make_env",
    "parse_operator_spec",
    "segment_name",
    "write_gif",
]
