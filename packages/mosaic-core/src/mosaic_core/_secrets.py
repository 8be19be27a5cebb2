"""Secrets in configs: which keys are secret, taking them out, and putting them back.

A run's ``config.json`` never holds a secret: :func:`redact` replaces each
with ``"***"`` and returns the values, which the supervisor passes to the
worker in its environment (``MOSAIC_CONFIG_SECRETS``), where
:func:`apply_secrets` puts them back before the config is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

__all__ = ["REDACTED", "apply_secrets", "looks_secret", "redact"]

_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:api[_\-]?key|key|token|secret|password|passwd|credentials?)$", re.I
)


def looks_secret(name: str) -> bool:
    """Is a key named like a secret? Its last word is key, api_key, token, secret,
    password or credential(s) (``wandb_api_key``, ``access_token``); ``max_tokens`` and
    ``api_key_env`` (the *name* of a variable) are not."""
    return bool(_SECRET_NAME.search(name))


REDACTED = "***"


def redact(
    config: Mapping[str, Any], secret_keys: Collection[str] = ()
) -> tuple[dict[str, Any], list[list[Any]]]:
    """``(redacted copy, [[path, value], ...])`` for every secret in ``config``.

    A secret is a key named like one (:func:`~mosaic_core._config.looks_secret`),
    or a top-level key in ``secret_keys`` (the fields a config class marks
    ``Secret``), at any depth, inside objects and lists alike. ``path`` is the
    list of keys and list indices that leads to it.
    """
    secrets: list[list[Any]] = []
    top = set(secret_keys)

    def walk(value: Any, path: list[Any]) -> Any:
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                secret = isinstance(key, str) and (looks_secret(key) or (not path and key in top))
                if secret and item not in (None, ""):
                    secrets.append([[*path, key], item])
                    out[key] = REDACTED
                else:
                    out[key] = walk(item, [*path, key])
            return out
        if isinstance(value, list):
            return [walk(item, [*path, index]) for index, item in enumerate(value)]
        return value

    return walk(config, []), secrets


def apply_secrets(document: dict[str, Any], secrets: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Put secret values back into a config document (inside the worker process)."""
    for path, value in secrets:
        target: Any = document
        for key in path[:-1]:
            target = target[key] if isinstance(target, list) else target.setdefault(key, {})
        target[path[-1]] = value
    return document
