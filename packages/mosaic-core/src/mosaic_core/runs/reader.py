"""Telemetry envelope v1: the reading side.

:class:`TelemetryReader` turns the bytes of a telemetry channel into
:class:`TelemetryEvent` objects, :class:`LogLine` objects for anything that
is not an envelope (a library's print, a JSON log line), and
:class:`Anomaly` records for what is wrong: invalid UTF-8, an overlong line,
a malformed envelope, an unknown event, a gap or a step back in ``seq``, a
second terminal event, a truncated last line. It never raises on input.

Parsing is most of the supervisor's work under a flood, so where orjson is
installed (mosaic-core's ``fast`` extra) it decodes the lines, and a line it
cannot take the way :func:`json.loads` would (a lone surrogate, ``NaN``, an
integer beyond 64 bits, which orjson turns into a float) goes to the
standard library, which decides: both paths give the same items.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NamedTuple

from mosaic_core._payload import from_orjson
from mosaic_core._telemetry import ENVELOPE_VERSION, EVENTS, TERMINAL_EVENTS

__all__ = [
    "Anomaly",
    "LogLine",
    "TelemetryEvent",
    "TelemetryReader",
    "read_events",
]

DEFAULT_MAX_LINE = 1 << 20  # 1 MiB
#: ``seq`` and ``step`` are indexed as SQLite integers (64 bits); ``seq + 1`` must fit too.
MAX_SEQ = 2**63 - 2
_INT64 = (-(2**63), 2**63 - 1)
# 19 digits in a row not after a "." may be an integer beyond 64 bits, which orjson would
# make a float (a fraction's digits are no such thing: 1/8101 has 20 after "0.000").
# Every digit becomes "9", "." stays, anything else becomes a space; then a plain search.
_DIGITS = bytes(0x39 if 0x30 <= i <= 0x39 else i if i == 0x2E else 0x20 for i in range(256))
_LONG_DIGITS = b" " + b"9" * 19


#: The fast decoder if one is installed (orjson), else None; tests set it to None too.
fast_loads: Callable[[bytes], Any] | None = from_orjson("loads")


class TelemetryEvent(NamedTuple):
    """One envelope, as parsed; ``raw`` is the exact line without its newline."""

    event: str
    run_id: str
    seq: int
    timestamp: float
    payload: dict[str, Any]
    raw: bytes
    v: int = ENVELOPE_VERSION

    @property
    def is_terminal(self) -> bool:
        return self.event in TERMINAL_EVENTS


class LogLine(NamedTuple):
    """A line on the channel that is not an envelope: kept as a log, never an error."""

    text: str
    raw: bytes


class Anomaly(NamedTuple):
    """Something wrong on the channel. ``kind`` is a stable word; ``detail`` says more.

    Kinds: ``invalid_utf8``, ``line_too_long``, ``bad_envelope``,
    ``unknown_event``, ``seq_gap``, ``seq_repeat``, ``run_id_mismatch``,
    ``event_after_terminal``, ``truncated_line``, ``out_of_range`` (a
    payload's ``step`` beyond 64 bits: the event is kept without it).
    """

    kind: str
    detail: str
    raw: bytes = b""


Item = TelemetryEvent | LogLine | Anomaly


class TelemetryReader:
    """Incremental parser for one run's telemetry channel.

    Feed it chunks as they arrive (``feed``) and call ``close`` at end of
    stream. ``expected_run_id``, if given, flags events of another run.
    ``max_line_bytes`` bounds memory: a longer line is dropped and reported.
    """

    def __init__(
        self, *, expected_run_id: str | None = None, max_line_bytes: int = DEFAULT_MAX_LINE
    ) -> None:
        self.expected_run_id = expected_run_id
        self.max_line_bytes = max_line_bytes
        self._partial = b""
        self._discarding = 0  # bytes of an overlong line dropped so far
        self._discard_head = b""
        #: ``seq`` the next event should carry.
        self.next_seq = 0
        #: ``(first_missing, last_missing)`` ranges of ``seq`` never seen.
        self.gaps: list[tuple[int, int]] = []
        #: The terminal event seen, if any.
        self.terminal: TelemetryEvent | None = None
        self.events_seen = 0

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete last line held back until its newline arrives."""
        return len(self._partial) + self._discarding

    def feed(self, data: bytes) -> list[Item]:
        """Parse a chunk; returns the items completed by it, in order."""
        out: list[Item] = []
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                self._discarding += len(data)
                self._keep_head(data)
                return out
            self._keep_head(data[:newline])
            self._end_discard(newline, out)
            data = data[newline + 1 :]
        if not data:
            return out
        whole = self._partial + data if self._partial else data
        lines = whole.split(b"\n")
        self._partial = lines.pop()
        if lines:
            self._lines(whole, lines, out)
        limit = self.max_line_bytes
        if len(self._partial) > limit:
            self._discarding = len(self._partial)
            self._discard_head = self._partial[:200]
            self._partial = b""
        return out

    def close(self) -> list[Item]:
        """End of stream: report a last line that never got its newline."""
        out: list[Item] = []
        if self._discarding:
            self._end_discard(0, out)
        if self._partial:
            line, self._partial = self._partial, b""
            out.append(
                Anomaly(
                    "truncated_line",
                    f"the stream ended inside a line of {len(line)} bytes",
                    line[:200],
                )
            )
        return out

    def _keep_head(self, data: bytes) -> None:
        # The first 200 bytes of a dropped line, however it was chunked.
        if len(self._discard_head) < 200:
            self._discard_head += data[: 200 - len(self._discard_head)]

    def _end_discard(self, tail: int, out: list[Item]) -> None:
        total = self._discarding + tail
        self._discarding = 0
        out.append(self._too_long(total, self._discard_head))

    def _too_long(self, size: int, line: bytes) -> Anomaly:
        return Anomaly(
            "line_too_long",
            f"dropped a line of {size} bytes; the limit is {self.max_line_bytes} bytes",
            line[:200],
        )

    def _lines(self, whole: bytes, lines: list[bytes], out: list[Item]) -> None:
        """The complete lines of a chunk (``whole``, from its first line on): a line that
        is no object's, or is too long, alone; the runs of lines between them decoded in
        one go (:meth:`_decoded`)."""
        limit = self.max_line_bytes
        # The fast decoder is safe for every line when no run of 19 digits is anywhere.
        fast = fast_loads is not None and _LONG_DIGITS not in whole.translate(_DIGITS)
        loads = fast_loads if fast and fast_loads is not None else _strict_loads
        objects = whole.count(b"\n{") + (whole[:1] == b"{") - (self._partial[:1] == b"{")
        odd: list[int] = []
        if objects != len(lines) or max(map(len, lines)) > limit:  # seldom: found one by one
            odd = [i for i, line in enumerate(lines) if line[:1] != b"{" or len(line) > limit]
        start = 0
        for end in [*odd, len(lines)]:
            if start < end:
                self._decoded(lines[start:end], loads, out)
            if end < len(lines):
                line = lines[end]
                if len(line) > limit:
                    out.append(self._too_long(len(line), line))
                else:
                    self._parse(line, out, _UNPARSED)  # the standard library says what it is
            start = end + 1

    def _decoded(self, lines: list[bytes], loads: Callable[[bytes], Any], out: list[Item]) -> None:
        """Lines of objects: decoded by one ``map`` up to a line ``loads`` refuses, which is
        read alone, and so on."""
        start = 0
        while start < len(lines):
            decoded: list[Any] = []
            try:
                decoded.extend(map(loads, itertools.islice(lines, start, None)))
            except (ValueError, RecursionError):
                pass  # decoded holds the lines before this one, which is read alone
            end = start + len(decoded)
            if decoded:
                self._take(lines[start:end], decoded, out)
            if end < len(lines):
                self._parse(lines[end], out, _UNPARSED)
            start = end + 1

    def _take(self, lines: list[bytes], decoded: list[Any], out: list[Item]) -> None:
        """Lines and what the decoder made of them, in order: the usual events a run at a
        time and, a half at a time, whatever stands out among them, one line at a time."""
        events = self._usual(lines, decoded)
        if events is not None:
            out += events
        elif len(lines) <= _ONE_BY_ONE:
            for line, obj in zip(lines, decoded, strict=True):
                self._parse(line, out, obj)
        else:
            half = len(lines) // 2
            self._take(lines[:half], decoded[:half], out)
            self._take(lines[half:], decoded[half:], out)

    def _usual(self, lines: list[bytes], decoded: list[Any]) -> list[TelemetryEvent] | None:
        """The events of these lines if every one is the usual event, checked together a
        field at a time: a known non-terminal event of this run with the next ``seq``, a
        finite float timestamp and a step (if any) within 64 bits. Else None, and the
        lines take the full path, which says what is wrong."""
        if self.terminal is not None:
            return None
        try:  # a missing field, or a line that is no object
            fields = [list(map(get, decoded)) for get in _FIELDS]
        except (KeyError, TypeError):
            return None
        versions, events, run_ids, seqs, stamps, payloads = fields
        first, expected = self.next_seq, self.expected_run_id
        try:
            if not set(events) <= _PLAIN_EVENTS:
                return None
        except TypeError:  # an event that is a list or an object
            return None
        if (
            set(map(type, versions)) != _INT
            or set(versions) != {ENVELOPE_VERSION}
            or set(map(type, run_ids)) != _STR
            or (expected is not None and set(run_ids) != {expected})
            or set(map(type, seqs)) != _INT
            or seqs != list(range(first, first + len(seqs)))
            or seqs[-1] > MAX_SEQ
            or set(map(type, stamps)) != _FLOAT
            or (total := sum(stamps)) - total != 0.0  # an inf or a nan among them
            or set(map(type, payloads)) != _DICT
        ):
            return None
        steps = [
            step for step in map(dict.get, payloads, itertools.repeat("step")) if type(step) is int
        ]
        if steps and not _INT64[0] <= min(steps) <= max(steps) <= _INT64[1]:
            return None
        self.next_seq = seqs[-1] + 1
        self.events_seen += len(seqs)
        return list(
            map(_new_event, itertools.repeat(TelemetryEvent),
                zip(events, run_ids, seqs, stamps, payloads, lines, versions, strict=True))
        )  # fmt: skip

    def _parse(self, line: bytes, out: list[Item], obj: Any) -> None:
        """One line; ``obj`` is what a decoder made of it (_UNPARSED: nothing yet)."""
        if obj is _UNPARSED:
            # Decode strictly first: json.loads(bytes) would let surrogates through.
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                out.append(Anomaly("invalid_utf8", "a line is not valid UTF-8", line[:200]))
                return
            if text[:1] != "{":
                out.append(LogLine(text, line))
                return
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                out.append(LogLine(text, line))
                return
        if type(obj) is not dict or "event" not in obj or "v" not in obj:
            out.append(LogLine(line.decode("utf-8"), line))
            return
        event = self._envelope(obj, line, out)
        if event is not None:
            self._account(event, out)

    def _envelope(self, obj: dict[str, Any], line: bytes, out: list[Item]) -> TelemetryEvent | None:
        v, event, run_id = obj.get("v"), obj.get("event"), obj.get("run_id")
        seq, ts, payload = obj.get("seq"), obj.get("timestamp"), obj.get("payload")
        problem = None
        if v != ENVELOPE_VERSION:
            problem = f"'v' is {v!r}; this reader understands version {ENVELOPE_VERSION}"
        elif not isinstance(event, str) or not _unicode(event):
            problem = f"'event' is {_short(event)}; expected a string of valid Unicode"
        elif not isinstance(run_id, str):
            problem = f"'run_id' is {_short(run_id)}; expected a string"
        elif type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            problem = f"'seq' is {_short(seq)}; expected an integer from 0 to 2**63-2"
        elif not _is_timestamp(ts):
            problem = f"'timestamp' is {_short(ts)}; expected Unix seconds"
        elif not isinstance(payload, dict):
            problem = f"'payload' is {type(payload).__name__}; expected an object"
        if problem is not None:
            out.append(Anomaly("bad_envelope", problem, line[:200]))
            return None
        assert isinstance(event, str) and isinstance(run_id, str) and isinstance(seq, int)
        assert isinstance(payload, dict) and isinstance(ts, (int, float))
        if event not in EVENTS:
            out.append(Anomaly("unknown_event", f"unknown event {event!r} (seq {seq})", line[:200]))
        step = payload.get("step")
        if type(step) is int and not _INT64[0] <= step <= _INT64[1]:
            del payload["step"]
            out.append(
                Anomaly(
                    "out_of_range",
                    f"{event} (seq {seq}) has step {_short(step)}, beyond 64 bits; "
                    "kept without its step",
                    line[:200],
                )
            )
        return TelemetryEvent(event, run_id, seq, float(ts), payload, line)

    def _account(self, event: TelemetryEvent, out: list[Item]) -> None:
        if self.expected_run_id is not None and event.run_id != self.expected_run_id:
            out.append(
                Anomaly(
                    "run_id_mismatch",
                    f"event for run {event.run_id!r} on the channel of {self.expected_run_id!r}",
                    event.raw[:200],
                )
            )
        if event.seq > self.next_seq:
            self.gaps.append((self.next_seq, event.seq - 1))
            out.append(
                Anomaly(
                    "seq_gap",
                    f"seq {self.next_seq}..{event.seq - 1} missing before {event.event}",
                )
            )
        elif event.seq < self.next_seq:
            out.append(
                Anomaly("seq_repeat", f"seq {event.seq} after {self.next_seq - 1}", event.raw[:200])
            )
        self.next_seq = max(self.next_seq, event.seq + 1)
        if self.terminal is not None:
            out.append(
                Anomaly(
                    "event_after_terminal",
                    f"{event.event} (seq {event.seq}) after {self.terminal.event}",
                    event.raw[:200],
                )
            )
        elif event.event in TERMINAL_EVENTS:
            self.terminal = event
        self.events_seen += 1
        out.append(event)


_UNPARSED = object()
_new_event = tuple.__new__  # past NamedTuple's __new__ and its defaults: the hot path
_FIELDS = tuple(
    operator.itemgetter(name) for name in ("v", "event", "run_id", "seq", "timestamp", "payload")
)
_PLAIN_EVENTS = frozenset(EVENTS) - frozenset(TERMINAL_EVENTS)
_INT, _STR, _FLOAT, _DICT = {int}, {str}, {float}, {dict}
#: Below this many lines, lines the usual check refused are not halved again but read alone.
_ONE_BY_ONE = 16


def _strict_loads(line: bytes) -> Any:
    # Decode strictly first: json.loads(bytes) would let surrogates through.
    return json.loads(line.decode("utf-8"))


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _short(value: Any) -> str:
    if type(value) is int and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply>"
    return text if len(text) <= 80 else text[:77] + "..."


def _unicode(text: str) -> bool:
    """Valid Unicode: no lone surrogate (JSON's ``"\\ud800"`` escape makes one)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_events(source: IO[bytes] | Iterable[bytes], **options: Any) -> Iterator[Item]:
    """Every item of a finished stream or file, in order, including the close anomalies."""
    reader = TelemetryReader(**options)
    if hasattr(source, "read"):
        chunks: Iterable[bytes] = iter(lambda: source.read(1 << 16), b"")
    else:
        chunks = source
    for chunk in chunks:
        yield from reader.feed(chunk)
    yield from reader.close()
