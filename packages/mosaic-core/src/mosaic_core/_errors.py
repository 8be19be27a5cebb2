"""The exceptions MOSAIC raises, one class per kind of mistake.

Every message says what was wrong, the offending value, what was expected
and, where there is one, the fix. Catch :class:`MosaicError` to handle them
all; each subclass also derives from the builtin a caller would naturally
catch (``ValueError`` for bad values, ``ImportError``-free for plugins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ConfigError",
    "ManifestError",
    "MosaicError",
    "PluginError",
    "ProtocolError",
    "RunCancelled",
    "did_you_mean",
]


class MosaicError(Exception):
    """Base class of every error MOSAIC raises on purpose."""


class ConfigError(MosaicError, ValueError):
    """A worker config is malformed: bad JSON, a wrong type, a bad value, an unknown key.

    ``field`` names the offending key (dotted for nested values), ``value`` is
    what was given and ``expected`` says what would have been accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        expected: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        self.hint = hint
        self._shown: str | None = None  # how bad_value showed the value, for redacted()
        super().__init__(message)

    @classmethod
    def bad_value(
        cls, field: str, value: Any, expected: str, hint: str | None = None
    ) -> ConfigError:
        """The usual shape: ``config field 'lr': got -1 (int); expected a number > 0``.

        The value of a field named like a secret (``api_key``, ``a.token``) is
        shown as ``***``: an error message must not carry a secret to a terminal
        or a log.
        """
        from mosaic_core._secrets import looks_secret

        shown = "***" if looks_secret(_last_name(field)) else _show(value)
        message = f"config field {field!r}: got {shown}; expected {expected}"
        if hint:
            message += f" ({hint})"
        error = cls(message, field=field, value=value, expected=expected, hint=hint)
        error._shown = shown
        return error

    def redacted(self) -> ConfigError:
        """The same error without the value: for a field that holds a secret."""
        if self._shown is not None:
            message = str(self).replace(f"got {self._shown}", "got ***", 1)
        else:
            from mosaic_core._secrets import Scrubber

            message = Scrubber([self.value]).text(str(self))
        error = type(self)(
            message, field=self.field, value="***", expected=self.expected, hint=self.hint
        )
        error._shown = "***"
        return error

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, used in ``run_failed`` payloads and ``--json`` output."""
        return {
            "error": str(self),
            "error_type": type(self).__name__,
            "field": self.field,
            "expected": self.expected,
        }


class PluginError(MosaicError):
    """A worker plugin could not be loaded or registered something invalid."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class ManifestError(MosaicError, ValueError):
    """An ``analytics.json`` manifest is missing, malformed or points outside its run."""


class ProtocolError(MosaicError):
    """A party broke a MOSAIC wire protocol: telemetry envelope or operator step protocol.

    Also raised for lifecycle misuse, such as a second terminal event.
    """


class RunCancelled(BaseException):
    """Raised inside a worker when its run is cancelled (SIGTERM from the supervisor).

    Like ``KeyboardInterrupt`` it derives from ``BaseException``, so a
    library's ``except Exception`` cannot swallow a cancellation.
    """


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    import difflib  # here: every process imports this module, few make a suggestion

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _show(value: Any) -> str:
    """A short repr with the type, so ``'5'`` and ``5`` cannot be confused."""
    return f"{short_repr(value)} ({type(value).__name__})"


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises, however deep or long
    the value (a hostile input must not turn an error message into a crash)."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        value = value[: limit + 1]  # repr of a 50,000-character id costs nothing then
    try:
        text = repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _last_name(field: str) -> str:
    """``endpoints[0].token`` -> ``token``: the key a value sits under."""
    parts = [p for p in re.split(r"[.\[\]]", field) if p and not p.isdigit()]
    return parts[-1] if parts else field
