"""``python -m mosaic_core.operator_main``: any operator spec, on any environment, served.

::

    python -m mosaic_core.operator_main --interactive --env CartPole-v1 --operator random
    python -m mosaic_core.operator_main --interactive --env CartPole-v1 --operator cleanrl:01J...
    python -m mosaic_core.operator_main --interactive \\
        --env pettingzoo.classic.rps_v2:parallel_env \\
        --operator player_0=random --operator player_1=human

The same session loop and server as a worker's own ``serve_main``; here the
operators are named by spec (:mod:`mosaic_core.operators.specs`), so runs of
the store, the built-in operators and LLM endpoints all serve the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from mosaic_core._operator import Operator, OperatorContext
from mosaic_core._serve import build_session, guard, parser, run_session, session_run_id

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mosaic_core.operator_main``: any operator spec, any environment."""
    prog = "mosaic-operator"
    args = parser(prog, worker=False).parse_args(argv)

    def start() -> int:
        from mosaic_core.operators.specs import build_operator, parse_operator_spec

        def build(text: str, context: OperatorContext) -> Operator:
            return build_operator(parse_operator_spec(text), context)

        return run_session(
            build_session(args, args.operator, build, run_id=session_run_id(args)), args
        )

    return guard(prog, start)
