"""Virtual environments for workers: their own Python and pins, recorded in the run store."""

from mosaic_core.venvs.build import (
    MIN_PYTHON,
    check_env_name,
    create_env,
    find_python,
    install_spec,
)

__all__ = ["MIN_PYTHON", "check_env_name", "create_env", "find_python", "install_spec"]
