"""Loaded by the CleanRL script's interpreter because the worker puts this directory on
its PYTHONPATH. It installs the worker's observers (see mosaic_cleanrl.child_hooks),
then runs whatever sitecustomize this one hides."""

import importlib.util
import os
import sys

if os.environ.get("MOSAIC_CLEANRL_CHANNEL"):
    from mosaic_cleanrl import child_hooks

    child_hooks.install()


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.path[:]
    module = sys.modules.pop("sitecustomize", None)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        spec = importlib.util.find_spec("sitecustomize")
        if spec is not None and spec.loader is not None:
            other = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(other)
    finally:
        sys.path[:] = saved
        if module is not None:
            sys.modules["sitecustomize"] = module


_chain()
