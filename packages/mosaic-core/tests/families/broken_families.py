"""Family plugins that fail, each in its own way; imported by name from the tests."""

from __future__ import annotations

import types

from mosaic_core import EnvFamily, hookimpl


def _module(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def _wrong_type(register):  # type: ignore[no-untyped-def]
    register({"name": "not a family"})


def _nothing(register):  # type: ignore[no-untyped-def]
    return None


def _bad_declaration(register):  # type: ignore[no-untyped-def]
    register(EnvFamily(name="Bad Name", display_name="x", requirement="x"))


def _twin(register):  # type: ignore[no-untyped-def]
    register(EnvFamily(name="fixture", display_name="twin", requirement="x"))


WRONG_TYPE = _module("wrong_type", mosaic_register_env_families=hookimpl(_wrong_type))
REGISTERS_NOTHING = _module("registers_nothing", mosaic_register_env_families=hookimpl(_nothing))
BAD_DECLARATION = _module(
    "bad_declaration", mosaic_register_env_families=hookimpl(_bad_declaration)
)
NO_HOOK = _module("no_hook", something_else=lambda: None)
TWIN = _module("twin", mosaic_register_env_families=hookimpl(_twin))


def _chatty(register):  # type: ignore[no-untyped-def]
    print("loading chatty families ...")
    register(EnvFamily(name="chatty", display_name="Chatty", requirement="x"))


CHATTY = _module("chatty", mosaic_register_env_families=hookimpl(_chatty))
