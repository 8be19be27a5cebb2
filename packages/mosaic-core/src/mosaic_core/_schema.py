"""A worker config described for people and programs: field docs, JSON Schema, a help table.

A field's description is, in order: ``dataclasses.field(metadata={"doc": ...})``,
an ``annotated_types.doc(...)`` in its ``Annotated`` metadata, the string
literal right under the field (as CleanRL writes its ``Args``), or a ``#:``
comment right above it. The schema is JSON Schema draft 2020-12; front ends
build their forms from it.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import pathlib
import textwrap
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from mosaic_core._fields import Secret, constraints_of, hints, plain
from mosaic_core._secrets import looks_secret

__all__ = ["DRAFT", "FieldInfo", "config_schema", "field_docs", "field_infos"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One config field as ``mosaic config`` shows it."""

    name: str
    type: str
    default: Any
    required: bool
    doc: str
    secret: bool
    schema: dict[str, Any]


# -- docs -------------------------------------------------------------------------------

_DOCS: dict[type, dict[str, str]] = {}


def _source_docs(cls: type) -> dict[str, str]:
    """Docstrings under fields and ``#:`` comments above them, from ``cls``'s own source."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}  # made at run time, or its source is not shipped
    source = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
        return {}
    body = tree.body[0].body
    plain_lines = source.splitlines()
    docs: dict[str, str] = {}
    for index, node in enumerate(body):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        after = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[name] = _one_paragraph(after.value.value)
            continue
        comments: list[str] = []
        row = node.lineno - 2
        while row >= 0 and plain_lines[row].strip().startswith("#:"):
            comments.insert(0, plain_lines[row].strip()[2:].strip())
            row -= 1
        if comments:
            docs[name] = " ".join(comments)
    return docs


def _one_paragraph(text: str) -> str:
    """A docstring as help text: lines joined, paragraphs kept apart."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def field_docs(cls: type) -> dict[str, str]:
    """The description of every field of config class ``cls`` that has one."""
    cached = _DOCS.get(cls)
    if cached is not None:
        return cached
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(_source_docs(klass))
    annotations = hints(cls)
    for f in dataclasses.fields(cls):
        for marker in _annotated(annotations.get(f.name)):
            text = getattr(marker, "documentation", None)
            if isinstance(text, str):
                docs[f.name] = text
        given = f.metadata.get("doc")
        if isinstance(given, str):
            docs[f.name] = given
    _DOCS[cls] = docs
    return docs


def _annotated(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) is typing.Annotated:
        return tuple(tp.__metadata__)
    return ()


# -- schema -----------------------------------------------------------------------------

_SIMPLE = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def type_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of one annotation."""
    if tp is Any or tp is object:
        return {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        schema = type_schema(args[0])
        _add_constraints(schema, constraints_of(tp.__metadata__))
        if any(m is Secret for m in tp.__metadata__):
            schema["writeOnly"] = True
        return schema
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    if origin in (Union, types.UnionType):
        branches = [type_schema(a) for a in args]
        if all(set(b) == {"type"} and isinstance(b["type"], str) for b in branches):
            return {"type": [b["type"] for b in branches]}
        return {"anyOf": branches}
    if origin is Literal:
        choices: dict[str, Any] = {"enum": [plain(a) for a in args]}
        kinds = {_SIMPLE.get(type(a)) for a in args}
        if len(kinds) == 1 and None not in kinds:
            choices["type"] = kinds.pop()
        return choices
    if origin in (list, tuple) or tp in (list, tuple):
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return {
                "type": "array",
                "prefixItems": [type_schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        return {"type": "array", "items": type_schema(args[0]) if args else {}}
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return {"type": "object", "additionalProperties": type_schema(args[1]) if args else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if isinstance(tp, type) and issubclass(tp, pathlib.PurePath):
        return {"type": "string"}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _object_schema(tp)
    return {}


def _add_constraints(schema: dict[str, Any], found: Mapping[str, Any]) -> None:
    names = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum",
             "multiple_of": "multipleOf"}  # fmt: skip
    for key, keyword in names.items():
        if key in found:
            schema[keyword] = plain(found[key])
    array = schema.get("type") == "array"
    if "min_length" in found:
        schema["minItems" if array else "minLength"] = found["min_length"]
    if "max_length" in found:
        schema["maxItems" if array else "maxLength"] = found["max_length"]


def _is_secret(name: str, schema: Mapping[str, Any]) -> bool:
    if schema.get("writeOnly"):
        return True
    return looks_secret(name)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return plain(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return plain(f.default_factory())
    return dataclasses.MISSING


def _object_schema(cls: type) -> dict[str, Any]:
    annotations, docs = hints(cls), field_docs(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        schema = type_schema(annotations.get(f.name, Any))
        if docs.get(f.name):
            schema["description"] = docs[f.name]
        default = _default(f)
        if _is_secret(f.name, schema):
            schema["writeOnly"] = True
        elif default is not dataclasses.MISSING:
            schema["default"] = default
        if f.name == "run_id":
            schema["pattern"] = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
        elif default is dataclasses.MISSING:
            required.append(f.name)
        properties[f.name] = schema
    out: dict[str, Any] = {"type": "object", "title": cls.__name__}
    doc = _class_doc(cls)
    if doc:
        out["description"] = doc
    out["properties"] = properties
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out


def _class_doc(cls: type) -> str | None:
    """The first paragraph of the class's own docstring (not a base's, not the signature
    that ``dataclass`` writes when there is none)."""
    doc = cls.__dict__.get("__doc__")
    if not doc or doc.startswith(f"{cls.__name__}("):
        return None
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")


def config_schema(cls: type, algorithm: str | None = None) -> dict[str, Any]:
    """The JSON Schema of config class ``cls``; see ``WorkerConfigBase.json_schema``."""
    variants: dict[str, type] = dict(getattr(cls, "_mosaic_variants", {}) or {})
    root = getattr(cls, "_mosaic_root", None) is cls
    if algorithm is not None:
        if not variants or algorithm not in variants:
            from mosaic_core._errors import ConfigError, did_you_mean

            known = ", ".join(variants) or "only the one config class"
            raise ConfigError(
                f"no algorithm {algorithm!r} in {cls.__name__}{did_you_mean(algorithm, variants)};"
                f" it has {known}",
                field="--algorithm",
                value=algorithm,
                expected=f"one of {', '.join(variants)}" if variants else "no --algorithm",
            )
        return {"$schema": DRAFT, **_variant_schema(variants[algorithm], algorithm, required=True)}
    if not (variants and root):
        return {"$schema": DRAFT, **_object_schema(cls)}
    default = next(
        (f.default for f in dataclasses.fields(cls) if f.name == "algorithm"),
        None,
    )
    out: dict[str, Any] = {"$schema": DRAFT, "title": cls.__name__}
    doc = _class_doc(cls)
    if doc:
        out["description"] = doc
    out["oneOf"] = [
        _variant_schema(variant, name, required=name != default)
        for name, variant in variants.items()
    ]
    return out


def _variant_schema(variant: type, name: str, *, required: bool) -> dict[str, Any]:
    schema = _object_schema(variant)
    schema["properties"]["algorithm"] = {
        **{k: v for k, v in schema["properties"].get("algorithm", {}).items() if k != "type"},
        "const": name,
    }
    if required:
        schema["required"] = sorted({*schema.get("required", []), "algorithm"})
    return schema


def field_infos(cls: type, algorithm: str | None = None) -> list[FieldInfo]:
    """Every field of ``cls`` (or of its algorithm ``algorithm``), for a help table."""
    schema = config_schema(cls, algorithm)
    if "oneOf" in schema:
        default = next(s for s in schema["oneOf"] if "algorithm" not in s.get("required", []))
        schema = default
    out = []
    for name, prop in schema["properties"].items():
        out.append(
            FieldInfo(
                name=name,
                type=type_text(prop),
                default=prop.get("default", dataclasses.MISSING),
                required=name in schema.get("required", []),
                doc=prop.get("description", ""),
                secret=bool(prop.get("writeOnly")),
                schema=prop,
            )
        )
    return out


def type_text(schema: Mapping[str, Any]) -> str:
    """A short reading of a property schema: ``integer >= 1``, ``'ppo' | 'dqn'``, ..."""
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(type_text(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "array" and "items" in schema:
        text = f"array of {type_text(schema['items'])}"
    signs = (("exclusiveMinimum", ">"), ("minimum", ">="), ("exclusiveMaximum", "<"),
             ("maximum", "<="))  # fmt: skip
    bounds = [f"{sign} {schema[key]}" for key, sign in signs if key in schema]
    if bounds:
        text += " " + ", ".join(bounds)
    return text
