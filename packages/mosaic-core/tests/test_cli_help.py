"""Every option of every ``mosaic`` command says what it does."""

from __future__ import annotations

import argparse

from mosaic_core.cli.app import COMMAND_MODULES, COMMAND_OWNERS, build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: str = "mosaic"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_every_option_and_argument_has_help_text() -> None:
    missing = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_each_command_is_owned_by_the_module_that_registers_it() -> None:
    """``mosaic COMMAND`` imports COMMAND_OWNERS[COMMAND] alone: the map must be exact."""
    every = _commands(build_parser())
    assert set(COMMAND_OWNERS) == every
    for module in COMMAND_MODULES:
        owned = {c for c, m in COMMAND_OWNERS.items() if m == module}
        for command in owned:
            assert _commands(build_parser(command)) == owned, (command, module)


def test_a_command_parses_alike_with_its_module_alone() -> None:
    words = ["run", "toy", "--set", "total_steps=3", "--seeds", "1,2", "--json"]
    alone = vars(build_parser("run").parse_args(words))
    full = vars(build_parser().parse_args(words))
    assert {k: v for k, v in alone.items() if k != "parser"} == {
        k: v for k, v in full.items() if k != "parser"
    }
    assert alone["command"] == "run" and alone["json"] is True
