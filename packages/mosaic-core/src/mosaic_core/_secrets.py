"""Secrets in configs: which keys are secret, taking them out, and putting them back.

A run's ``config.json`` never holds a secret: :func:`redact` replaces each
with ``"***"`` and returns the values, which the supervisor passes to the
worker in its environment (``MOSAIC_CONFIG_SECRETS``), where
:func:`apply_secrets` puts them back before the config is loaded. What
MOSAIC records beyond the config (telemetry, logs, the index, error
messages) goes through a :class:`Scrubber` that knows the run's secret
values and replaces each by ``"***"`` wherever it appears.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["REDACTED", "Scrubber", "apply_secrets", "looks_secret", "redact"]

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


#: A secret shorter than this is not looked for in free text: replacing every
#: "1" or "ab" of a log would destroy it and hide nothing.
MIN_SCRUB_LENGTH = 4


class Scrubber:
    """Replaces known secret values by ``"***"`` in text and in JSON-like values.

    ``values`` are secret values as a config holds them (strings, numbers, or
    objects and lists of them). Each string form of at least
    :data:`MIN_SCRUB_LENGTH` characters is looked for as it is, as ``repr``
    shows it and as JSON escapes it, so an error message quoting a secret is
    caught too. An empty scrubber is falsy and costs nothing.
    """

    def __init__(self, values: Iterable[Any] = ()) -> None:
        #: The secret values given.
        self.values = list(values)
        forms: set[str] = set()
        for value in _leaves(self.values):
            text = value if isinstance(value, str) else json.dumps(value)
            for form in (text, repr(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]):
                if len(form) >= MIN_SCRUB_LENGTH and form != REDACTED:
                    forms.add(form)
        # Longest first, so a secret that contains another is replaced whole.
        self._forms = sorted(forms, key=len, reverse=True)

    @classmethod
    def from_pairs(cls, secrets: Iterable[Sequence[Any]]) -> Scrubber:
        """From :func:`redact`'s ``[[path, value], ...]``."""
        return cls(value for _path, value in secrets)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def hits(self, text: str) -> bool:
        return any(form in text for form in self._forms)

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys too) scrubbed."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                self.text(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


def _leaves(values: list[Any]) -> Iterable[Any]:
    """The scalars inside ``values``, depth-first, without recursion."""
    stack = values[::-1]
    seen = 0
    while stack and seen < 100_000:
        seen += 1
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(list(item.values())[::-1])
        elif isinstance(item, (list, tuple)):
            stack.extend(list(item)[::-1])
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            yield item
