"""Run ids: new ones, ULIDs (26-character, lexicographically time-ordered, Crockford
base32), and the check that one is safe as a directory name.

Here rather than with the configs: the run store checks every run id it is given,
and ``mosaic runs`` should not import the config machinery to do so.
"""

from __future__ import annotations

import _thread
import os
import re
import time

from mosaic_core._errors import ConfigError

TYPE_CHECKING = False  # not typing's: `mosaic runs` imports this module, typing 3 ms more
if TYPE_CHECKING:
    from typing import Any

__all__ = ["check_run_id", "new_run_id", "new_ulid", "ulid_time"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = _thread.allocate_lock()  # threading's Lock, without importing threading (mosaic runs)
_last_ms = -1
_last_rand = 0


def new_ulid() -> str:
    """A new ULID (a run id); ids made in the same millisecond by this process still sort
    in order."""
    global _last_ms, _last_rand
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms == _last_ms:
            _last_rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            _last_ms, _last_rand = ms, int.from_bytes(os.urandom(10), "big")
        value = (ms << 80) | _last_rand
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid_time(ulid: str) -> float:
    """The Unix time (seconds) encoded in a ULID."""
    value = 0
    for char in ulid[:10].upper():
        value = value * 32 + _ALPHABET.index(char)
    return value / 1000.0


#: The id of a new run (the host offers it as ``mosaic_core.runs.new_run_id``).
new_run_id = new_ulid


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def check_run_id(value: Any, field: str = "run_id") -> str:
    """Return ``value`` if it is safe as a directory name, else raise ConfigError."""
    if not isinstance(value, str) or not _RUN_ID.match(value) or ".." in value:
        raise ConfigError.bad_value(
            field,
            value,
            "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "with no path separator and no '..'",
        )
    return value
