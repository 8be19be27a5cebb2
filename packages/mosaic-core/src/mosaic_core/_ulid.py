"""ULIDs: 26-character, lexicographically time-ordered run ids (Crockford base32)."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_run_id", "new_ulid", "ulid_time"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
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
