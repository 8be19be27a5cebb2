"""CleanRL's scripts read as text: the flags each one's ``parse_args()`` declares.

CleanRL 1.2.0 declares every flag of a script with ``parser.add_argument(
"--learning-rate", type=float, default=2.5e-4, help="...")``. This module
finds the installed scripts without importing them (importing one imports
torch and gym) and reads those calls with :mod:`ast`: the flag, its type, its
default and its help. Only the standard library is used.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib.machinery
import os
import pathlib
import sys
from typing import Any

__all__ = [
    "Flag",
    "Script",
    "ScriptError",
    "cleanrl_version",
    "parse_script",
    "read_script",
    "script_path",
]


class ScriptError(Exception):
    """A CleanRL script is missing, or is not written the way CleanRL 1.2.0 writes them."""


@dataclasses.dataclass(frozen=True)
class Flag:
    """One ``add_argument`` call: ``--learning-rate`` is the field ``learning_rate``."""

    flag: str
    type: type
    default: Any
    help: str
    #: False when the default is an expression (``os.path.basename(__file__)...``),
    #: which the script computes itself: ``default`` is then None.
    literal_default: bool = True

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Script:
    """A script's flags in the order it declares them, and the gym library it imports."""

    module: str
    path: pathlib.Path
    gym: str
    flags: tuple[Flag, ...]


def _search_path() -> list[str]:
    """``sys.path`` as the script's interpreter has it, near enough: without this process's
    own first entry (its working directory, or its script's; the script's first is the
    run's directory) and without relative entries (the script reads them from the run's
    directory). A CleanRL checkout where the host runs is not what the run imports."""
    entries = list(sys.path)
    try:
        here = os.getcwd()
    except OSError:  # removed under us
        here = ""
    script = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    if entries and entries[0] in ("", here, script):
        entries = entries[1:]
    return [entry for entry in entries if os.path.isabs(entry)]


def _places() -> list[pathlib.Path]:
    """The directories of the ``cleanrl`` package (several for a namespace package, as
    CleanRL 1.2.0 is), as the import system finds them: nothing of CleanRL is executed."""
    spec = importlib.machinery.PathFinder.find_spec("cleanrl", _search_path())
    if spec is None or not spec.submodule_search_locations:
        return []
    return [pathlib.Path(place) for place in spec.submodule_search_locations]


def cleanrl_version() -> str | None:
    """The installed CleanRL's version: from the one ``cleanrl-<version>.dist-info`` beside
    the package (a listing, where ``importlib.metadata`` costs ~15 ms of each start), else
    from pip's record; None without one (its scripts on a path)."""
    found: set[str] = set()
    for place in _places():
        with contextlib.suppress(OSError):
            found.update(
                name[len("cleanrl-") : -len(".dist-info")]
                for name in os.listdir(place.parent)
                if name.startswith("cleanrl-") and name.endswith(".dist-info")
            )
    if len(found) == 1:
        return found.pop()
    from importlib import metadata

    try:
        return metadata.version("cleanrl")
    except metadata.PackageNotFoundError:
        return None


def script_path(script: str) -> pathlib.Path:
    """The file of ``cleanrl.<script>``: in the package as found on ``sys.path``, else where
    pip's record puts it; a ScriptError when CleanRL is not installed or has no such
    script."""
    for place in _places():
        path = place / f"{script}.py"
        if path.is_file():
            return path
    from importlib import metadata  # an editable install's own finder, or nothing found

    try:
        distribution = metadata.distribution("cleanrl")
    except metadata.PackageNotFoundError:
        raise ScriptError("CleanRL is not installed in this environment") from None
    path = pathlib.Path(str(distribution.locate_file(f"cleanrl/{script}.py")))
    if not path.is_file():
        raise ScriptError(
            f"the installed CleanRL {distribution.version} has no script cleanrl.{script} "
            f"(no {path})"
        )
    return path


def read_script(script: str) -> Script:
    """The flags of the installed ``cleanrl.<script>``; ScriptError when they cannot be read."""
    return parse_script(script_path(script), f"cleanrl.{script}")


def parse_script(path: pathlib.Path, module: str) -> Script:
    """The flags the script at ``path`` declares in its ``parse_args()``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise ScriptError(f"cannot read {path}: {exc}") from None
    function = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "parse_args"),
        None,
    )
    flags = [_flag(call, path) for call in _add_argument_calls(function)]
    if not flags:
        raise ScriptError(
            f"{path} has no parse_args() declaring its flags with parser.add_argument(...), "
            "as CleanRL 1.2.0's scripts do"
        )
    return Script(module, path, _gym_of(tree), tuple(flags))


def _add_argument_calls(function: ast.FunctionDef | None) -> list[ast.Call]:
    calls = []
    for statement in function.body if function is not None else ():
        call = statement.value if isinstance(statement, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "add_argument"
        ):
            calls.append(call)
    return calls


def _flag(call: ast.Call, path: pathlib.Path) -> Flag:
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    where = f"{path}:{call.lineno}"
    if not call.args or not isinstance(_literal(call.args[0]), str):
        raise ScriptError(f"{where}: add_argument without a flag name")
    flag = str(_literal(call.args[0]))
    kind = _type(keywords.get("type"), where)
    default, literal = None, True
    if "default" in keywords:
        try:
            default = _literal(keywords["default"])
        except ValueError:
            literal = False
    if default is not None and kind is not bool:
        default = kind(default)  # ``type=int, default=5e3`` is the integer 5000, as argparse has it
    help_text = _literal(keywords["help"]) if "help" in keywords else ""
    return Flag(flag, kind, default, str(help_text).strip(), literal)


def _literal(node: ast.expr) -> Any:
    """A constant, or ``int(1e6)``/``float(...)`` of one; ValueError for anything else."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("int", "float")
        and len(node.args) == 1
        and not node.keywords
    ):
        return {"int": int, "float": float}[node.func.id](_literal(node.args[0]))
    return ast.literal_eval(node)


def _type(node: ast.expr | None, where: str) -> type:
    if isinstance(node, ast.Name) and node.id in ("str", "int", "float"):
        return {"str": str, "int": int, "float": float}[node.id]
    if isinstance(node, ast.Lambda) and any(
        isinstance(n, ast.Name) and n.id == "strtobool" for n in ast.walk(node)
    ):
        return bool  # ``type=lambda x: bool(strtobool(x))``
    shown = ast.unparse(node) if node is not None else "none"
    raise ScriptError(f"{where}: a flag of type {shown}; expected str, int, float or strtobool")


def _gym_of(tree: ast.Module) -> str:
    """``gym`` or ``gymnasium``: the library the script imports as ``gym``."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name) == "gym":
                    return alias.name
    return "gymnasium"
