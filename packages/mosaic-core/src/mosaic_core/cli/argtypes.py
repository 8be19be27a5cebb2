"""Argument types shared by the command groups (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["whole_number"]


def whole_number(least: int) -> Callable[[str], int]:
    """A parser of whole numbers >= ``least``: anything else is argparse's usage error
    (exit 2) naming what was given and what was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {text!r}")
        return value

    return parse
