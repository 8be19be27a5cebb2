"""PettingZoo's classic board games: players take turns (AEC), legal moves given by a mask.

Tic-tac-toe and connect four have keys (the digits of the board's cells or
columns); chess (4,672 move codes) and go (362 points) are played by
choosing among the legal moves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mosaic_core import EnvFamily, EnvTask, FamilySetting, KeyMap, hookimpl

__all__ = ["CLASSIC", "make", "mosaic_register_env_families"]

_ROWS, _COLS = ("top", "middle", "bottom"), ("left", "centre", "right")
#: PettingZoo numbers tic-tac-toe's cells column by column (0 1 2 down the left column);
#: the keys 1-9 read the board row by row, as a phone's keypad does.
TICTACTOE_KEYS = KeyMap(
    {str(1 + 3 * row + col): 3 * col + row for row in range(3) for col in range(3)},
    labels=tuple(f"{_ROWS[i % 3]} {_COLS[i // 3]}" for i in range(9)),
)
CONNECT_FOUR_KEYS = KeyMap(
    {str(col + 1): col for col in range(7)}, labels=tuple(f"column {c + 1}" for c in range(7))
)
_GAMES = (
    ("tictactoe_v3", ("player_1", "player_2"), TICTACTOE_KEYS, "tic-tac-toe on a 3x3 board"),
    ("connect_four_v3", ("player_0", "player_1"), CONNECT_FOUR_KEYS, "connect four in a row"),
    ("chess_v6", ("player_0", "player_1"), None, "chess (python-chess rules)"),
    ("go_v5", ("black_0", "white_0"), None, "go, with the board size and komi settings"),
)


def make(game: str, render_mode: str | None = None, board_size: int = 19, komi: float = 7.5) -> Any:
    """The AEC environment of ``game``; only go takes the settings."""
    module = importlib.import_module(f"pettingzoo.classic.{game}")
    options: dict[str, Any] = {"render_mode": render_mode}
    if game.startswith("go_"):
        options.update(board_size=board_size, komi=komi)
    return module.env(**options)


CLASSIC = EnvFamily(
    name="pettingzoo_classic",
    display_name="PettingZoo classic games",
    description="Board games for two: tic-tac-toe, connect four, chess and go, taking turns.",
    requirement="mosaic-envs[pettingzoo-classic]",
    modules=("pettingzoo", "pygame"),
    tasks=tuple(
        EnvTask(
            id=game,
            env="mosaic_envs.pettingzoo_classic:make",
            kwargs={"game": game},
            agents=agents,
            stepping="aec",
            key_map=keys,
            description=description,
            legal_actions=True,
            settings=None if game.startswith("go_") else (),
        )
        for game, agents, keys, description in _GAMES
    ),
    prefixes=tuple(game for game, *_ in _GAMES),
    settings=(
        FamilySetting(
            name="board_size",
            default=19,
            description="go: the board's side",
            choices=(9, 13, 19),
        ),
        FamilySetting(name="komi", default=7.5, description="go: points given to white"),
    ),
    homepage="https://pettingzoo.farama.org/environments/classic/",
)


@hookimpl
def mosaic_register_env_families(register: Callable[[EnvFamily], None]) -> None:
    register(CLASSIC)
