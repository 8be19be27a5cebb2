"""The reader takes a run of usual events together, a field at a time, and reads whatever
stands out among them alone: what it gives is exactly what reading every line alone gives,
whatever the chunks, with either decoder."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaic_core.runs import TelemetryEvent, TelemetryReader
from mosaic_core.runs import reader as reader_module

pytestmark = pytest.mark.usefixtures("each_decoder")  # every test, with each decoder


def _line(seq: Any, event: str = "metrics", **fields: Any) -> bytes:
    obj = {"v": 1, "event": event, "run_id": "r", "seq": seq, "timestamp": 1.5 + seq / 8,
           "payload": {"step": seq * 10, "values": {"loss": 0.5, "return": seq}}}  # fmt: skip
    obj.update(fields)
    return json.dumps(obj, allow_nan=True).encode()


# Each kind of line: what it does to the seq it is given (the next usual one follows it).
KINDS: dict[str, Any] = {
    "usual": lambda s: (_line(s), 1),
    "heartbeat": lambda s: (_line(s, "heartbeat", payload={}), 1),
    "started": lambda s: (_line(s, "run_started", payload={"total_steps": 9}), 1),
    "gap": lambda s: (_line(s + 3), 4),
    "repeat": lambda s: (_line(max(s - 1, 0)), 0),
    "terminal": lambda s: (_line(s, "run_completed", payload={}), 1),
    "unknown event": lambda s: (_line(s, "mystery"), 1),
    "integer timestamp": lambda s: (_line(s, timestamp=17), 1),
    "nan timestamp": lambda s: (_line(s, timestamp=float("nan")), 0),
    "other run": lambda s: (_line(s, run_id="other"), 1),
    "step beyond 64 bits": lambda s: (_line(s, payload={"step": 2**64}), 1),
    "float step": lambda s: (_line(s, payload={"step": 2.5, "values": {}}), 1),
    "huge integer": lambda s: (_line(s, payload={"values": {"n": 2**70}}), 1),
    "version 2": lambda s: (_line(s, v=2), 0),
    "payload a list": lambda s: (_line(s, payload=[]), 0),
    "no seq": lambda s: (json.dumps({"v": 1, "event": "metrics"}).encode(), 0),
    "log line": lambda s: (b"loss went down", 0),
    "indented object": lambda s: (b" " + _line(s), 0),
    "array": lambda s: (b"[1, 2]", 0),
    "not utf-8": lambda s: (b'{"x": "\xff"}', 0),
    "broken json": lambda s: (_line(s)[:-3], 0),
    "too long": lambda s: (_line(s, payload={"pad": "x" * 600}), 0),
}


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Up to 150 lines, mostly usual events, the odd ones where they fall."""
    odd = sorted(KINDS)
    lines, seq = [], 0
    for _ in range(draw(st.integers(0, 150))):
        kind = "usual" if draw(st.integers(0, 9)) else draw(st.sampled_from(odd))
        line, moved = KINDS[kind](seq)
        lines.append(line)
        seq += moved
    return b"".join(line + b"\n" for line in lines)


def _read(stream: bytes, cuts: list[int]) -> tuple[list[Any], TelemetryReader]:
    reader = TelemetryReader(expected_run_id="r", max_line_bytes=500)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    bounds = zip([0, *points], [*points, len(stream)], strict=True)
    items = [item for a, b in bounds for item in reader.feed(stream[a:b])]
    return items + reader.close(), reader


def _each_alone(reader: TelemetryReader, whole: bytes, lines: list[bytes], out: list[Any]) -> None:
    """The reference: every line read alone, by the standard library and the full checks."""
    for line in lines:
        if len(line) > reader.max_line_bytes:
            out.append(reader._too_long(len(line), line))
        else:
            reader._parse(line, out, reader_module._UNPARSED)


def _state(reader: TelemetryReader) -> tuple[Any, ...]:
    return reader.gaps, reader.next_seq, reader.terminal, reader.events_seen


@settings(max_examples=150)
@given(stream=streams(), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_reading_runs_together_gives_what_reading_each_line_alone_gives(
    stream: bytes, cuts: list[int]
) -> None:
    together, reader = _read(stream, cuts)
    with mock.patch.object(TelemetryReader, "_lines", _each_alone):
        expected, reference = _read(stream, [])
    assert repr(together) == repr(expected)  # repr: NaN != NaN, and 1 == 1.0 == True
    assert _state(reader) == _state(reference)


def test_a_run_of_usual_events_with_odd_lines_among_them_loses_nothing() -> None:
    lines = [KINDS["usual"](seq)[0] for seq in range(100)]
    lines[40] = b"a print on the channel"
    lines[70] = _line(70, run_id="other")
    lines.append(_line(100, "run_completed", payload={}))
    reader = TelemetryReader(expected_run_id="r")
    items = reader.feed(b"".join(line + b"\n" for line in lines))
    events = [item for item in items if type(item) is TelemetryEvent]
    assert [e.seq for e in events] == [s for s in range(101) if s != 40]
    kinds = [type(item).__name__ for item in items[40:43]]
    assert kinds == ["LogLine", "Anomaly", "TelemetryEvent"]  # the print, then seq 40 missing
    assert [getattr(item, "kind", None) for item in items].count("run_id_mismatch") == 1
    assert reader.gaps == [(40, 40)] and reader.terminal == events[-1]
    assert reader.next_seq == 101 and reader.events_seen == 100
