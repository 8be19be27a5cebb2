"""The rewrites of a worker's Python modules, as LibCST transformers.

Each transformer does one thing the original guides' code needs, and
records in ``notes`` what it could not do. :func:`rewrite_module` runs the
ones a module needs and adds or drops the imports that follow.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

__all__ = ["SDK_NAMES", "ModuleEdit", "rewrite_module"]

#: The names of ``gym_gui.core.worker`` that ``mosaic_core`` exports under the same name.
SDK_NAMES = frozenset(
    {
        "ArtifactsMetadata",
        "CheckpointMetadata",
        "ConfigError",
        "TelemetryEmitter",
        "TensorBoardMetadata",
        "WandBMetadata",
        "WorkerAnalyticsManifest",
        "WorkerCapabilities",
        "WorkerConfig",
        "WorkerMetadata",
        "WorkerRuntime",
        "load_worker_config",
    }
)

_GENERATED = ("to_dict", "from_dict", "to_json", "from_json")
#: Modules whose unused imports may go: the guides' code imported them for what is removed.
_PLAIN_MODULES = ("json", "pathlib", "dataclasses", "typing", "mosaic_core")
_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
_RUN_DIR = 'Path(os.environ.get("MOSAIC_RUN_DIR") or Path.cwd()) / "analytics.json"'


class ModuleEdit:
    """What to do to one module, and what was done."""

    def __init__(self, name: str, *, config_class: str | None = None, base: str = "") -> None:
        self.name = name
        self.config_class = config_class
        self.base = base
        #: Names a sibling module defines, to import where they are used but never bound.
        self.siblings: dict[str, str] = {}
        #: Turn ``supports_checkpointing=True`` off: nothing in the package records one.
        self.no_checkpoints = False
        self.notes: list[str] = []


def _dotted(node: cst.BaseExpression | None) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _is_gym_gui(node: cst.ImportFrom) -> bool:
    return not node.relative and _dotted(node.module).split(".")[0] == "gym_gui"


def _block(suite: cst.BaseSuite) -> list[cst.BaseStatement]:
    """The statements of an indented block (a one-line suite has none to keep apart)."""
    return [s for s in suite.body if isinstance(s, cst.BaseStatement)]


def _small(statement: cst.CSTNode) -> list[cst.BaseSmallStatement]:
    return list(statement.body) if isinstance(statement, cst.SimpleStatementLine) else []


class _GymGui(cst.CSTTransformer):
    """``gym_gui`` imports to ``mosaic_core``; their ``try``/``except ImportError``
    fallbacks unwrapped; ``if _HAS_GYM_GUI:`` branches kept, their ``else`` dropped."""

    def __init__(self, edit: ModuleEdit, flags: set[str]) -> None:
        self.edit, self.flags = edit, flags

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if not _is_gym_gui(original):
            return updated
        if isinstance(updated.names, cst.ImportStar):
            self.edit.notes.append(
                f"{self.edit.name}: `from {_dotted(original.module)} import *` left as it is; "
                "name what it uses from mosaic_core"
            )
            return updated
        missing = [_dotted(a.name) for a in updated.names if _dotted(a.name) not in SDK_NAMES]
        if missing:
            self.edit.notes.append(
                f"{self.edit.name}: {_dotted(original.module)} has no mosaic_core counterpart for "
                f"{', '.join(missing)}; that import is left as it is"
            )
            return updated
        return updated.with_changes(module=cst.Name("mosaic_core"))

    def leave_Try(
        self, original: cst.Try, updated: cst.Try
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        if not _guards_gym_gui(original):
            return updated
        body = _block(updated.body)
        asserts = [s for st in body for s in _small(st) if isinstance(s, cst.Assert)]
        if asserts and all(
            isinstance(s, (cst.ImportFrom, cst.Assert)) for st in body for s in _small(st)
        ):
            # The guide's "protocol compliance check": the base class implements the protocol.
            return cst.RemoveFromParent()
        kept = [st for st in body if not _sets_flag(st, self.flags, True)]
        return cst.FlattenSentinel(kept) if kept else cst.RemoveFromParent()

    def leave_If(
        self, original: cst.If, updated: cst.If
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        flag, negated = _flag_test(updated.test, self.flags)
        if flag is None or isinstance(updated.orelse, cst.If):
            return updated
        if not negated:
            return cst.FlattenSentinel(_block(updated.body))
        if isinstance(updated.orelse, cst.Else):
            return cst.FlattenSentinel(_block(updated.orelse.body))
        return cst.RemoveFromParent()

    def leave_IfExp(self, original: cst.IfExp, updated: cst.IfExp) -> cst.BaseExpression:
        flag, negated = _flag_test(updated.test, self.flags)
        if flag is None:
            return updated
        return updated.orelse if negated else updated.body


def _guards_gym_gui(node: cst.Try) -> bool:
    imports = [
        s
        for st in node.body.body
        for s in _small(st)
        if isinstance(s, cst.ImportFrom) and _is_gym_gui(s)
    ]
    catches = [_dotted(h.type) for h in node.handlers]
    return bool(imports) and bool(catches) and all(c in _IMPORT_ERRORS for c in catches)


def _sets_flag(statement: cst.CSTNode, flags: Iterable[str], value: bool) -> bool:
    for small in _small(statement):
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and small.targets[0].target.value in flags
            and m.matches(small.value, m.Name(str(value)))
        ):
            return True
    return False


def _flag_test(test: cst.BaseExpression, flags: set[str]) -> tuple[str | None, bool]:
    if isinstance(test, cst.Name) and test.value in flags:
        return test.value, False
    if (
        isinstance(test, cst.UnaryOperation)
        and isinstance(test.operator, cst.Not)
        and isinstance(test.expression, cst.Name)
        and test.expression.value in flags
    ):
        return test.expression.value, True
    return None, False


class _Flags(cst.CSTVisitor):
    """The availability flags of gym_gui fallbacks: True in the ``try``, False in the
    ``except``; and whether each is used anywhere but an ``if`` test."""

    def __init__(self) -> None:
        self.flags: set[str] = set()

    def visit_Try(self, node: cst.Try) -> None:
        if not _guards_gym_gui(node):
            return
        for statement in node.body.body:
            for small in _small(statement):
                if isinstance(small, cst.Assign) and m.matches(small.value, m.Name("True")):
                    target = small.targets[0].target
                    if isinstance(target, cst.Name):
                        self.flags.add(target.value)


class _Config(cst.CSTTransformer):
    """The config dataclass onto the SDK's base: frozen and keyword-only, no hand-written
    ``to_dict``/``from_dict``, its ``__post_init__`` checks as ``validate()``."""

    def __init__(self, edit: ModuleEdit) -> None:
        self.edit = edit
        self.inside = False
        self.removed: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.inside = node.name.value == self.edit.config_class and not _on_base(node)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        if original.name.value != self.edit.config_class or _on_base(original):
            return updated
        self.inside = False
        decorators = [_frozen_kw_only(d) for d in updated.decorators]
        bases = [cst.Arg(cst.Name(self.edit.base)), *updated.bases]
        body: list[cst.BaseStatement] = []
        for statement in _block(updated.body):
            if isinstance(statement, cst.FunctionDef):
                name = statement.name.value
                if name in _GENERATED:
                    self.removed.append(name)
                    continue
                if name == "__post_init__":
                    statement = statement.with_changes(name=cst.Name("validate"))
                    if not _does_something(statement):
                        continue
            elif _redundant_field(statement):
                continue
            body.append(statement)
        provides = f"{', '.join(self.removed)} and " if self.removed else ""
        self.edit.notes.append(
            f"{self.edit.name}: {self.edit.config_class} derives from {self.edit.base} now, "
            f"which provides {provides}the checks of every field (its from_dict refuses "
            "unknown keys, with a did-you-mean); it is frozen and keyword-only"
        )
        return updated.with_changes(
            decorators=decorators,
            bases=bases,
            lpar=cst.LeftParen(),
            rpar=cst.RightParen(),
            body=updated.body.with_changes(body=body),
        )

    def leave_Raise(self, original: cst.Raise, updated: cst.Raise) -> cst.Raise:
        exc = updated.exc
        if (
            self.inside
            and isinstance(exc, cst.Call)
            and _dotted(exc.func) == "ValueError"
            and len(exc.args) == 1
        ):
            return updated.with_changes(exc=exc.with_changes(func=cst.Name("ConfigError")))
        return updated

    def leave_If(self, original: cst.If, updated: cst.If) -> cst.If:
        """``if self.x < 1: raise ConfigError("...")`` names the field ``x``."""
        found = m.findall(updated.test, m.Attribute(value=m.Name("self")))
        fields = {n.attr.value for n in found if isinstance(n, cst.Attribute)}
        if not self.inside or len(fields) != 1:
            return updated
        (field,) = fields

        def name_field(node: cst.CSTNode, captured: object) -> cst.CSTNode:
            if (
                not isinstance(node, cst.Call)
                or _dotted(node.func) != "ConfigError"
                or any(a.keyword for a in node.args)
            ):
                return node
            keyword = cst.Arg(
                keyword=cst.Name("field"),
                value=cst.SimpleString(f'"{field}"'),
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
            return node.with_changes(args=[*node.args, keyword])

        body = m.replace(updated.body, m.Call(func=m.Name("ConfigError")), name_field)
        return updated.with_changes(body=body)


def _on_base(node: cst.ClassDef) -> bool:
    """Already migrated: the class derives from one of the SDK's config bases."""
    return any(_dotted(b.value) in ("WorkerConfigBase", "TrainingConfigBase") for b in node.bases)


def _frozen_kw_only(decorator: cst.Decorator) -> cst.Decorator:
    target = decorator.decorator
    func = target.func if isinstance(target, cst.Call) else target
    if _dotted(func).split(".")[-1] != "dataclass":
        return decorator
    true = cst.Name("True")
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    args = [
        cst.Arg(true, keyword=cst.Name("frozen"), equal=equal),
        cst.Arg(true, keyword=cst.Name("kw_only"), equal=equal),
    ]
    return decorator.with_changes(decorator=cst.Call(func=func, args=args))


def _does_something(function: cst.FunctionDef) -> bool:
    for statement in function.body.body:
        smalls = _small(statement)
        if smalls and all(
            isinstance(s, cst.Pass)
            or (isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
            for s in smalls
        ):
            continue
        return True
    return False


def _redundant_field(statement: cst.CSTNode) -> bool:
    """``run_id: str`` and ``seed: int | None = None``: the base declares them the same."""
    for small in _small(statement):
        if not isinstance(small, cst.AnnAssign) or not isinstance(small.target, cst.Name):
            return False
        code = cst.Module([]).code_for_node(small.annotation.annotation).replace(" ", "")
        if small.target.value == "run_id" and code == "str" and small.value is None:
            return True
        if (
            small.target.value == "seed"
            and code in ("int|None", "Optional[int]", "None|int")
            and small.value is not None
            and m.matches(small.value, m.Name("None"))
        ):
            return True
    return False


class _Loader(cst.CSTTransformer):
    """A hand-written ``load_worker_config(path)``: the SDK's loader, for the same class."""

    def __init__(self, edit: ModuleEdit) -> None:
        self.edit = edit
        self.done = False

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        params = updated.params.params
        if updated.name.value != "load_worker_config" or len(params) != 1:
            return updated
        first = updated.body.body[0] if updated.body.body else None
        docstring = (
            [first]
            if first is not None
            and m.matches(first, m.SimpleStatementLine([m.Expr(m.SimpleString())]))
            else []
        )
        call = cst.parse_statement(
            f"return _load_worker_config({params[0].name.value}, {self.edit.config_class})"
        )
        self.done = True
        return updated.with_changes(body=updated.body.with_changes(body=[*docstring, call]))


class _Manifest(cst.CSTTransformer):
    """The manifest goes to the run directory as ``analytics.json``, and its logs are the run
    directory's (MOSAIC keeps ``stdout.log`` and ``stderr.log`` there)."""

    def __init__(self) -> None:
        self.changed = False

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        strings = m.findall(updated.value, m.SimpleString() | m.FormattedStringText())
        texts = [getattr(s, "value", "").strip("'\"") for s in strings]
        if not any(t.endswith("analytics.json") for t in texts):
            return updated
        self.changed = True
        return updated.with_changes(value=cst.parse_expression(_RUN_DIR))

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        if (
            updated.keyword is not None
            and updated.keyword.value == "logs_dir"
            and isinstance(updated.value, cst.SimpleString)
            and updated.value.evaluated_value not in (".", "")
        ):
            self.changed = True
            return updated.with_changes(value=cst.SimpleString('"."'))
        return updated


class _Checkpointing(cst.CSTTransformer):
    """``supports_checkpointing=True`` off when nothing in the package records a checkpoint."""

    def __init__(self, edit: ModuleEdit) -> None:
        self.edit = edit

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        if (
            updated.keyword is not None
            and updated.keyword.value == "supports_checkpointing"
            and m.matches(updated.value, m.Name("True"))
        ):
            self.edit.notes.append(
                f"{self.edit.name}: supports_checkpointing=True became False, as nothing in the "
                "package records a checkpoint in the manifest; set it back once the runtime "
                "calls context.record_checkpoint(path, step=...) (the kit's `checkpoints` "
                "check holds it to that)"
            )
            return updated.with_changes(value=cst.Name("False"))
        return updated


def _unbound(module: cst.Module) -> set[str]:
    """Names the module reads at its top level or in its functions but never binds."""
    from libcst.metadata import MetadataWrapper, ScopeProvider

    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    scopes = {s for s in wrapper.resolve(ScopeProvider).values() if s is not None}
    names: set[str] = set()
    for scope in scopes:
        for access in scope.accesses:
            if not access.referents and isinstance(access.node, cst.Name):
                names.add(access.node.value)
    return names


def rewrite_module(source: str, edit: ModuleEdit, package: str) -> str:
    """``source`` rewritten as ``edit`` says; the same text when nothing applies."""
    module = cst.parse_module(source)
    context = CodemodContext()
    finder = _Flags()
    module.visit(finder)
    module = module.visit(_GymGui(edit, finder.flags))
    if edit.config_class:
        config = _Config(edit)
        module = module.visit(config)
        if edit.base in module.code:
            AddImportsVisitor.add_needed_import(context, "mosaic_core", edit.base)
        if "ConfigError" in module.code:
            AddImportsVisitor.add_needed_import(context, "mosaic_core", "ConfigError")
        loader = _Loader(edit)
        module = module.visit(loader)
        if loader.done:
            AddImportsVisitor.add_needed_import(
                context, "mosaic_core", "load_worker_config", "_load_worker_config"
            )
    manifest = _Manifest()
    module = module.visit(manifest)
    if manifest.changed:
        AddImportsVisitor.add_needed_import(context, "os")
        AddImportsVisitor.add_needed_import(context, "pathlib", "Path")
    if edit.no_checkpoints:
        module = module.visit(_Checkpointing(edit))
    for name in sorted(_unbound(module) & set(edit.siblings)):
        sibling = edit.siblings[name]
        AddImportsVisitor.add_needed_import(context, f"{package}.{sibling}", name)
        edit.notes.append(
            f"{edit.name}: used {name} without importing it; imported it from {package}.{sibling}"
        )
    module = AddImportsVisitor(context).transform_module(module)
    # Imports the removed code used, now unused; never one that may have side effects.
    for statement in module.body:
        for small in _small(statement):
            if isinstance(small, cst.ImportFrom) and not small.relative:
                top = _dotted(small.module).split(".")[0]
            elif isinstance(small, cst.Import):
                top = _dotted(small.names[0].name).split(".")[0]
            else:
                continue
            if top in _PLAIN_MODULES:
                RemoveImportsVisitor.remove_unused_import_by_node(context, small)
    if source != module.code:
        module = RemoveImportsVisitor(context).transform_module(module)
    return module.code
